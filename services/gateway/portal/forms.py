"""Forms of the portal: CSRF tokens, the submitted fields, errors tied to their fields, and
submitting a form's command to a service."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from litestar import Request
from litestar.datastructures import Cookie
from pydantic import ValidationError

from contracts.base import Contract
from contracts.rpc import Operation
from runtime.rpc_client import RpcProblem
from runtime.settings import Settings
from services.gateway.portal.i18n import Lang, language_of, translate
from services.gateway.protection import csrf_token_for
from services.gateway.rpc import Rpc

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
    # Prefix of the fields' element ids, for a form repeated on one page (one per message).
    prefix: str = ""
    # The code of the service's refusal, when a service refused the form (set by add_problem).
    problem_code: str | None = None
    # The refusal's own fields (a login's second-factor challenge, for one).
    problem_fields: dict[str, str] = field(default_factory=dict)

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
    form: FormState, exc: ValidationError, labels: Mapping[str, str], lang: Lang
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


def add_problem(
    form: FormState, exc: RpcProblem, code_fields: Mapping[str, str], lang: Lang
) -> None:
    """A service refused the request: its message, tied to the field it is about when we know it."""
    problem = exc.problem
    form.problem_code = problem.code
    form.problem_fields = dict(problem.fields)
    message = (problem.detail_en or problem.detail) if lang == "en" else problem.detail
    tied = False
    for name in problem.fields:
        if name in form.values:
            # The field names what is wrong; the problem's detail says it in the reader's language.
            form.add(name, message or problem.code)
            tied = True
    if not tied:
        form.add(code_fields.get(problem.code), message or problem.code)


async def posted_form(
    request: Request[Any, Any, Any], names: tuple[str, ...], session_token: str | None
) -> FormState:
    """The submitted form, refused as expired unless its CSRF token is genuine: the session's
    (``session_token``, a logged-in form) or the anonymous cookie's (``None``)."""
    form = await submitted_form(request, names)
    submitted = form.value(CSRF_FIELD)
    if session_token is None:
        genuine = anonymous_form_is_genuine(request, submitted)
    else:
        genuine = session_form_is_genuine(session_token, submitted)
    if not genuine:
        form.add(None, translate("form.expired", language_of(request.cookies)))
    return form


Req = TypeVar("Req", bound=Contract)
Rep = TypeVar("Rep", bound=Contract)


async def submit_form(
    request: Request[Any, Any, Any],
    rpc: Rpc,
    form: FormState,
    operation: Operation[Req, Rep],
    build: Callable[[], Req],
    *,
    labels: Mapping[str, str] | None = None,
    problem_fields: Mapping[str, str] | None = None,
    not_found_is_page: bool = False,
) -> Rep | None:
    """The service's reply to the command ``build`` makes of a form, or None when the form is
    refused (its errors are then in ``form``, for the page to show again).

    Nothing is sent when the form already carries errors (an expired token, the page's own
    checks). The contract's refusal names the fields by their ``labels``; the service's refusal
    sits beside the field ``problem_fields`` maps its code to. ``not_found_is_page``: a 404 means
    the page's own object is gone (another customer's complaint), so the 404 page answers.
    """
    if form.invalid:
        return None
    lang = language_of(request.cookies)
    try:
        command = build()
    except ValidationError as exc:
        add_validation_errors(form, exc, labels or {}, lang)
        return None
    try:
        return await rpc.call(operation, command)
    except RpcProblem as exc:
        if not_found_is_page and exc.problem.status == 404:
            raise
        add_problem(form, exc, problem_fields or {}, lang)
        return None
