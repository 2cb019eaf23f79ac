"""Rows and domain figures turned into the readings contracts' views."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from fractions import Fraction

import asyncpg

from contracts.billing_system import Address
from contracts.readings import (
    ConsumptionItem,
    ConsumptionReport,
    ConsumptionTrend,
    FlaggedReadingView,
    LastReading,
    MeterExchangeView,
    MeterView,
    ReadingView,
)
from services.readings import domain, store
from services.readings.consumption import domain as consumption_domain


def contract_term(row: asyncpg.Record) -> domain.ContractTerm:
    return domain.ContractTerm(
        row["contract_number"],
        row["status"],
        row["start_date"],
        row["end_date"],
        row["billing_period_months"],
    )


def known_reading(row: asyncpg.Record) -> domain.KnownReading:
    return domain.KnownReading(row["read_on"], row["value"], row["source"])


def meter_segments(
    meters: Iterable[asyncpg.Record], readings: Sequence[asyncpg.Record]
) -> list[consumption_domain.MeterSegment]:
    segments = []
    for m in meters:
        exchange = None
        if m["previous_serial"] is not None:
            exchange = consumption_domain.Exchange(
                m["previous_serial"],
                m["previous_final_reading"],
                m["initial_reading"],
                m["exchanged_on"],
            )
        segments.append(
            consumption_domain.MeterSegment(
                m["serial"],
                m["installed_on"],
                [known_reading(r) for r in readings if r["serial"] == m["serial"]],
                exchange,
            )
        )
    return segments


def reading_view(row: asyncpg.Record) -> ReadingView:
    return ReadingView(
        reading_id=row["id"],
        serial=row["serial"],
        value=row["value"],
        read_on=row["read_on"],
        source=row["source"],
        status=row["status"],
        flagged=row["flagged"],
        revision=row["revision"],
        submitted_at=row["submitted_at"],
        review_reason=row["review_reason"],
    )


def flagged_view(row: asyncpg.Record) -> FlaggedReadingView:
    return FlaggedReadingView(
        reading_id=row["id"],
        customer_number=row["customer_number"],
        serial=row["serial"],
        value=row["value"],
        read_on=row["read_on"],
        revision=row["revision"],
        status=row["status"],
        previous_value=row["previous_value"],
        previous_read_on=row["previous_read_on"],
        daily_average_m3=row["baseline_daily_m3"],
        submitted_at=row["submitted_at"],
        reviewed_by=row["reviewed_by"],
        reviewed_at=row["reviewed_at"],
        review_reason=row["review_reason"],
    )


def meter_view(row: asyncpg.Record, contracts: Sequence[asyncpg.Record], today: date) -> MeterView:
    mine = [
        c
        for c in contracts
        if c["premises_id"] == row["premises_id"]
        and (row["contract_number"] is None or c["contract_number"] == row["contract_number"])
    ]
    current = domain.current_contract((contract_term(c) for c in mine), today)
    address = store.address_of(mine[0]) if mine else None
    exchange = None
    if row["previous_serial"] is not None:
        exchange = MeterExchangeView(
            previous_serial=row["previous_serial"],
            previous_final_reading=row["previous_final_reading"],
            initial_reading=row["initial_reading"],
            exchanged_on=row["exchanged_on"],
        )
    last = None
    if row["last_value"] is not None:
        last = LastReading(
            value=row["last_value"], read_on=row["last_read_on"], source=row["last_source"]
        )
    in_use = row["removed_on"] is None or row["removed_on"] >= today
    return MeterView(
        serial=row["serial"],
        premises_id=row["premises_id"],
        premises_address=Address.model_validate(address) if address else None,
        contract_number=row["contract_number"] or (current.contract_number if current else None),
        diameter_mm=row["diameter_mm"],
        installed_on=row["installed_on"],
        removed_on=row["removed_on"],
        is_main=row["is_main"],
        legalization_expires=row["legalization_expires"],
        legalization_days_left=domain.legalization_days_left(row["legalization_expires"], today),
        exchange=exchange,
        last_reading=last,
        can_submit=current is not None and in_use,
    )


def _m3(value: Fraction | None) -> Decimal | None:
    return domain.m3(value) if value is not None else None


def consumption_report(
    figures: consumption_domain.ConsumptionFigures,
    *,
    premises_id: str | None,
    premises: list[str],
    group: str,
    spans: Sequence[consumption_domain.Span],
    date_from: date,
    date_to: date,
    period_months: int | None,
) -> ConsumptionReport:
    items = [
        ConsumptionItem(
            label=i.span.label,
            start=i.span.start,
            end=i.span.end,
            days=i.span.days,
            covered_days=i.covered_days,
            complete=i.complete,
            consumption_m3=_m3(i.used),
            daily_average_m3=_m3(i.daily_average),
            previous_year_m3=_m3(i.previous_year),
            change_percent=i.change_percent,
        )
        for i in figures.items
    ]
    return ConsumptionReport(
        premises_id=premises_id,
        premises=premises,
        group=group,  # type: ignore[arg-type]
        date_from=spans[0].start if spans else date_from,
        date_to=spans[-1].end if spans else date_to,
        billing_period_months=period_months,
        items=items,
        total_m3=domain.m3(figures.total),
        covered_days=figures.covered_days,
        average_daily_m3=_m3(figures.average_daily),
        previous_year_average_daily_m3=_m3(figures.previous_year_average_daily),
        trend=ConsumptionTrend(
            direction=figures.trend.direction, change_percent=figures.trend.change_percent
        ),
    )
