"""Pages of the account: log in and out, register, confirm the email address, choose the language."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from contracts import auth
from runtime.settings import Settings
from services.gateway.limits import registration_retry_after
from services.gateway.portal.forms import FormState, posted_form, submit_form
from services.gateway.portal.i18n import LANG_COOKIE, LANGUAGES, safe_next, translate
from services.gateway.portal.mfa_pages import MFA_CODES, code_step_form, render_code_step
from services.gateway.portal.pages import client_address, lang_of, redirect, render, visitor_of
from services.gateway.rpc import Rpc
from services.gateway.sessions import SESSION_COOKIE, clear_session_cookie, session_cookie

REGISTER_FIELDS = (
    "customer_number",
    "contract_number",
    "identity_kind",
    "identity_number",
    "login",
    "password",
    "password_again",
    "email",
)
REGISTER_LABELS = {
    "customer_number": "register.customer_number",
    "contract_number": "register.contract_number",
    "identity_kind": "register.identity_kind",
    "identity_number": "register.identity_number",
    "login": "register.login",
    "password": "register.password",
    "email": "register.email",
}
# Which field a service's refusal is about, so its message sits beside that field.
REGISTER_PROBLEM_FIELDS = {
    "registration_not_eligible": "customer_number",
    "login_taken": "login",
    "password_length": "password",
    "password_composition": "password",
    "password_charset": "password",
    "password_common": "password",
    "password_contains_login": "password",
    "email_invalid": "email",
}
# Refusals after which the next login attempt must carry a solved captcha (R4).
CAPTCHA_CODES = frozenset({"invalid_credentials", "captcha_required", "captcha_invalid"})
LOGIN_PROBLEM_FIELDS = {
    "captcha_invalid": "captcha_answer",
    "captcha_required": "captcha_answer",
}
# A new password refused by the rules of R3 (change and reset).
PASSWORD_PROBLEM_FIELDS = {
    "password_length": "new_password",
    "password_composition": "new_password",
    "password_charset": "new_password",
    "password_common": "new_password",
    "password_contains_login": "new_password",
}


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text) if text else None
    except ValueError:
        return None


async def new_captcha(request: Request[Any, Any, Any], rpc: Rpc) -> auth.CaptchaChallenge:
    """R4: a fresh challenge, with its spoken version for people who cannot read the picture."""
    return await rpc.call(
        auth.NEW_CAPTCHA,
        auth.CaptchaRequest(
            audio=True, language=lang_of(request), client_address=client_address(request)
        ),
    )


class AccountPages(Controller):
    include_in_schema = False

    @get("/login", name="portal.login")
    async def login_page(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        settings: Settings,
        next_page: Annotated[str | None, QueryParameter(name="next", max_length=300)] = None,
    ) -> Template | Redirect:
        if await visitor_of(request, rpc) is not None:
            return redirect(safe_next(next_page))
        lang = lang_of(request)
        return render(
            request,
            "login.html",
            title=translate("login.title", lang),
            settings=settings,
            next_page=safe_next(next_page),
            captcha=None,
        )

    @post("/login", name="portal.login.submit")
    async def login(self, request: Request[Any, Any, Any], rpc: Rpc, settings: Settings) -> Any:
        lang = lang_of(request)
        form = await posted_form(
            request,
            (
                "login",
                "password",
                "next",
                "captcha_id",
                "captcha_answer",
                "new_captcha",
                "email_code",
                "send_email_code",
            ),
            None,
        )
        target = safe_next(form.value("next"))
        if (form.value("new_captcha") or form.value("send_email_code")) and not form.invalid:
            # "Show another code", or "email me a code" (for someone who can neither see nor
            # hear the captcha): a fresh challenge, no login attempt.
            sent = bool(form.value("send_email_code") and form.value("login"))
            if sent:
                await rpc.call(
                    auth.REQUEST_LOGIN_CODE,
                    auth.RequestLoginCode(
                        login=form.value("login")[:64], client_address=client_address(request)
                    ),
                )
            form.values.update(password="", captcha_answer="", new_captcha="", send_email_code="")
            return render(
                request,
                "login.html",
                title=translate("login.title", lang),
                form=form,
                settings=settings,
                next_page=target,
                captcha=await new_captcha(request, rpc),
                email_code_sent=sent,
            )
        if not form.invalid:
            if not form.value("login"):
                form.add("login", translate("login.login_missing", lang))
            if not form.values.get("password"):
                form.add("password", translate("login.password_missing", lang))
        opened = await submit_form(
            request,
            rpc,
            form,
            auth.LOG_IN,
            lambda: auth.LogIn(
                login=form.value("login")[:64],
                password=form.value("password")[:128],
                captcha_id=_uuid(form.value("captcha_id")),
                captcha_answer=form.value("captcha_answer")[:16] or None,
                email_code=form.value("email_code")[:16] or None,
                client_address=client_address(request),
                user_agent=request.headers.get("user-agent", "")[:300],
            ),
            problem_fields=LOGIN_PROBLEM_FIELDS,
        )
        if opened is not None:
            # R13: a new session id at every login; an earlier session of this browser ends.
            if (old := request.cookies.get(SESSION_COOKIE)) and 20 <= len(old) <= 100:
                await rpc.call(auth.LOG_OUT, auth.SessionRef(token=old))
            return redirect(target, cookies=[session_cookie(settings, opened.token)])
        if form.problem_code in MFA_CODES:
            # A right password with a second factor due: the code step, no session yet.
            step = code_step_form(form.problem_fields, target)
            return render_code_step(request, "login_mfa.html", step, settings)
        if form.problem_code == "invalid_credentials" and "captcha_answer" in form.errors:
            # The refusal names the captcha (needed next time); its message is the password's.
            form.errors = {"password": form.errors.pop("captcha_answer"), **form.errors}
        form.values["password"] = ""  # never sent back to the browser
        form.values["captcha_answer"] = ""  # a used challenge cannot be answered again
        challenge: auth.CaptchaChallenge | None = None
        # A fresh challenge after a refusal that asks for one, or when the form carried one
        # (refused before auth was asked).
        if form.problem_code in CAPTCHA_CODES or form.value("captcha_id"):
            challenge = await new_captcha(request, rpc)
        return render(
            request,
            "login.html",
            title=translate("login.title", lang),
            form=form,
            status=422 if form.invalid else 200,
            settings=settings,
            next_page=target,
            captcha=challenge,
        )

    @post("/logout", name="portal.logout")
    async def logout(
        self, request: Request[Any, Any, Any], rpc: Rpc, settings: Settings
    ) -> Redirect:
        token = request.cookies.get(SESSION_COOKIE, "")
        if token and 20 <= len(token) <= 100:
            if (await posted_form(request, (), token)).invalid:
                return redirect("/")
            await rpc.call(auth.LOG_OUT, auth.SessionRef(token=token))
        response = redirect("/login", flash="flash.logged_out")
        clear_session_cookie(response, settings)
        return response

    @get("/register", name="portal.register")
    async def register_page(self, request: Request[Any, Any, Any], settings: Settings) -> Template:
        lang = lang_of(request)
        return render(
            request,
            "register.html",
            title=translate("register.title", lang),
            settings=settings,
            form=FormState(values={"identity_kind": "pesel"}),
        )

    @post("/register", name="portal.register.submit")
    async def register(
        self, request: Request[Any, Any, Any], rpc: Rpc, settings: Settings
    ) -> Template:
        lang = lang_of(request)
        form = await posted_form(request, REGISTER_FIELDS, None)
        if not form.invalid and form.value("password") != form.value("password_again"):
            form.add("password_again", translate("register.passwords_differ", lang))
        if not form.invalid and registration_retry_after(request, form.value("customer_number")):
            form.add(None, translate("register.too_many", lang))
        registered = await submit_form(
            request,
            rpc,
            form,
            auth.REGISTER,
            lambda: auth.RegisterAccount(
                customer_number=form.value("customer_number"),
                contract_number=form.value("contract_number"),
                identity_kind=form.value("identity_kind"),  # type: ignore[arg-type]
                identity_number=form.value("identity_number"),
                login=form.value("login"),
                password=form.value("password"),
                email=form.value("email"),
                language=lang,
                client_address=client_address(request),
            ),
            labels=REGISTER_LABELS,
            problem_fields=REGISTER_PROBLEM_FIELDS,
        )
        if registered is not None:
            return render(
                request,
                "registered.html",
                title=translate("registered.title", lang),
                settings=settings,
                email=registered.email,
            )
        form.values["password"] = form.values["password_again"] = ""
        form.values["identity_number"] = ""  # a PESEL or NIP is not echoed back into the page
        return render(
            request,
            "register.html",
            title=translate("register.title", lang),
            form=form,
            status=422,
            settings=settings,
        )

    @get("/verify-email", name="portal.verify_email")
    async def verify_email_page(
        self,
        request: Request[Any, Any, Any],
        settings: Settings,
        token: Annotated[str, QueryParameter(max_length=100)] = "",
    ) -> Template:
        # Mail scanners open links by themselves: this page only shows a button; the POST uses the token.
        lang = lang_of(request)
        return render(
            request,
            "verify_email.html",
            title=translate("verify.title", lang),
            settings=settings,
            form=FormState(values={"token": token}),
        )

    @post("/verify-email", name="portal.verify_email.submit")
    async def verify_email(
        self, request: Request[Any, Any, Any], rpc: Rpc, settings: Settings
    ) -> Any:
        lang = lang_of(request)
        form = await posted_form(request, ("token",), None)
        if not form.invalid and not 20 <= len(form.value("token")) <= 100:
            form.add(None, translate("verify.token_invalid", lang))
        verified = await submit_form(
            request,
            rpc,
            form,
            auth.VERIFY_EMAIL,
            lambda: auth.VerifyEmail(token=form.value("token")),
        )
        if verified is not None:
            return redirect("/login", flash="flash.email_verified")
        return render(
            request,
            "verify_email.html",
            title=translate("verify.title", lang),
            form=form,
            status=422,
            settings=settings,
        )

    @get("/language/{lang:str}", name="portal.language")
    async def choose_language(
        self,
        lang: str,
        settings: Settings,
        next_page: Annotated[str | None, QueryParameter(name="next", max_length=300)] = None,
    ) -> Redirect:
        # A preference, not an account change: a plain link works without JavaScript or a form.
        chosen = lang if lang in LANGUAGES else "pl"
        cookie = Cookie(
            key=LANG_COOKIE,
            value=chosen,
            max_age=365 * 24 * 3600,
            samesite="lax",
            secure=settings.cookie_secure,
            path="/",
        )
        return redirect(safe_next(next_page), cookies=[cookie])
