"""The staff console: log in and out, find a customer and their IBOK account, block and unblock (R5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from pydantic import ValidationError

from contracts import auth, billing
from runtime.rpc_client import RpcProblem
from runtime.settings import Settings
from services.gateway.portal.forms import FormState, posted_form, submit_form
from services.gateway.portal.i18n import safe_next, translate
from services.gateway.portal.mfa_pages import MFA_CODES, code_step_form, render_code_step
from services.gateway.portal.pages import client_address, lang_of, redirect, render
from services.gateway.protection import csrf_token_for
from services.gateway.rpc import Rpc
from services.gateway.sessions import (
    STAFF_SESSION_COOKIE,
    clear_staff_session_cookie,
    staff_session_cookie,
    usable_token,
)

WARSAW = ZoneInfo("Europe/Warsaw")


@dataclass(frozen=True)
class StaffVisitor:
    token: str
    staff: auth.StaffInfo

    @property
    def csrf(self) -> str:
        return csrf_token_for(self.token)

    @property
    def is_admin(self) -> bool:
        return self.staff.role == "admin"


class StaffLoginRequired(NotAuthorizedException):
    """A console page without a staff session: the staff login page, then back."""


async def staff_visitor_of(request: Request[Any, Any, Any], rpc: Rpc) -> StaffVisitor | None:
    token = usable_token(request.cookies.get(STAFF_SESSION_COOKIE))
    if token is None:
        return None
    try:
        info = await rpc.call(auth.RESOLVE_STAFF_SESSION, auth.SessionRef(token=token))
    except RpcProblem as exc:
        if exc.problem.status in (401, 403, 404):
            return None
        raise
    return StaffVisitor(token, info)


async def staff_member(
    request: Request[Any, Any, Any], rpc: Rpc, *, admin: bool = False
) -> StaffVisitor:
    found = await staff_visitor_of(request, rpc)
    if found is None:
        raise StaffLoginRequired()
    if admin and not found.is_admin:
        raise PermissionDeniedException()
    return found


def staff_page(
    request: Request[Any, Any, Any],
    template: str,
    title_key: str,
    staff: StaffVisitor,
    *,
    form: FormState | None = None,
    status: int = 200,
    **context: Any,
) -> Template:
    return render(
        request,
        template,
        title=translate(title_key, lang_of(request)),
        staff=staff,
        form=form,
        status=status,
        **context,
    )


class StaffPages(Controller):
    path = "/staff"
    include_in_schema = False

    # --- log in and out ------------------------------------------------------------------

    @get("/login", name="staff.login")
    async def login_page(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        settings: Settings,
        next_page: Annotated[str | None, QueryParameter(name="next", max_length=300)] = None,
    ) -> Template | Redirect:
        if await staff_visitor_of(request, rpc) is not None:
            return redirect(safe_next(next_page, "/staff"))
        return render(
            request,
            "staff/login.html",
            title=translate("staff.login.title", lang_of(request)),
            settings=settings,
            next_page=safe_next(next_page, "/staff"),
        )

    @post("/login", name="staff.login.submit")
    async def login(self, request: Request[Any, Any, Any], rpc: Rpc, settings: Settings) -> Any:
        lang = lang_of(request)
        form = await posted_form(request, ("login", "password", "next"), None)
        target = safe_next(form.value("next"), "/staff")
        if not form.invalid and (not form.value("login") or not form.value("password")):
            form.add(
                "login" if not form.value("login") else "password",
                translate("staff.login.missing", lang),
            )
        opened = await submit_form(
            request,
            rpc,
            form,
            auth.STAFF_LOG_IN,
            lambda: auth.StaffLogIn(
                login=form.value("login")[:64],
                password=form.value("password")[:128],
                client_address=client_address(request),
                user_agent=request.headers.get("user-agent", "")[:300],
            ),
        )
        if opened is not None:
            if old := usable_token(request.cookies.get(STAFF_SESSION_COOKIE)):
                await rpc.call(auth.STAFF_LOG_OUT, auth.SessionRef(token=old))
            return redirect(target, cookies=[staff_session_cookie(settings, opened.token)])
        if form.problem_code in MFA_CODES:
            # Staff always: the code step (or the first enrolment), never a session yet.
            step = code_step_form(form.problem_fields, target)
            return render_code_step(request, "staff/login_mfa.html", step, settings)
        form.values["password"] = ""
        return render(
            request,
            "staff/login.html",
            title=translate("staff.login.title", lang),
            form=form,
            status=422,
            settings=settings,
            next_page=target,
        )

    @post("/logout", name="staff.logout")
    async def logout(self, request: Request[Any, Any, Any], rpc: Rpc) -> Redirect:
        token = usable_token(request.cookies.get(STAFF_SESSION_COOKIE))
        if token is not None:
            if (await posted_form(request, (), token)).invalid:
                return redirect("/staff")
            await rpc.call(auth.STAFF_LOG_OUT, auth.SessionRef(token=token))
        response = redirect("/staff/login", flash="flash.logged_out")
        clear_staff_session_cookie(response)
        return response

    # --- customers, blocks (R5) ----------------------------------------------------------

    @get("", name="staff.home")
    async def home(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        number: Annotated[str | None, QueryParameter(max_length=32)] = None,
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
    ) -> Template:
        staff = await staff_member(request, rpc)
        number = (number or "").strip().upper()
        query = (q or "").strip()
        found: list[billing.CustomerFound] | None = None
        if len(query) >= 2:
            hits = await rpc.call(
                billing.SEARCH_CUSTOMERS, billing.CustomerSearch(q=query, limit=50)
            )
            found = hits.items
            if len(found) == 1 and not number:
                number = found[0].customer_number  # one hit: straight to the customer
        accounts = await self._accounts(rpc, number)
        return staff_page(
            request,
            "staff/home.html",
            "staff.home.title",
            staff,
            q=query,
            found=found,
            number=number,
            overview=await self._overview(rpc, number),
            accounts=accounts,
            searched=bool(number),
            form=FormState(values={"identity_check_used": "pesel"}),
        )

    @staticmethod
    async def _overview(rpc: Rpc, number: str) -> billing.CustomerOverview | None:
        """Billing's view of the customer (address, contracts, balance), or None if unknown."""
        if not number:
            return None
        try:
            scope = billing.CustomerScope(customer_number=number)
            return await rpc.call(billing.CUSTOMER_OVERVIEW, scope)
        except ValidationError:
            return None
        except RpcProblem as exc:
            if exc.problem.status == 404:
                return None
            raise

    @staticmethod
    async def _accounts(rpc: Rpc, number: str) -> list[auth.CustomerAccount]:
        if not number:
            return []
        try:
            query = auth.AccountsOfCustomersQuery(customer_numbers=[number])
        except ValidationError:
            return []
        found = await rpc.call(auth.ACCOUNTS_OF_CUSTOMERS, query)
        return found.accounts

    @post("/accounts/{login:str}/block", name="staff.block")
    async def block(
        self, request: Request[Any, Any, Any], rpc: Rpc, login: str
    ) -> Template | Redirect:
        staff = await staff_member(request, rpc)
        lang = lang_of(request)
        form = await posted_form(
            request,
            (
                "customer_number",
                "reason",
                "until",
                "permanent",
                "identity_check_used",
                "identity_verified",
            ),
            staff.token,
        )
        if form.value("identity_verified") != "yes":
            form.add("identity_verified", translate("staff.block.identity_required", lang))
        until: date | None = None
        if form.value("permanent") != "yes":
            try:
                until = date.fromisoformat(form.value("until"))
            except ValueError:
                form.add("until", translate("staff.block.until_required", lang))
        blocked = await submit_form(
            request,
            rpc,
            form,
            auth.BLOCK_ACCOUNT,
            lambda: auth.BlockAccount(
                actor_id=staff.staff.staff_id,
                login=login[:64],
                reason=form.value("reason"),
                until=until,
                permanent=form.value("permanent") == "yes",
                identity_check_used=form.value("identity_check_used"),  # type: ignore[arg-type]
                identity_verified=True,
                client_address=client_address(request),
            ),
            labels={"reason": "staff.block.reason", "identity_check_used": "staff.block.identity"},
            problem_fields={
                "block_period_invalid": "until",
                "identity_not_verified": "identity_verified",
            },
        )
        if blocked is not None:
            return redirect(
                f"/staff?number={form.value('customer_number')}", flash="flash.account_blocked"
            )
        return await self._customer_with_errors(request, rpc, staff, form, login)

    @post("/accounts/{login:str}/unblock", name="staff.unblock")
    async def unblock(self, request: Request[Any, Any, Any], rpc: Rpc, login: str) -> Redirect:
        staff = await staff_member(request, rpc)
        form = await posted_form(request, ("customer_number", "reason"), staff.token)
        if not form.invalid:
            await rpc.call(
                auth.UNBLOCK_ACCOUNT,
                auth.UnblockAccount(
                    actor_id=staff.staff.staff_id,
                    login=login[:64],
                    reason=form.value("reason")[:500],
                    client_address=client_address(request),
                ),
            )
            return redirect(
                f"/staff?number={form.value('customer_number')}", flash="flash.account_unblocked"
            )
        return redirect(f"/staff?number={form.value('customer_number')}")

    async def _customer_with_errors(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        staff: StaffVisitor,
        form: FormState,
        login: str,
    ) -> Template:
        number = form.value("customer_number")
        return staff_page(
            request,
            "staff/home.html",
            "staff.home.title",
            staff,
            form=form,
            status=422,
            q="",
            found=None,
            number=number,
            overview=await self._overview(rpc, number),
            accounts=await self._accounts(rpc, number),
            searched=True,
            form_login=login,
        )
