"""Pages of the meters: submit a reading (R8), the reading history (R7.5), consumption (R7.7)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from contracts import readings
from runtime.clock import business_today
from services.gateway.portal.formatting import parse_decimal
from services.gateway.portal.forms import FormState, posted_form, submit_form
from services.gateway.portal.i18n import Lang, translate
from services.gateway.portal.pages import Visitor, customer, lang_of, redirect, render
from services.gateway.rpc import Rpc

# Which field a refusal of the readings service is about.
READING_PROBLEM_FIELDS = {
    "reading_value_invalid": "value",
    "reading_value_precision": "value",
    "reading_below_previous": "value",
    "reading_above_next": "value",
    "reading_in_future": "read_on",
    "reading_before_installation": "read_on",
    "reading_before_contract": "read_on",
    "reading_period_billed": "read_on",
}
LEGALIZATION_WARNING_DAYS = 60


async def meters_of(rpc: Rpc, visitor: Visitor) -> list[readings.MeterView]:
    page = await rpc.call(
        readings.METERS,
        readings.MetersQuery(customer_number=visitor.session.customer_number, limit=100),
    )
    return page.items


def check_reading(form: FormState, meter: readings.MeterView | None, lang: Lang) -> None:
    """What the page can tell before asking the service: a number, a date, not in the future.

    The rules themselves (not below the previous reading, one per day, R8) are the readings
    service's; this only turns typing mistakes into messages beside their fields.
    """
    if meter is None:
        form.add(None, translate("readings.unknown_meter", lang))
        return
    if not form.value("value"):
        form.add("value", translate("readings.value_missing", lang))
    else:
        value = parse_decimal(form.value("value"))
        if value is None or value < 0:
            form.add("value", translate("readings.value_not_number", lang))
        elif value.as_tuple().exponent < -3:  # type: ignore[operator]
            form.add("value", translate("readings.value_precision", lang))
    if form.value("read_on"):
        try:
            day = date.fromisoformat(form.value("read_on"))
        except ValueError:
            form.add("read_on", translate("readings.date_invalid", lang))
        else:
            if day > business_today():
                form.add("read_on", translate("readings.date_future", lang))


class ReadingPages(Controller):
    include_in_schema = False

    @get("/meters", name="portal.meters")
    async def meters(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        visitor = await customer(request, rpc)
        return await self._meters_page(request, rpc, visitor, FormState(), None, 200)

    async def _meters_page(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        visitor: Visitor,
        form: FormState,
        serial: str | None,
        status: int,
    ) -> Template:
        lang = lang_of(request)
        meters = await meters_of(rpc, visitor)
        return render(
            request,
            "meters.html",
            title=translate("readings.title", lang),
            visitor=visitor,
            form=form,
            status=status,
            meters=meters,
            form_serial=serial,
            today=business_today(),
            warning_days=LEGALIZATION_WARNING_DAYS,
        )

    @post("/readings", name="portal.readings.submit")
    async def submit(self, request: Request[Any, Any, Any], rpc: Rpc) -> Any:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        form = await posted_form(request, ("serial", "value", "read_on"), visitor.token)
        serial = form.value("serial")
        if not form.invalid:
            meters = await meters_of(rpc, visitor)
            meter = next((m for m in meters if m.serial == serial and m.can_submit), None)
            check_reading(form, meter, lang)

        def reading() -> readings.SubmitReading:
            value = parse_decimal(form.value("value"))
            assert value is not None  # check_reading refused anything else
            read_on = form.value("read_on")
            return readings.SubmitReading(
                customer_number=visitor.session.customer_number,
                serial=serial,
                value=value,
                read_on=date.fromisoformat(read_on) if read_on else None,
            )

        accepted = await submit_form(
            request,
            rpc,
            form,
            readings.SUBMIT_READING,
            reading,
            problem_fields=READING_PROBLEM_FIELDS,
        )
        if accepted is not None:
            flash = (
                "flash.reading_flagged"
                if accepted.flagged
                else "flash.reading_replaced"
                if accepted.replaced
                else "flash.reading_saved"
            )
            return redirect(f"/readings?serial={quote(serial)}", flash=flash)
        return await self._meters_page(request, rpc, visitor, form, serial, 422)

    @get("/readings", name="portal.readings")
    async def history(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        serial: Annotated[str | None, QueryParameter(max_length=32)] = None,
        date_from: Annotated[date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[date | None, QueryParameter(name="to")] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        meters = await meters_of(rpc, visitor)
        page = await rpc.call(
            readings.READING_HISTORY,
            readings.ReadingHistoryQuery(
                customer_number=visitor.session.customer_number,
                serial=serial or None,
                date_from=date_from,
                date_to=date_to,
                limit=20,
                cursor=cursor,
            ),
        )
        return render(
            request,
            "reading_history.html",
            title=translate("history.title", lang),
            visitor=visitor,
            meters=meters,
            page=page,
            form=FormState(
                values={
                    "serial": serial or "",
                    "from": date_from.isoformat() if date_from else "",
                    "to": date_to.isoformat() if date_to else "",
                }
            ),
        )

    @get("/consumption", name="portal.consumption")
    async def consumption(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        group: Annotated[str, QueryParameter(pattern="^(month|period)$")] = "month",
        premises: Annotated[str | None, QueryParameter(max_length=32)] = None,
    ) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        report = await rpc.call(readings.CONSUMPTION, self._query(visitor, group, premises))
        return render(
            request,
            "consumption.html",
            title=translate("consumption.title", lang),
            visitor=visitor,
            report=report,
            group=group,
            premises=premises or "",
        )

    @get("/consumption/chart.svg", name="portal.consumption.chart")
    async def chart(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        group: Annotated[str, QueryParameter(pattern="^(month|period)$")] = "month",
        premises: Annotated[str | None, QueryParameter(max_length=32)] = None,
    ) -> Response[str] | Redirect:
        visitor = await customer(request, rpc)
        query = self._query(visitor, group, premises)
        chart = await rpc.call(
            readings.CONSUMPTION_CHART,
            readings.ConsumptionChartQuery(**query.model_dump(), language=lang_of(request)),
        )
        return Response(
            chart.svg,
            media_type="image/svg+xml",
            headers={"cache-control": "private, no-store"},
        )

    @staticmethod
    def _query(visitor: Visitor, group: str, premises: str | None) -> readings.ConsumptionQuery:
        today = business_today()
        return readings.ConsumptionQuery(
            customer_number=visitor.session.customer_number,
            group="period" if group == "period" else "month",
            date_from=(today.replace(day=1) - timedelta(days=365)).replace(day=1),
            date_to=today,
            premises_id=premises or None,
        )
