"""Forms of the portal: CSRF tokens, the submitted fields, and errors tied to their fields."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from pydantic import ValidationError

from runtime.rpc_client import RpcProblem
from runtime.settings import Settings
from services.gateway.portal.i18n import Lang, translate
from services.gateway.protection import csrf_token_for

# Anonymous forms (login, registration, email verification, password reset) have no session to
# derive a token from: a random token in a SameSite=Strict cookie, repeated in a hidden field.
FORM_COOKIE = "ibok_form"
CSRF_FIELD = "csrf_token"


def anonymous_token(request: Request[Any, Any, Any]) -> str:
    """This browser's anonymous form token (the one in its cookie, or a new one)."""
    current = request.cookies.get(FORM_COOKIE, "")
    return current if 30 <= len(current) <= 100 else secrets.token_urlsafe(32)


def anonymous_cookie(settings: Settings, token: str) -> Cookie:
    return Cookie(
        key=FORM_COOKIE,
        value=token,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )


def anonymous_form_is_genuine(request: Request[Any, Any, Any], submitted: str) -> bool:
    """Double submit: the hidden field must equal the cookie a foreign site cannot set or read."""
    cookie = request.cookies.get(FORM_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), submitted.encode())


def session_form_is_genuine(session_token: str, submitted: str) -> bool:
    """A logged-in form carries the session's CSRF token (the same one the API checks)."""
    return hmac.compare_digest(csrf_token_for(session_token).encode(), submitted.encode())


@dataclass
class FormState:
    """What was typed (to show it again) and what is wrong with it, per field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # Errors not about one field (a refused login): shown in the summary only.
    general: list[str] = field(default_factory=list)

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.general)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.errors.setdefault(name, message)


async def submitted_form(request: Request[Any, Any, Any], names: tuple[str, ...]) -> FormState:
    """The named fields of a urlencoded form, trimmed of surrounding spaces, each at most 4000 characters."""
    data = await request.form()
    values = {}
    for name in (*names, CSRF_FIELD):
        raw = data.get(name)
        values[name] = raw.strip()[:4000] if isinstance(raw, str) else ""
    return FormState(values=values)


_VALIDATION_MESSAGES = {
    "missing": "form.required",
    "string_too_short": "form.too_short",
    "string_too_long": "form.too_long",
    "string_pattern_mismatch": "form.pattern",
    "literal_error": "form.choice",
    "value_error": "form.invalid",
}


def add_validation_errors(
    form: FormState, exc: ValidationError, labels: dict[str, str], lang: Lang
) -> None:
    """A request model refused what was typed: one readable message per field, naming it."""
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        key = _VALIDATION_MESSAGES.get(error["type"], "form.invalid")
        label = translate(labels.get(name, name), lang)
        context = error.get("ctx") or {}
        form.add(
            name if name in labels else None,
            translate(
                key,
                lang,
                label=label,
                min=context.get("min_length", ""),
                max=context.get("max_length", ""),
            ),
        )


def add_problem(form: FormState, exc: RpcProblem, code_fields: dict[str, str], lang: Lang) -> None:
    """A service refused the request: its message, tied to the field it is about when we know it."""
    problem = exc.problem
    message = (problem.detail_en or problem.detail) if lang == "en" else problem.detail
    tied = False
    for name, text in problem.fields.items():
        if name in form.values:
            form.add(name, text)
            tied = True
    if not tied:
        form.add(code_fields.get(problem.code), message or problem.code)
