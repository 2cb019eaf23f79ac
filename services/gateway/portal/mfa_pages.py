"""Pages of the second factor: the login's code step (customers and staff, with a staff member's
first enrolment), and the customer's own authenticator app and recovery codes."""

from __future__ import annotations

import base64
import io
from typing import Any

import segno
from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from contracts import auth
from runtime.settings import Settings
from services.gateway.portal.forms import FormState, posted_form, submit_form
from services.gateway.portal.i18n import safe_next, translate
from services.gateway.portal.pages import client_address, customer, lang_of, redirect, render
from services.gateway.rpc import Rpc
from services.gateway.sessions import (
    SESSION_COOKIE,
    STAFF_SESSION_COOKIE,
    session_cookie,
    staff_session_cookie,
    usable_token,
)

# The password step's answers that lead to the code step instead of a session.
MFA_CODES = frozenset({"mfa_required", "mfa_enrolment_required"})
CODE_FIELDS = {"mfa_code_invalid": "code", "current_password_invalid": "password"}
STEP_FIELDS = ("challenge", "code", "next", "secret", "otpauth_uri")


def qr_data_uri(uri: str) -> str:
    """The otpauth URI as an SVG QR code in a data URI (an <img>, so no markup is inlined)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=2, dark="#000", light="#fff")
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def code_step_form(problem_fields: dict[str, str], target: str) -> FormState:
    """The code step's form: the challenge, and for an enrolment the new key, as hidden fields."""
    return FormState(
        values={
            "challenge": problem_fields.get("challenge", ""),
            "next": target,
            "secret": problem_fields.get("secret", ""),
            "otpauth_uri": problem_fields.get("otpauth_uri", ""),
        }
    )


def render_code_step(
    request: Request[Any, Any, Any],
    template: str,
    form: FormState,
    settings: Settings,
    *,
    status: int = 200,
) -> Template:
    uri = form.value("otpauth_uri")
    return render(
        request,
        template,
        title=translate("mfa.step.title", lang_of(request)),
        form=form,
        status=status,
        settings=settings,
        enrol=bool(uri),
        qr=qr_data_uri(uri) if uri.startswith("otpauth://") else None,
    )


async def code_step_submitted(request: Request[Any, Any, Any]) -> FormState:
    lang = lang_of(request)
    form = await posted_form(request, STEP_FIELDS, None)
    if not form.invalid and not form.value("code"):
        form.add("code", translate("mfa.code_missing", lang))
    return form


def complete_command(request: Request[Any, Any, Any], form: FormState) -> auth.CompleteMfa:
    return auth.CompleteMfa(
        challenge=form.value("challenge"),
        code=form.value("code")[:40],
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent", "")[:300],
    )


class MfaLoginPages(Controller):
    include_in_schema = False

    @post("/login/mfa", name="portal.login.mfa")
    async def customer_code(
        self, request: Request[Any, Any, Any], rpc: Rpc, settings: Settings
    ) -> Template | Redirect:
        form = await code_step_submitted(request)
        target = safe_next(form.value("next"))
        opened = await submit_form(
            request,
            rpc,
            form,
            auth.COMPLETE_MFA,
            lambda: complete_command(request, form),
            problem_fields=CODE_FIELDS,
        )
        if opened is not None:
            if old := usable_token(request.cookies.get(SESSION_COOKIE)):
                await rpc.call(auth.LOG_OUT, auth.SessionRef(token=old))
            return redirect(target, cookies=[session_cookie(settings, opened.token)])
        if form.problem_code == "mfa_challenge_invalid":
            return redirect(f"/login?next={target}", flash="flash.mfa_expired")
        form.values["code"] = ""
        return render_code_step(request, "login_mfa.html", form, settings, status=422)

    @post("/staff/login/mfa", name="staff.login.mfa")
    async def staff_code(
        self, request: Request[Any, Any, Any], rpc: Rpc, settings: Settings
    ) -> Template | Redirect:
        lang = lang_of(request)
        form = await code_step_submitted(request)
        target = safe_next(form.value("next"), "/staff")
        opened = await submit_form(
            request,
            rpc,
            form,
            auth.STAFF_COMPLETE_MFA,
            lambda: complete_command(request, form),
            problem_fields=CODE_FIELDS,
        )
        if opened is not None:
            if old := usable_token(request.cookies.get(STAFF_SESSION_COOKIE)):
                await rpc.call(auth.STAFF_LOG_OUT, auth.SessionRef(token=old))
            cookie = staff_session_cookie(settings, opened.token)
            if opened.recovery_codes:
                return render(
                    request,
                    "staff/recovery_codes.html",
                    title=translate("mfa.codes.title", lang),
                    codes=opened.recovery_codes,
                    next_page=target,
                    cookies=[cookie],
                )
            return redirect(target, cookies=[cookie])
        if form.problem_code == "mfa_challenge_invalid":
            return redirect(f"/staff/login?next={target}", flash="flash.mfa_expired")
        form.values["code"] = ""
        return render_code_step(request, "staff/login_mfa.html", form, settings, status=422)


class MfaSettingsPages(Controller):
    """The customer's own second factor: optional; on and off by the customer."""

    include_in_schema = False

    @get("/me/mfa", name="portal.mfa")
    async def status_page(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        visitor = await customer(request, rpc)
        status = await rpc.call(
            auth.MFA_STATUS, auth.MfaStatusQuery(account_id=visitor.session.account_id)
        )
        return render(
            request,
            "mfa.html",
            title=translate("mfa.title", lang_of(request)),
            visitor=visitor,
            mfa=status,
            renew_form=FormState(prefix="renew-"),
            remove_form=FormState(prefix="remove-"),
        )

    @post("/me/mfa/begin", name="portal.mfa.begin")
    async def begin(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template | Redirect:
        visitor = await customer(request, rpc)
        form = await posted_form(request, (), visitor.token)
        enrolment = await submit_form(
            request,
            rpc,
            form,
            auth.BEGIN_TOTP,
            lambda: auth.BeginTotp(
                account_id=visitor.session.account_id, client_address=client_address(request)
            ),
        )
        if enrolment is None:
            return redirect("/me/mfa")
        form = FormState(values={"secret": enrolment.secret, "otpauth_uri": enrolment.otpauth_uri})
        return self._enrol_page(request, visitor, form)

    def _enrol_page(
        self, request: Request[Any, Any, Any], visitor: Any, form: FormState, status: int = 200
    ) -> Template:
        return render(
            request,
            "mfa_enrol.html",
            title=translate("mfa.enrol.title", lang_of(request)),
            visitor=visitor,
            form=form,
            status=status,
            qr=qr_data_uri(form.value("otpauth_uri")),
        )

    @post("/me/mfa/confirm", name="portal.mfa.confirm")
    async def confirm(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template | Redirect:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        form = await posted_form(request, ("code", "secret", "otpauth_uri"), visitor.token)
        if not form.invalid and not form.value("code"):
            form.add("code", translate("mfa.code_missing", lang))
        codes = await submit_form(
            request,
            rpc,
            form,
            auth.CONFIRM_TOTP,
            lambda: auth.ConfirmTotp(
                account_id=visitor.session.account_id,
                code=form.value("code")[:40],
                client_address=client_address(request),
            ),
            problem_fields=CODE_FIELDS,
        )
        if codes is not None:
            return self._codes_page(request, visitor, codes.codes)
        if not form.value("otpauth_uri").startswith("otpauth://"):
            return redirect("/me/mfa")
        form.values["code"] = ""
        return self._enrol_page(request, visitor, form, status=422)

    def _codes_page(
        self, request: Request[Any, Any, Any], visitor: Any, codes: list[str]
    ) -> Template:
        return render(
            request,
            "mfa_codes.html",
            title=translate("mfa.codes.title", lang_of(request)),
            visitor=visitor,
            codes=codes,
        )

    @post("/me/mfa/codes", name="portal.mfa.codes")
    async def renew(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template | Redirect:
        visitor = await customer(request, rpc)
        form = await posted_form(request, ("code",), visitor.token)
        form.prefix = "renew-"
        codes = await submit_form(
            request,
            rpc,
            form,
            auth.NEW_RECOVERY_CODES,
            lambda: auth.ConfirmTotp(
                account_id=visitor.session.account_id,
                code=form.value("code")[:40] or "-",
                client_address=client_address(request),
            ),
            problem_fields=CODE_FIELDS,
        )
        if codes is not None:
            return self._codes_page(request, visitor, codes.codes)
        return await self._status_with_errors(request, rpc, visitor, form, "renew")

    @post("/me/mfa/remove", name="portal.mfa.remove")
    async def remove(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template | Redirect:
        visitor = await customer(request, rpc)
        form = await posted_form(request, ("password", "code"), visitor.token)
        form.prefix = "remove-"
        removed = await submit_form(
            request,
            rpc,
            form,
            auth.REMOVE_TOTP,
            lambda: auth.RemoveTotp(
                account_id=visitor.session.account_id,
                password=form.value("password")[:128] or "-",
                code=form.value("code")[:40] or "-",
                client_address=client_address(request),
            ),
            problem_fields=CODE_FIELDS,
        )
        if removed is not None:
            return redirect("/me/mfa", flash="flash.mfa_removed")
        form.values.update(password="", code="")
        return await self._status_with_errors(request, rpc, visitor, form, "remove")

    async def _status_with_errors(
        self, request: Request[Any, Any, Any], rpc: Rpc, visitor: Any, form: FormState, failed: str
    ) -> Template:
        status = await rpc.call(
            auth.MFA_STATUS, auth.MfaStatusQuery(account_id=visitor.session.account_id)
        )
        return render(
            request,
            "mfa.html",
            title=translate("mfa.title", lang_of(request)),
            visitor=visitor,
            mfa=status,
            form=form,
            renew_form=form if failed == "renew" else FormState(prefix="renew-"),
            remove_form=form if failed == "remove" else FormState(prefix="remove-"),
            status=422,
        )
