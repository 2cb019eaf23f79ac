"""R7.7 through the gateway: consumption figures against hand-computed values, and the chart.

The fixture (a customer of our own, billing periods of two months from December 2023):

    meter A, installed 2023-12-15      meter B replaced A on 2025-02-20
    2023-12-31     5.000 inspector      2025-02-20     0.500 initial (A's final: 473.000)
    2024-03-31    96.000 inspector      2025-03-31   117.500 inspector
    2024-04-30   126.000 estimate       2025-04-10   132.500 estimate
    2024-12-31   371.000 inspector
    2025-02-14   461.000 inspector

2024 runs at 1 m³ a day over uneven gaps (91, 30 and 245 days); 1 Jan - 20 Feb 2025 at
2 a day (A's final 473 adds 12 for 15-20 Feb); B then runs at 3 a day, and 1.5 a day in April.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from contracts.billing_system import MeterExchange
from tests.support.customers import logged_in_client
from tests.support.infra import Infra
from tests.support.mail import MailSink
from tests.support.readings import (
    add_control_readings,
    add_customer,
    add_meters,
    control_reading,
    extra_customer,
    meter_for,
)

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
async def zofia(
    infra: Infra, gateway: str, mail_sink: MailSink
) -> AsyncIterator[httpx.AsyncClient]:
    customer = extra_customer("R9000180", contract_start=date(2023, 12, 15), period_months=2)
    old = meter_for(customer, "RTC180A", installed_on=date(2023, 12, 15), is_main=True)
    customer.meters.append(old)
    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        await add_customer(infra, db, customer)
        await add_control_readings(
            infra,
            db,
            control_reading(old.serial, "5", date(2023, 12, 31)),
            control_reading(old.serial, "96", date(2024, 3, 31)),
            control_reading(old.serial, "126", date(2024, 4, 30), "estimate"),
            control_reading(old.serial, "371", date(2024, 12, 31)),
            control_reading(old.serial, "461", date(2025, 2, 14)),
        )
        exchange = MeterExchange(
            previous_serial=old.serial,
            previous_final_reading=Decimal("473"),
            initial_reading=Decimal("0.5"),
            exchanged_on=date(2025, 2, 20),
        )
        new = meter_for(
            customer, "RTC180B", installed_on=date(2025, 2, 20), is_main=True, exchange=exchange
        )
        removed = old.model_copy(
            update={"message_id": uuid.uuid4(), "removed_on": date(2025, 2, 20), "revision": 2}
        )
        await add_meters(infra, db, removed, new)
        await add_control_readings(
            infra,
            db,
            control_reading(new.serial, "117.5", date(2025, 3, 31)),
            control_reading(new.serial, "132.5", date(2025, 4, 10), "estimate"),
        )
    finally:
        await db.close()
    client = await logged_in_client(gateway, mail_sink, customer, "zofia.consumption")
    yield client
    await client.aclose()


def figures(item: dict[str, Any]) -> tuple[Any, ...]:
    return (
        item["label"],
        item["consumption_m3"],
        item["covered_days"],
        item["daily_average_m3"],
        item["previous_year_m3"],
        item["change_percent"],
    )


async def test_monthly_consumption_matches_hand_computed_figures(
    zofia: httpx.AsyncClient,
) -> None:
    answer = await zofia.get(
        "/api/v1/consumption", params={"group": "month", "from": "2025-01-01", "to": "2025-04-30"}
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["premises_id"], report["premises"]) == ("PR9000180-1", ["PR9000180-1"])
    assert [figures(i) for i in report["items"]] == [
        # January: 31 days at 2; January 2024: 31 at 1.
        ("2025-01", "62.000", 31, "2.000", "31.000", "100.0"),
        # February: 14 x 2 + A's final 473 - 461 + 8 days of B at 3 = 64 over 28 days,
        # against leap February 2024's 29.
        ("2025-02", "64.000", 28, "2.286", "29.000", "120.7"),
        ("2025-03", "93.000", 31, "3.000", "31.000", "200.0"),
        # April is known up to the 10th only: no change is claimed for a partial month.
        ("2025-04", "15.000", 10, "1.500", "30.000", None),
    ]
    assert [i["complete"] for i in report["items"]] == [True, True, True, False]
    assert (report["total_m3"], report["covered_days"], report["average_daily_m3"]) == (
        "234.000",
        100,
        "2.340",
    )
    assert report["previous_year_average_daily_m3"] == "1.000"
    assert report["trend"] == {"direction": "rising", "change_percent": "134.0"}


async def test_consumption_per_billing_period_matches_hand_computed_figures(
    zofia: httpx.AsyncClient,
) -> None:
    answer = await zofia.get(
        "/api/v1/consumption",
        params={"group": "period", "from": "2025-01-01", "to": "2025-04-30"},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["billing_period_months"] == 2
    assert [figures(i) for i in report["items"]] == [
        # December 2024 (31 at 1) + January (62); December 2023 is not known: no comparison.
        ("2024-12/2025-01", "93.000", 62, "1.500", None, None),
        # February + March against February + March 2024 (29 + 31).
        ("2025-02/2025-03", "157.000", 59, "2.661", "60.000", "161.7"),
        ("2025-04/2025-05", "15.000", 10, "1.500", "61.000", None),
    ]
    assert (report["date_from"], report["date_to"]) == ("2024-12-01", "2025-05-31")
    assert (report["total_m3"], report["covered_days"]) == ("265.000", 131)


async def test_consumption_chart_is_valid_accessible_svg_with_axes_and_values(
    zofia: httpx.AsyncClient,
) -> None:
    params = {"from": "2025-01-01", "to": "2025-04-30"}
    answer = await zofia.get("/api/v1/consumption/chart.svg", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(answer.content)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chart-title chart-desc"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.get("id") == "chart-title"
    assert title.text == "Zużycie wody — PR9000180-1"
    assert desc is not None and "razem 234,000 m³" in (desc.text or "")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Zużycie [m³]" in texts and "Miesiąc" in texts
    assert {"2025-01", "2025-02", "2025-03", "2025-04"} <= set(texts)
    bars = [r.find(f"{SVG}title") for r in root.iter(f"{SVG}rect")]
    labels = [b.text for b in bars if b is not None]
    assert "2025-02: 64,000 m³" in labels
    assert "2025-02, rok wcześniej: 29,000 m³" in labels
    assert "2025-04: 15,000 m³ (dane częściowe: 10 z 30 dni)" in labels

    english = await zofia.get(
        "/api/v1/consumption/chart.svg",
        params={**params, "group": "period"},
        headers={"Accept-Language": "en"},
    )
    root = ET.fromstring(english.content)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Consumption [m³]" in texts and "Billing period" in texts
    assert "2025-02/2025-03" in texts


async def test_consumption_refuses_unknown_premises_and_bad_ranges(
    zofia: httpx.AsyncClient,
) -> None:
    other = await zofia.get("/api/v1/consumption", params={"premises": "P000016-1"})
    assert other.status_code == 404 and other.json()["code"] == "premises_not_found"
    backwards = await zofia.get(
        "/api/v1/consumption", params={"from": "2025-02-01", "to": "2025-01-01"}
    )
    assert backwards.status_code == 422 and backwards.json()["code"] == "invalid_date_range"
    bad_group = await zofia.get("/api/v1/consumption", params={"group": "week"})
    assert bad_group.status_code == 400
