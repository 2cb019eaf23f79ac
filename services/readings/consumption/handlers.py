"""The customer's consumption (R7.7) as figures and as a chart."""

from __future__ import annotations

from contracts import readings as msgs
from runtime.clock import business_today
from runtime.errors import DomainError, NotFound
from services.readings import domain, store, views
from services.readings.consumption import domain as consumption_domain
from services.readings.consumption.chart import render_chart
from services.readings.handlers import Readings


async def consumption(r: Readings, q: msgs.ConsumptionQuery) -> msgs.ConsumptionReport:
    """R7.7: use per month or billing period of one premises, with the year before and trend."""
    today = business_today()
    date_from, date_to = consumption_domain.consumption_range(q.date_from, q.date_to, today)
    contracts = await store.contracts_of_customer(r.pool, q.customer_number)
    all_meters = await store.meters_of_customer(r.pool, q.customer_number)
    premises = sorted(
        {m["premises_id"] for m in all_meters} | {c["premises_id"] for c in contracts}
    )
    if q.premises_id is not None and q.premises_id not in premises:
        raise NotFound(
            "premises_not_found",
            "Nie ma takiego punktu poboru wśród Twoich.",
            detail_en="There is no such premises among yours.",
        )
    current = [c for c in contracts if domain.contract_is_current(views.contract_term(c), today)]
    chosen = (
        q.premises_id
        or (current[0]["premises_id"] if current else None)
        or (premises[0] if premises else None)
    )
    here = [m for m in all_meters if m["premises_id"] == chosen]
    mains = [m for m in here if m["is_main"]] or here
    readings = await store.counting_readings(
        r.pool, q.customer_number, [m["serial"] for m in mains]
    )
    curve = consumption_domain.consumption_curve(views.meter_segments(mains, readings))
    period_months = None
    if q.group == "period":
        of_premises = [c for c in contracts if c["premises_id"] == chosen]
        if not of_premises:
            raise DomainError(
                "billing_period_unknown",
                "Brak umowy dla tego punktu: nie znamy okresów rozliczeniowych.",
                detail_en="No contract for this premises: its billing periods are unknown.",
                status=422,
            )
        current_numbers = {c["contract_number"] for c in current}
        contract = next(
            (c for c in of_premises if c["contract_number"] in current_numbers), of_premises[0]
        )
        period_months = contract["billing_period_months"]
        spans = consumption_domain.billing_periods(
            contract["start_date"], period_months, date_from, date_to
        )
    else:
        spans = consumption_domain.months(date_from, date_to)
    figures = consumption_domain.consumption_figures(curve, spans)
    return views.consumption_report(
        figures,
        premises_id=chosen,
        premises=premises,
        group=q.group,
        spans=spans,
        date_from=date_from,
        date_to=date_to,
        period_months=period_months,
    )


async def consumption_chart(r: Readings, q: msgs.ConsumptionChartQuery) -> msgs.ConsumptionChart:
    report = await consumption(r, msgs.ConsumptionQuery(**q.model_dump(exclude={"language"})))
    return msgs.ConsumptionChart(svg=render_chart(report, q.language))
