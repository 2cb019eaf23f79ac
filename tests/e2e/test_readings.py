"""Meters and readings through the gateway, RabbitMQ and PostgreSQL (R1, R7.5, R7.6, R8)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
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
    settling_invoice,
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
