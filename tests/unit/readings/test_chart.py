"""R7.7: the consumption chart is well-formed, accessible SVG whose text cannot become markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import pytest

from contracts.readings import ConsumptionReport
from services.readings import views
from services.readings.consumption import domain
from services.readings.consumption.chart import nice_ceiling, render_chart, tick_label
from services.readings.consumption.domain import MeterSegment
from services.readings.domain import KnownReading

SVG = "{http://www.w3.org/2000/svg}"


def report(premises: str = "P1", months: int = 3, readings: bool = True) -> ConsumptionReport:
    seg = MeterSegment(
        "A",
        date(2024, 1, 1),
        [
            KnownReading(date(2024, 12, 31), Decimal("0")),
            KnownReading(date(2025, 1, 31), Decimal("31")),
            KnownReading(date(2025, 2, 28), Decimal("87")),
        ]
        if readings
        else [],
    )
    curve = domain.consumption_curve([seg])
    spans = domain.months(date(2025, 1, 1), domain.add_months(date(2025, 1, 1), months - 1))
    return views.consumption_report(
        domain.consumption_figures(curve, spans),
        premises_id=premises,
        premises=[premises],
        group="month",
        spans=spans,
        date_from=spans[0].start,
        date_to=spans[-1].end,
        period_months=None,
    )


def test_chart_has_title_description_role_and_axis_labels() -> None:
    root = ET.fromstring(render_chart(report(), "pl"))
    assert root.tag == f"{SVG}svg"
    assert (root.get("role"), root.get("aria-labelledby")) == ("img", "chart-title chart-desc")
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Zużycie wody — P1"
    assert desc is not None
    assert desc.text == (
        "Od 2025-01-01 do 2025-03-31: razem 87,000 m³, średnio 1,475 m³ na dobę. "
        "Trend: nieznany (brak danych sprzed roku)."
    )
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {"Zużycie [m³]", "Miesiąc", "2025-01", "2025-02", "2025-03"} <= texts
    assert {"0", "20", "40", "60"} <= texts  # axis ticks: a 1-2-5 step up to 60
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar consumption"]
    assert [b.findtext(f"{SVG}title") for b in bars] == [
        "2025-01: 31,000 m³",
        "2025-02: 56,000 m³",
    ]  # March: no readings, no bar


def test_english_chart_uses_english_words_and_decimal_points() -> None:
    root = ET.fromstring(render_chart(report(), "en"))
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {"Consumption [m³]", "Month", "56.000"} <= texts
    assert root.get("lang") == "en"


def test_text_from_data_is_escaped_not_markup() -> None:
    hostile = 'P1"><script>alert(1)</script>&'
    svg = render_chart(report(premises=hostile), "pl")
    root = ET.fromstring(svg)
    assert "<script>" not in svg
    assert not list(root.iter(f"{SVG}script"))
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == f"Zużycie wody — {hostile}"


def test_chart_without_readings_says_so() -> None:
    root = ET.fromstring(render_chart(report(readings=False), "pl"))
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert "Brak odczytów w wybranym okresie." in texts
    assert not [r for r in root.iter(f"{SVG}rect") if (r.get("class") or "").startswith("bar")]


def test_many_items_get_rotated_labels() -> None:
    root = ET.fromstring(render_chart(report(months=24), "pl"))
    rotated = [
        t for t in root.iter(f"{SVG}text") if (t.get("transform") or "").startswith("rotate(-45")
    ]
    assert len(rotated) == 24


@pytest.mark.parametrize(
    ("top", "axis", "step", "label"),
    [
        ("93", "100", "20", "100"),
        ("100", "100", "20", "100"),
        ("7.2", "8", "2", "8"),
        ("0.4", "0.4", "0.1", "0,4"),
        ("0", "1", "0.2", "1,0"),
        ("12345.678", "15000", "5000", "15000"),
    ],
)
def test_axis_top_is_a_round_number_at_or_above_the_highest_bar(
    top: str, axis: str, step: str, label: str
) -> None:
    got_axis, got_step = nice_ceiling(Decimal(top))
    assert (got_axis, got_step) == (Decimal(axis), Decimal(step))
    assert got_axis >= Decimal(top) and got_axis / got_step <= 5
    assert tick_label(got_axis, got_step, "pl") == label
