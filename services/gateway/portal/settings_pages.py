"""Pages of the customer's own account: password (R3), sessions (R13), contact data and consent (R15, R16)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from contracts import auth
from contracts.billing_system import Address
from runtime.settings import Settings
from services.gateway.portal.account import PASSWORD_PROBLEM_FIELDS
from services.gateway.portal.forms import FormState, posted_form, submit_form
from services.gateway.portal.i18n import Lang, translate
from services.gateway.portal.pages import (
    Visitor,
    client_address,
    customer,
    lang_of,
    redirect,
    render,
)
from services.gateway.rpc import Rpc

CONTACT_FIELDS = (
    "email",
    "current_password",
    "phone",
    "street",
    "postal_code",
    "city",
    "marketing_consent",
)
CONTACT_LABELS = {
    "email": "contact.email",
    "phone": "contact.phone",
    "street": "contact.street",
    "postal_code": "contact.postal_code",
    "city": "contact.city",
}
CONTACT_PROBLEM_FIELDS = {
    "email_invalid": "email",
    "phone_invalid": "phone",
    "current_password_required": "current_password",
    "current_password_invalid": "current_password",
}


def check_new_password(form: FormState, lang: Lang) -> None:
    """What the page checks of a new password before auth applies R3: typed, twice the same."""
    if not form.value("new_password"):
        form.add("new_password", translate("password.new_missing", lang))
    elif form.value("new_password") != form.value("new_password_again"):
        form.add("new_password_again", translate("register.passwords_differ", lang))


async def _profile(rpc: Rpc, visitor: Visitor) -> auth.Profile:
    return await rpc.call(auth.PROFILE, auth.ProfileQuery(account_id=visitor.session.account_id))


class SettingsPages(Controller):
    include_in_schema = False

    @get("/me", name="portal.me")
    async def me(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        return render(
            request,
            "me.html",
            title=translate("me.title", lang),
            visitor=visitor,
            profile=await _profile(rpc, visitor),
        )

    # --- password (R3) ---------------------------------------------------------------------

    @get("/me/password", name="portal.password")
    async def password_page(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        return render(
            request, "password.html", title=translate("password.title", lang), visitor=visitor
        )

    @post("/me/password", name="portal.password.submit")
    async def change_password(
        self, request: Request[Any, Any, Any], rpc: Rpc
    ) -> Template | Redirect:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        form = await posted_form(
            request, ("current_password", "new_password", "new_password_again"), visitor.token
        )
        if not form.invalid:
            if not form.value("current_password"):
                form.add("current_password", translate("password.current_missing", lang))
            check_new_password(form, lang)
        changed = await submit_form(
            request,
            rpc,
            form,
            auth.CHANGE_PASSWORD,
            lambda: auth.ChangePassword(
                token=visitor.token,
                current_password=form.value("current_password")[:128],
                new_password=form.value("new_password")[:128],
                client_address=client_address(request),
            ),
            problem_fields={
                **PASSWORD_PROBLEM_FIELDS,
                "invalid_credentials": "current_password",
                "wrong_password": "current_password",
            },
        )
        if changed is not None:
            return redirect("/me", flash="flash.password_changed")
        form.values.update(current_password="", new_password="", new_password_again="")
        return render(
            request,
            "password.html",
            title=translate("password.title", lang),
            visitor=visitor,
            form=form,
            status=422,
        )

    # --- sessions (R13) --------------------------------------------------------------------

    @get("/me/sessions", name="portal.sessions")
    async def sessions(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        page = await rpc.call(
            auth.SESSIONS,
            auth.SessionsQuery(
                account_id=visitor.session.account_id,
                current_token=visitor.token,
                limit=20,
                cursor=cursor,
            ),
        )
        return render(
            request,
            "sessions.html",
            title=translate("sessions.title", lang),
            visitor=visitor,
            page=page,
        )

    @post("/me/sessions/{session_id:uuid}/end", name="portal.sessions.end")
    async def end_session(
        self, request: Request[Any, Any, Any], rpc: Rpc, session_id: UUID
    ) -> Redirect:
        visitor = await customer(request, rpc)
        form = await posted_form(request, (), visitor.token)
        if not form.invalid:
            await rpc.call(
                auth.END_SESSION,
                auth.EndSession(
                    account_id=visitor.session.account_id,
                    session_id=session_id,
                    client_address=client_address(request),
                ),
            )
            return redirect("/me/sessions", flash="flash.session_ended_other")
        return redirect("/me/sessions")

    # --- contact data and consent (R15, R16) -----------------------------------------------

    @get("/me/contact", name="portal.contact")
    async def contact_page(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        profile = await _profile(rpc, visitor)
        address = profile.correspondence_address
        form = FormState(
            values={
                "email": profile.email,
                "phone": profile.phone or "",
                "street": address.street if address else "",
                "postal_code": address.postal_code if address else "",
                "city": address.city if address else "",
                "marketing_consent": "yes" if profile.marketing_consent else "",
            }
        )
        return render(
            request,
            "contact.html",
            title=translate("contact.title", lang),
            visitor=visitor,
            form=form,
            profile=profile,
        )

    @post("/me/contact", name="portal.contact.submit")
    async def update_contact(
        self, request: Request[Any, Any, Any], rpc: Rpc
    ) -> Template | Redirect:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        form = await posted_form(request, CONTACT_FIELDS, visitor.token)
        address_parts = [form.value(n) for n in ("street", "postal_code", "city")]
        if not form.invalid and any(address_parts) and not all(address_parts):
            for name in ("street", "postal_code", "city"):
                if not form.value(name):
                    form.add(name, translate("contact.address_incomplete", lang))
        updated = await submit_form(
            request,
            rpc,
            form,
            auth.UPDATE_CONTACT,
            lambda: auth.UpdateContact(
                account_id=visitor.session.account_id,
                email=form.value("email"),
                phone=form.value("phone") or None,
                correspondence_address=Address(
                    street=form.value("street"),
                    postal_code=form.value("postal_code"),
                    city=form.value("city"),
                )
                if all(address_parts)
                else None,
                marketing_consent=form.value("marketing_consent") == "yes",
                client_address=client_address(request),
                current_password=form.value("current_password")[:128] or None,
            ),
            labels=CONTACT_LABELS,
            problem_fields=CONTACT_PROBLEM_FIELDS,
        )
        if updated is not None:
            flash = (
                "flash.contact_email_pending" if updated.pending_email else "flash.contact_saved"
            )
            return redirect("/me/contact", flash=flash)
        form.values["current_password"] = ""  # never sent back to the browser
        return render(
            request,
            "contact.html",
            title=translate("contact.title", lang),
            visitor=visitor,
            form=form,
            profile=await _profile(rpc, visitor),
            status=422,
        )


class PasswordResetPages(Controller):
    """R3: "forgot password": ask for a link by login; the emailed link opens the new-password form."""

    include_in_schema = False

    @get("/password-reset", name="portal.password_reset")
    async def page(
        self,
        request: Request[Any, Any, Any],
        settings: Settings,
        token: Annotated[str, QueryParameter(max_length=100)] = "",
    ) -> Template:
        lang = lang_of(request)
        return render(
            request,
            "password_reset.html",
            title=translate("reset.title", lang),
            settings=settings,
            form=FormState(values={"token": token}),
            sent=False,
        )

    @post("/password-reset", name="portal.password_reset.submit")
    async def submit(
        self, request: Request[Any, Any, Any], rpc: Rpc, settings: Settings
    ) -> Template | Redirect:
        lang = lang_of(request)
        form = await posted_form(
            request, ("login", "token", "new_password", "new_password_again"), None
        )
        token = form.value("token")
        if not form.invalid and not token:
            if not form.value("login"):
                form.add("login", translate("login.login_missing", lang))
            else:
                # The answer is the same whether or not the login exists (no enumeration).
                await rpc.call(
                    auth.REQUEST_PASSWORD_RESET,
                    auth.RequestPasswordReset(
                        login=form.value("login")[:64], client_address=client_address(request)
                    ),
                )
                return render(
                    request,
                    "password_reset.html",
                    title=translate("reset.title", lang),
                    settings=settings,
                    form=FormState(),
                    sent=True,
                )
        elif not form.invalid:
            check_new_password(form, lang)
            if not form.invalid and not 20 <= len(token) <= 100:
                form.add(None, translate("verify.token_invalid", lang))
        reset = await submit_form(
            request,
            rpc,
            form,
            auth.RESET_PASSWORD,
            lambda: auth.ResetPassword(
                token=token,
                new_password=form.value("new_password")[:128],
                client_address=client_address(request),
            ),
            problem_fields=PASSWORD_PROBLEM_FIELDS,
        )
        if reset is not None:
            return redirect("/login", flash="flash.password_reset")
        form.values.update(new_password="", new_password_again="")
        return render(
            request,
            "password_reset.html",
            title=translate("reset.title", lang),
            settings=settings,
            form=form,
            status=422,
            sent=False,
        )
