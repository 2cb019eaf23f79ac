"""The start page: what is due, the last reading and the next one, the meter's legalizacja, new messages."""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import Awaitable
from datetime import date, timedelta
from typing import Any, TypeVar

from litestar import Controller, Request, get
from litestar.response import Redirect, Template

from contracts import auth, billing, notify, readings
from runtime.clock import business_today
from runtime.logs import get_logger
from runtime.rpc_client import RpcError
from services.gateway.portal.i18n import translate
from services.gateway.portal.pages import lang_of, redirect, render, visitor_of
from services.gateway.rpc import Rpc

log = get_logger(__name__)
T = TypeVar("T")


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it is shorter (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_reading_expected(start: date, period_months: int, today: date) -> date:
    """R8: readings feed invoicing per billing period; the next one is due when the current period ends.

    Periods run from the contract's start in steps of ``period_months``; the answer is the last
    day of the period that contains ``today`` (today itself when a period ends today).
    """
    months = max(period_months, 1)
    periods = max(((today.year - start.year) * 12 + today.month - start.month) // months, 0)
    while add_months(start, periods * months) <= today:
        periods += 1
    while periods > 1 and add_months(start, (periods - 1) * months) > today:
        periods -= 1
    return add_months(start, periods * months) - timedelta(days=1)


async def optional(call: Awaitable[T], what: str) -> T | None:
    """One card's data; a service that cannot answer leaves its card saying so, not the page failing."""
    try:
        return await call
    except RpcError as exc:
        log.warning("portal.home.section_unavailable", section=what, error=type(exc).__name__)
        return None


class HomePage(Controller):
    include_in_schema = False

    @get("/", name="portal.home")
    async def home(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template | Redirect:
        visitor = await visitor_of(request, rpc)
        if visitor is None:
            return redirect("/login")
        lang = lang_of(request)
        number = visitor.session.customer_number
        profile, settlement, meters, inbox, contracts = await asyncio.gather(
            rpc.call(auth.PROFILE, auth.ProfileQuery(account_id=visitor.session.account_id)),
            optional(
                rpc.billing_view(
                    billing.GET_SETTLEMENT,
                    billing.CustomerScope(customer_number=number),
                ),
                "settlement",
            ),
            optional(
                rpc.call(readings.METERS, readings.MetersQuery(customer_number=number, limit=100)),
                "meters",
            ),
            optional(
                rpc.call(notify.INBOX, notify.InboxQuery(customer_number=number, limit=1)),
                "inbox",
            ),
            optional(
                rpc.billing_view(
                    billing.LIST_CONTRACTS,
                    billing.CustomerScope(customer_number=number),
                ),
                "contracts",
            ),
        )
        today = business_today()
        periods = {
            c.contract_number: (c.start_date, c.billing_period_months)
            for c in (contracts.items if contracts is not None else [])
            if c.status == "active"
        }
        expected = {
            m.serial: next_reading_expected(*periods[m.contract_number], today)
            for m in (meters.items if meters is not None else [])
            if m.contract_number in periods and m.can_submit
        }
        return render(
            request,
            "home.html",
            title=translate("home.title", lang),
            visitor=visitor,
            profile=profile,
            settlement=settlement,
            meters=meters.items if meters is not None else None,
            inbox=inbox,
            expected=expected,
        )
