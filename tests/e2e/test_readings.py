"""Meters and readings through the gateway, RabbitMQ and PostgreSQL (R1, R7.5, R7.6, R8)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from contracts import topology
from contracts.base import Envelope
from contracts.billing_system import (
    InvoiceCancelled,
    InvoiceCorrected,
    InvoiceIssued,
    InvoiceLine,
)
from tests.support.customers import logged_in_client, with_active_contract
from tests.support.infra import Infra
from tests.support.mail import MailSink
from tests.support.readings import (
    TODAY,
    add_control_readings,
    add_customer,
    add_meters,
    control_reading,
    extra_customer,
    meter_for,
    outbox_published,
    publish_billing,
    tap,
    wait_until,
)
from tools.billing_sim.dataset import Dataset, SimCustomer

Customer = tuple[SimCustomer, httpx.AsyncClient]


@pytest.fixture(scope="module")
async def ula(gateway: str, billing_data: Dataset, mail_sink: MailSink) -> AsyncIterator[Customer]:
    customer = with_active_contract(billing_data, 16)
    client = await logged_in_client(gateway, mail_sink, customer, "ula.readings")
    yield customer, client
    await client.aclose()


@pytest.fixture(scope="module")
async def olek(gateway: str, billing_data: Dataset, mail_sink: MailSink) -> AsyncIterator[Customer]:
    customer = with_active_contract(billing_data, 17)
    client = await logged_in_client(gateway, mail_sink, customer, "olek.readings")
    yield customer, client
    await client.aclose()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def customer_readings(db: asyncpg.Connection, serial: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM readings.readings WHERE serial = $1 AND source = 'customer'",
            serial,
        )
    )


# --- meters (R7.6) --------------------------------------------------------------------------------


async def test_customer_sees_own_meters_with_premises_legalization_days_left_and_last_reading(
    ula: Customer, infra: Infra, db: asyncpg.Connection
) -> None:
    customer, client = ula
    extra = meter_for(customer, legalization_expires=TODAY + timedelta(days=400))
    await add_meters(infra, db, extra)
    await add_control_readings(
        infra, db, control_reading(extra.serial, "42.5", TODAY - timedelta(days=3))
    )

    answer = await client.get("/api/v1/meters")
    assert answer.status_code == 200, answer.text
    by_serial = {m["serial"]: m for m in answer.json()["items"]}
    assert set(by_serial) >= {m.serial for m in customer.meters} | {extra.serial}

    mine = by_serial[extra.serial]
    assert mine["premises_id"] == customer.contracts[0].premises.premises_id
    assert mine["premises_address"]["city"] == customer.contracts[0].premises.address.city
    assert mine["contract_number"] == customer.contracts[0].contract_number
    assert mine["diameter_mm"] == 20
    assert mine["legalization_expires"] == day(400)
    assert mine["legalization_days_left"] == 400
    assert mine["last_reading"] == {"value": "42.500", "read_on": day(-3), "source": "inspector"}
    assert mine["can_submit"] is True
    simulated = customer.meters[0]
    assert (
        by_serial[simulated.serial]["legalization_days_left"]
        == (simulated.legalization_expires - TODAY).days
    )
    assert by_serial[simulated.serial]["installed_on"] == simulated.installed_on.isoformat()

    first = await client.get("/api/v1/meters", params={"limit": 1})
    assert len(first.json()["items"]) == 1 and first.json()["next_cursor"]


async def test_meters_need_a_session(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as anonymous:
        answer = await anonymous.get("/api/v1/meters")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")


# --- submission and the billing system (R8) -------------------------------------------------------


async def test_accepted_reading_reaches_the_billing_system_exactly_once(
    ula: Customer, infra: Infra, db: asyncpg.Connection
) -> None:
    customer, client = ula
    meter = meter_for(customer)
    await add_meters(infra, db, meter)
    await add_control_readings(
        infra, db, control_reading(meter.serial, "100", TODAY - timedelta(days=30))
    )
    async with tap(infra, topology.IBOK_OUT_EXCHANGE, "reading.submitted.v1") as billing_system:
        answer = await client.post(
            "/api/v1/readings", json={"serial": meter.serial, "value": "105.5"}
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["flagged"] is False and body["replaced"] is False
        assert body["message"] == "Odczyt przyjęty."
        reading = body["reading"]
        assert reading["value"] == "105.500"
        assert reading["read_on"] == TODAY.isoformat()  # today in Warsaw by default
        assert (reading["source"], reading["status"], reading["revision"]) == (
            "customer",
            "accepted",
            1,
        )

        sent = await billing_system.wait_for(lambda m: m["reading_id"] == reading["reading_id"])
        await outbox_published(db, sent[0]["message_id"])
        everything = await billing_system.collect()
    mine = [m for m in everything if m["reading_id"] == reading["reading_id"]]
    assert len(mine) == 1
    assert mine[0]["schema"] == "reading.submitted.v1"
    assert (mine[0]["serial"], mine[0]["customer_number"]) == (meter.serial, customer.number)
    assert (Decimal(mine[0]["value"]), mine[0]["revision"], mine[0]["flagged"]) == (
        Decimal("105.5"),
        1,
        False,
    )


async def test_second_reading_the_same_day_replaces_the_first_while_unbilled(
    ula: Customer, infra: Infra, db: asyncpg.Connection
) -> None:
    customer, client = ula
    meter = meter_for(customer)
    await add_meters(infra, db, meter)
    await add_control_readings(
        infra, db, control_reading(meter.serial, "50", TODAY - timedelta(days=40))
    )
    async with tap(infra, topology.IBOK_OUT_EXCHANGE, "reading.submitted.v1") as billing_system:
        first = await client.post(
            "/api/v1/readings", json={"serial": meter.serial, "value": 60, "read_on": day(0)}
        )
        assert first.status_code == 201, first.text
        second = await client.post(
            "/api/v1/readings",
            json={"serial": meter.serial, "value": 61.25},  # today by default
            headers={"Accept-Language": "en"},
        )
        assert second.status_code == 200, second.text
        body = second.json()
        assert body["replaced"] is True
        assert body["message"] == "Reading accepted: it replaced the reading of the same day."
        reading_id = first.json()["reading"]["reading_id"]
        assert body["reading"]["reading_id"] == reading_id
        assert (body["reading"]["value"], body["reading"]["revision"]) == ("61.250", 2)

        # The replacement is still held to the previous reading (the inspector's 50 m3).
        below = await client.post(
            "/api/v1/readings", json={"serial": meter.serial, "value": "49.999"}
        )
        assert below.status_code == 422 and below.json()["code"] == "reading_below_previous"

        sent = await billing_system.wait_for(lambda m: m["reading_id"] == reading_id, count=2)
        for message in sent:
            await outbox_published(db, message["message_id"])
        everything = await billing_system.collect()
    revisions = sorted(
        (m["revision"], m["value"]) for m in everything if m["reading_id"] == reading_id
    )
    assert revisions == [(1, "60.000"), (2, "61.250")]

    history = await client.get("/api/v1/readings", params={"serial": meter.serial})
    readings = history.json()["items"]
    assert [(r["source"], r["value"], r["read_on"]) for r in readings] == [
        ("customer", "61.250", day(0)),
        ("inspector", "50.000", day(-40)),
    ]


# --- refusals (R8), each clear, in Polish and English, changing nothing ---------------------------


async def test_reading_below_previous_is_refused_in_polish_and_english(
    olek: Customer, infra: Infra, db: asyncpg.Connection
) -> None:
    customer, client = olek
    meter = meter_for(customer)
    await add_meters(infra, db, meter)
    await add_control_readings(
        infra, db, control_reading(meter.serial, "120.5", TODAY - timedelta(days=10))
    )

    polish = await client.post("/api/v1/readings", json={"serial": meter.serial, "value": "120.4"})
    assert polish.status_code == 422
    assert polish.headers["content-type"].startswith("application/problem+json")
    problem = polish.json()
    assert problem["code"] == "reading_below_previous"
    assert problem["type"].endswith("/reading_below_previous")
    assert "poprzedni odczyt (120.500 m³" in problem["detail"]

    english = await client.post(
        "/api/v1/readings",
        json={"serial": meter.serial, "value": "120.4"},
        headers={"Accept-Language": "en-GB,en;q=0.9"},
    )
    assert english.json()["code"] == "reading_below_previous"
    assert english.json()["detail"].startswith("The reading cannot be below the previous one")
    assert await customer_readings(db, meter.serial) == 0

    equal = await client.post("/api/v1/readings", json={"serial": meter.serial, "value": "120.5"})
    assert equal.status_code == 201


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"value": "10", "read_on": day(1)}, "reading_in_future"),
        ({"value": "10", "read_on": day(-401)}, "reading_before_installation"),
        ({"value": 12.3456}, "reading_value_precision"),
        ({"value": "12.3456"}, "reading_value_precision"),
        ({"value": "-1"}, "reading_value_invalid"),
    ],
)
async def test_impossible_reading_is_refused_and_changes_nothing(
    olek: Customer, infra: Infra, db: asyncpg.Connection, body: dict[str, object], code: str
) -> None:
    customer, client = olek
    meter = meter_for(customer, installed_on=TODAY - timedelta(days=400))
    await add_meters(infra, db, meter)
    answer = await client.post("/api/v1/readings", json={"serial": meter.serial, **body})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code
    assert answer.json()["detail"]
    assert await customer_readings(db, meter.serial) == 0
    assert not await db.fetchval(
        "SELECT count(*) FROM readings.outbox WHERE convert_from(body, 'UTF8')::jsonb->>'serial' = $1",
        meter.serial,
    )


async def test_another_customers_meter_answers_404_like_an_unknown_one(
    olek: Customer, billing_data: Dataset, db: asyncpg.Connection
) -> None:
    _, client = olek
    someone_else = with_active_contract(billing_data, 16).meters[0].serial
    before = await customer_readings(db, someone_else)
    theirs = await client.post("/api/v1/readings", json={"serial": someone_else, "value": "1"})
    unknown = await client.post("/api/v1/readings", json={"serial": "NOSUCH1", "value": "1"})
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json()
    assert theirs.json()["code"] == "meter_not_found"
    assert await customer_readings(db, someone_else) == before
    history = await client.get("/api/v1/readings", params={"serial": someone_else})
    assert history.status_code == 200 and history.json()["items"] == []


async def test_control_readings_are_shown_with_their_source(
    olek: Customer, infra: Infra, db: asyncpg.Connection
) -> None:
    customer, client = olek
    meter = meter_for(customer)
    await add_meters(infra, db, meter)
    await add_control_readings(
        infra,
        db,
        control_reading(meter.serial, "10", TODAY - timedelta(days=90), "inspector"),
        control_reading(meter.serial, "20", TODAY - timedelta(days=60), "estimate"),
    )
    submitted = await client.post("/api/v1/readings", json={"serial": meter.serial, "value": "25"})
    assert submitted.status_code == 201
    history = (await client.get("/api/v1/readings", params={"serial": meter.serial})).json()
    assert [(r["source"], r["value"], r["status"]) for r in history["items"]] == [
        ("customer", "25.000", "accepted"),
        ("estimate", "20.000", "accepted"),
        ("inspector", "10.000", "accepted"),
    ]


async def test_history_filters_by_meter_and_dates_and_pages_with_a_cursor(
    olek: Customer, infra: Infra, db: asyncpg.Connection
) -> None:
    customer, client = olek
    meter, other = meter_for(customer), meter_for(customer)
    await add_meters(infra, db, meter, other)
    await add_control_readings(
        infra,
        db,
        *[
            control_reading(meter.serial, str(10 * k), TODAY - timedelta(days=70 - 10 * k))
            for k in range(7)
        ],
        control_reading(other.serial, "5", TODAY - timedelta(days=5)),
    )
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"serial": meter.serial, "limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/readings", params=params)).json()
        seen += [r["read_on"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [day(-70 + 10 * k) for k in reversed(range(7))]  # newest first, no repeats

    ranged = await client.get(
        "/api/v1/readings", params={"serial": meter.serial, "from": day(-50), "to": day(-30)}
    )
    assert [r["read_on"] for r in ranged.json()["items"]] == [day(-30), day(-40), day(-50)]
    both = await client.get("/api/v1/readings", params={"from": day(-5), "to": day(-5)})
    assert {r["serial"] for r in both.json()["items"]} >= {other.serial}

    bad = await client.get("/api/v1/readings", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"
    bad_limit = await client.get("/api/v1/readings", params={"limit": "101"})
    assert bad_limit.status_code == 400


# --- R1 and "unbilled": our own customers, so the contract can end and invoices arrive ------------


@asynccontextmanager
async def registered_extra(
    infra: Infra, db: asyncpg.Connection, gateway: str, mail_sink: MailSink, number: str, login: str
) -> AsyncIterator[tuple[SimCustomer, httpx.AsyncClient]]:
    customer = extra_customer(number, contract_start=TODAY - timedelta(days=800))
    customer.meters.append(meter_for(customer, installed_on=TODAY - timedelta(days=700)))
    await add_customer(infra, db, customer)
    client = await logged_in_client(gateway, mail_sink, customer, login)
    try:
        yield customer, client
    finally:
        await client.aclose()


async def test_customer_whose_contract_ended_keeps_history_but_cannot_submit(
    billing_data: Dataset, infra: Infra, db: asyncpg.Connection, gateway: str, mail_sink: MailSink
) -> None:
    async with registered_extra(infra, db, gateway, mail_sink, "R9000161", "ended.r1") as (
        customer,
        client,
    ):
        serial = customer.meters[0].serial
        ok = await client.post(
            "/api/v1/readings", json={"serial": serial, "value": "7", "read_on": day(-3)}
        )
        assert ok.status_code == 201, ok.text

        ended = customer.contracts[0].model_copy(
            update={
                "message_id": uuid.uuid4(),
                "status": "ended",
                "end_date": TODAY - timedelta(days=1),
                "revision": 2,
            }
        )
        await publish_billing(infra, ended)
        await wait_until(
            db,
            "SELECT status = 'ended' FROM readings.contracts WHERE contract_number = $1",
            ended.contract_number,
        )

        refused = await client.post("/api/v1/readings", json={"serial": serial, "value": "8"})
        assert refused.status_code == 403
        assert refused.json()["code"] == "contract_not_active"
        assert "nie jest aktywna" in refused.json()["detail"]
        assert await customer_readings(db, serial) == 1

        history = await client.get("/api/v1/readings")
        assert [r["value"] for r in history.json()["items"]] == ["7.000"]
        meters = (await client.get("/api/v1/meters")).json()["items"]
        assert [m["can_submit"] for m in meters] == [False]


def settling_invoice(customer: SimCustomer, period_to: date) -> InvoiceIssued:
    line = InvoiceLine(
        description="Woda",
        quantity=Decimal("7.000"),
        unit="m3",
        unit_price_grosze=500,
        net_grosze=3500,
        vat_rate_percent=8,
        vat_grosze=280,
        gross_grosze=3780,
    )
    return InvoiceIssued(
        number=f"FV/{customer.number}/1",
        customer_number=customer.number,
        contract_number=customer.contracts[0].contract_number,
        issued_on=TODAY,
        sale_date=TODAY,
        due_date=TODAY + timedelta(days=14),
        period_from=TODAY - timedelta(days=30),
        period_to=period_to,
        lines=[line],
        net_grosze=3500,
        vat_grosze=280,
        gross_grosze=3780,
    )


async def test_reading_of_a_billed_period_can_no_longer_be_replaced(
    billing_data: Dataset, infra: Infra, db: asyncpg.Connection, gateway: str, mail_sink: MailSink
) -> None:
    async with registered_extra(infra, db, gateway, mail_sink, "R9000162", "billed.r8") as (
        customer,
        client,
    ):
        serial = customer.meters[0].serial
        await add_control_readings(
            infra, db, control_reading(serial, "10", TODAY - timedelta(days=1))
        )
        # A backdated reading is held to the later one too.
        above = await client.post(
            "/api/v1/readings", json={"serial": serial, "value": "10.001", "read_on": day(-2)}
        )
        assert above.status_code == 422 and above.json()["code"] == "reading_above_next"
        first = await client.post(
            "/api/v1/readings", json={"serial": serial, "value": "7", "read_on": day(-2)}
        )
        assert first.status_code == 201
        # The billing system settles the period up to that day: the reading is billed now.
        invoice = settling_invoice(customer, TODAY - timedelta(days=2))
        await publish_billing(infra, invoice)
        await wait_until(
            db,
            "SELECT true FROM readings.settled_invoices WHERE invoice_number = $1",
            invoice.number,
        )
        again = await client.post(
            "/api/v1/readings", json={"serial": serial, "value": "8", "read_on": day(-2)}
        )
        assert again.status_code == 409
        assert again.json()["code"] == "reading_period_billed"
        history = (await client.get("/api/v1/readings")).json()["items"]
        assert [(r["source"], r["value"], r["revision"]) for r in history] == [
            ("inspector", "10.000", 1),
            ("customer", "7.000", 1),
        ]
        # After the settled period readings go on as usual.
        later = await client.post("/api/v1/readings", json={"serial": serial, "value": "10.5"})
        assert later.status_code == 201, later.text


async def _billing_rows(db: asyncpg.Connection, serial: str, numbers: list[str]) -> list[Any]:
    """Everything readings keeps of the meter and invoices (timestamps left out)."""
    meters = await db.fetch(
        "SELECT serial, customer_number, legalization_expires, revision FROM readings.meters"
        " WHERE serial = $1",
        serial,
    )
    readings = await db.fetch(
        "SELECT external_id, customer_number, value, read_on, source FROM readings.readings"
        " WHERE serial = $1 ORDER BY external_id",
        serial,
    )
    invoices = await db.fetch(
        "SELECT invoice_number, contract_number, period_to, cancelled"
        " FROM readings.settled_invoices WHERE invoice_number = ANY($1::text[])"
        " ORDER BY invoice_number",
        numbers,
    )
    return [tuple(r) for r in [*meters, *readings, *invoices]]


async def test_billing_messages_published_together_apply_in_delivery_order_once(
    infra: Infra, db: asyncpg.Connection
) -> None:
    """One publish, so readings takes them in one batch (or a few): each applied as it would be
    alone, in delivery order: the control reading finds the meter that came just before it (and
    so its customer), a correction settles under its own number, the cancellation marks the
    invoice issued before it, an invoice issued in advance settles nothing (R8), and an older
    revision of the meter after a newer one changes nothing. The same messages again change no
    row."""
    customer = extra_customer("R9000172", contract_start=TODAY - timedelta(days=800))
    await add_customer(infra, db, customer)
    contract = customer.contracts[0].contract_number
    first = meter_for(customer, legalization_expires=TODAY + timedelta(days=900))
    newer = first.model_copy(
        update={
            "revision": 2,
            "legalization_expires": TODAY + timedelta(days=1000),
            "message_id": uuid.uuid4(),
        }
    )
    older = first.model_copy(update={"message_id": uuid.uuid4()})
    reading = control_reading(first.serial, "12.5", TODAY - timedelta(days=1))
    issued = settling_invoice(customer, TODAY - timedelta(days=40)).model_copy(
        update={"number": "FV/R9000172/1"}
    )
    corrected = InvoiceCorrected(
        corrected_number=issued.number,
        correction=issued.model_copy(
            update={"number": "FV/R9000172/1K", "period_to": TODAY - timedelta(days=35)}
        ),
        reason="korekta okresu",
    )
    in_advance = settling_invoice(customer, TODAY + timedelta(days=30)).model_copy(
        update={"number": "FV/R9000172/2"}
    )
    to_cancel = settling_invoice(customer, TODAY - timedelta(days=10)).model_copy(
        update={"number": "FV/R9000172/3"}
    )
    cancelled = InvoiceCancelled(number=to_cancel.number, customer_number=customer.number)
    messages: list[Envelope] = [
        first,
        reading,
        issued,
        corrected,
        in_advance,
        to_cancel,
        cancelled,
        newer,
        older,
    ]
    numbers = [issued.number, corrected.correction.number, in_advance.number, to_cancel.number]

    await publish_billing(infra, *messages)
    await wait_until(
        db,
        "SELECT true FROM readings.meters WHERE serial = $1 AND revision = 2",
        first.serial,
    )
    await wait_until(
        db,
        "SELECT count(*) = 3 FROM readings.settled_invoices WHERE invoice_number = ANY($1)",
        numbers,
    )
    rows = await _billing_rows(db, first.serial, numbers)
    assert rows == [
        (first.serial, customer.number, TODAY + timedelta(days=1000), 2),
        (reading.reading_id, customer.number, Decimal("12.500"), reading.read_on, "inspector"),
        (issued.number, contract, TODAY - timedelta(days=40), False),
        (corrected.correction.number, contract, TODAY - timedelta(days=35), False),
        (to_cancel.number, contract, TODAY - timedelta(days=10), True),
    ]

    # Delivered again (same message ids), in one batch: the inbox makes every one a no-op.
    await publish_billing(infra, *messages)
    marker = control_reading(first.serial, "13", TODAY)
    await add_control_readings(infra, db, marker)  # applied after the repeats
    after = await _billing_rows(db, first.serial, numbers)
    marker_row = (marker.reading_id, customer.number, Decimal("13.000"), TODAY, "inspector")
    assert len(after) == len(rows) + 1
    assert set(after) == {*rows, marker_row}
