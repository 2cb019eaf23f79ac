"""Meter exchanges, flagged jumps and the staff's review of them (R8), on the real services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import asyncpg
import httpx
import pytest

from contracts import readings, topology
from contracts.billing_system import MeterExchange
from runtime.rpc_client import RpcClient
from tests.conftest import staff_client
from tests.support.customers import logged_in_client, with_active_contract
from tests.support.infra import Infra
from tests.support.mail import MailSink
from tests.support.readings import (
    TODAY,
    add_control_readings,
    add_meters,
    control_reading,
    meter_for,
    outbox_published,
    tap,
)
from tools.billing_sim.dataset import Dataset, SimCustomer

Customer = tuple[SimCustomer, httpx.AsyncClient]


@pytest.fixture(scope="module")
async def ewa(gateway: str, billing_data: Dataset, mail_sink: MailSink) -> AsyncIterator[Customer]:
    customer = with_active_contract(billing_data, 18)
    client = await logged_in_client(gateway, mail_sink, customer, "ewa.exchange")
    yield customer, client
    await client.aclose()


@pytest.fixture(scope="module")
async def jan(gateway: str, billing_data: Dataset, mail_sink: MailSink) -> AsyncIterator[Customer]:
    customer = with_active_contract(billing_data, 19)
    client = await logged_in_client(gateway, mail_sink, customer, "jan.flagged")
    yield customer, client
    await client.aclose()


@pytest.fixture
async def staff_rpc(infra: Infra) -> AsyncIterator[RpcClient]:
    """The staff operations through RabbitMQ, as the gateway's staff routes will call them."""
    client = RpcClient(infra.amqp_url, timeout=5)
    await client.start()
    yield client
    await client.stop()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def exchanged(
    customer: SimCustomer,
    infra: Infra,
    db: asyncpg.Connection,
    *,
    readings: dict[int, str],
    exchanged_days_ago: int,
    final: str,
    initial: str,
) -> tuple[str, str]:
    """An old meter with inspector readings (days ago: m3), replaced by a new one on the given
    day with the old one's final and the new one's initial state: (old serial, new serial)."""
    old = meter_for(customer, installed_on=TODAY - timedelta(days=400))
    await add_meters(infra, db, old)
    await add_control_readings(
        infra,
        db,
        *(control_reading(old.serial, v, TODAY - timedelta(days=d)) for d, v in readings.items()),
    )
    exchanged_on = TODAY - timedelta(days=exchanged_days_ago)
    removed = old.model_copy(
        update={"message_id": uuid.uuid4(), "removed_on": exchanged_on, "revision": 2}
    )
    new = meter_for(
        customer,
        installed_on=exchanged_on,
        exchange=MeterExchange(
            previous_serial=old.serial,
            previous_final_reading=Decimal(final),
            initial_reading=Decimal(initial),
            exchanged_on=exchanged_on,
        ),
    )
    await add_meters(infra, db, removed, new)
    return old.serial, new.serial


async def test_after_a_meter_exchange_the_new_meter_may_read_lower_than_the_old_one(
    ewa: Customer, infra: Infra, db: asyncpg.Connection
) -> None:
    customer, client = ewa
    exchanged_on = TODAY - timedelta(days=10)
    old_serial, new_serial = await exchanged(
        customer,
        infra,
        db,
        readings={60: "500", 30: "520"},
        exchanged_days_ago=10,
        final="530",
        initial="0.5",
    )

    # The new meter starts at its initial 0.5 m3, far below the old meter's 530.
    below_initial = await client.post(
        "/api/v1/readings", json={"serial": new_serial, "value": "0.4"}
    )
    assert below_initial.status_code == 422
    assert below_initial.json()["code"] == "reading_below_previous"
    lower = await client.post("/api/v1/readings", json={"serial": new_serial, "value": "3.2"})
    assert lower.status_code == 201, lower.text
    assert lower.json()["flagged"] is False  # 2.7 m3 in 10 days, like the 1 m3/day before
    on_old = await client.post("/api/v1/readings", json={"serial": old_serial, "value": "531"})
    assert on_old.status_code == 422 and on_old.json()["code"] == "meter_removed"

    old_history = (await client.get("/api/v1/readings", params={"serial": old_serial})).json()
    assert [(r["source"], r["value"], r["read_on"]) for r in old_history["items"]] == [
        ("meter_exchange", "530.000", exchanged_on.isoformat()),
        ("inspector", "520.000", day(-30)),
        ("inspector", "500.000", day(-60)),
    ]
    new_history = (await client.get("/api/v1/readings", params={"serial": new_serial})).json()
    assert [(r["source"], r["value"]) for r in new_history["items"]] == [
        ("customer", "3.200"),
        ("meter_exchange", "0.500"),
    ]
    meters = {m["serial"]: m for m in (await client.get("/api/v1/meters")).json()["items"]}
    assert meters[old_serial]["removed_on"] == exchanged_on.isoformat()
    assert meters[old_serial]["can_submit"] is False
    assert meters[new_serial]["exchange"] == {
        "previous_serial": old_serial,
        "previous_final_reading": "530.000",
        "initial_reading": "0.500",
        "exchanged_on": exchanged_on.isoformat(),
    }


async def test_a_jump_on_a_new_meter_is_judged_by_the_use_of_the_meter_it_replaced(
    ewa: Customer, infra: Infra, db: asyncpg.Connection
) -> None:
    """R8: the recent daily average comes from the meter and the ones it replaced; the new
    meter's own 20 days would be too short a history to judge by."""
    customer, client = ewa
    _, new_serial = await exchanged(
        customer,
        infra,
        db,
        readings={100: "100", 40: "160"},
        exchanged_days_ago=20,
        final="180",
        initial="1",
    )

    # 1 m3 a day on the old meter, then 10 m3 in the new one's first 10 days: plausible.
    steady = await client.post(
        "/api/v1/readings", json={"serial": new_serial, "value": "11", "read_on": day(-10)}
    )
    assert steady.status_code == 201, steady.text
    assert steady.json()["flagged"] is False
    # 40 m3 in the next 10 days is over 3 x 1 m3 a day, known only from the old meter.
    jump = await client.post(
        "/api/v1/readings", json={"serial": new_serial, "value": "51", "read_on": day(0)}
    )
    assert jump.status_code == 201, jump.text
    assert jump.json()["flagged"] is True


async def flagged_setup(customer: SimCustomer, infra: Infra, db: asyncpg.Connection) -> str:
    """A meter used at 1 m3 a day for 60 days, read last 40 days ago at 60 m3."""
    meter = meter_for(customer)
    await add_meters(infra, db, meter)
    await add_control_readings(
        infra,
        db,
        control_reading(meter.serial, "0", TODAY - timedelta(days=100)),
        control_reading(meter.serial, "60", TODAY - timedelta(days=40)),
    )
    return meter.serial


async def test_use_up_to_the_factor_times_recent_average_is_not_flagged(
    jan: Customer, infra: Infra, db: asyncpg.Connection
) -> None:
    customer, client = jan
    serial = await flagged_setup(customer, infra, db)
    # 120 m3 in 40 days is exactly 3 x 1 m3 a day: plausible.
    answer = await client.post("/api/v1/readings", json={"serial": serial, "value": "180"})
    assert answer.status_code == 201
    assert answer.json()["flagged"] is False
    assert answer.json()["reading"]["status"] == "accepted"


async def test_large_jump_is_accepted_flagged_announced_and_reviewed_by_staff(
    jan: Customer,
    infra: Infra,
    db: asyncpg.Connection,
    gateway: str,
    staff_logins: dict[str, tuple[str, str]],
) -> None:
    customer, client = jan
    serial = await flagged_setup(customer, infra, db)
    async with (
        tap(infra, topology.EVENTS_EXCHANGE, "readings.reading-flagged.v1") as events,
        tap(infra, topology.IBOK_OUT_EXCHANGE, "#") as billing_system,
    ):
        answer = await client.post("/api/v1/readings", json={"serial": serial, "value": "180.001"})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["flagged"] is True
        assert "sprawdzi pracownik" in body["message"]
        reading = body["reading"]
        assert (reading["status"], reading["flagged"]) == ("pending_review", True)

        flagged = await events.wait_for(lambda m: m["reading_id"] == reading["reading_id"])
        assert (flagged[0]["serial"], flagged[0]["customer_number"]) == (serial, customer.number)
        assert Decimal(flagged[0]["daily_average_m3"]) == Decimal("1.000")
        assert Decimal(flagged[0]["value"]) == Decimal("180.001")
        submitted = await billing_system.wait_for(
            lambda m: (
                m["schema"] == "reading.submitted.v1" and m["reading_id"] == reading["reading_id"]
            )
        )
        assert submitted[0]["flagged"] is True

        # Staff see it in the review list, through the gateway, with what it was held to.
        care = await staff_client(gateway, *staff_logins["care"])
        try:
            page = (await care.get("/api/v1/staff/readings/flagged", params={"limit": 100})).json()
            mine = next(i for i in page["items"] if i["reading_id"] == reading["reading_id"])
            assert (Decimal(mine["previous_value"]), mine["previous_read_on"]) == (
                Decimal("60.000"),
                (TODAY - timedelta(days=40)).isoformat(),
            )
            assert Decimal(mine["daily_average_m3"]) == Decimal("1.000")
            assert mine["customer_number"] == customer.number
            # A customer's session does not open the staff route.
            assert (await client.get("/api/v1/staff/readings/flagged")).status_code == 401

            review = f"/api/v1/staff/readings/{reading['reading_id']}/review"
            no_reason = await care.post(review, json={"decision": "rejected", "reason": " "})
            assert no_reason.json()["code"] == "review_reason_required"

            reason = "Zdjęcie licznika pokazuje 118 m³ <sprawdzone>."
            reviewed = await care.post(review, json={"decision": "rejected", "reason": reason})
            assert reviewed.status_code == 200, reviewed.text
            assert (
                reviewed.json()["status"],
                reviewed.json()["reviewed_by"],
                reviewed.json()["review_reason"],
            ) == ("rejected", staff_logins["care"][0], reason)
            decision = await billing_system.wait_for(
                lambda m: (
                    m["schema"] == "readings.reading-reviewed.v1"
                    and m["reading_id"] == reading["reading_id"]
                )
            )
            assert decision[0]["decision"] == "rejected"
            for message in await billing_system.collect():
                if message.get("reading_id") == reading["reading_id"]:
                    await outbox_published(db, message["message_id"])
            counts = [
                m["schema"]
                for m in await billing_system.collect()
                if m.get("reading_id") == reading["reading_id"]
            ]
            assert sorted(counts) == ["reading.submitted.v1", "readings.reading-reviewed.v1"]

            twice = await care.post(review, json={"decision": "accepted"})
            assert (twice.json()["code"], twice.status_code) == ("reading_already_reviewed", 409)
            pending = (await care.get("/api/v1/staff/readings/flagged")).json()["items"]
            assert all(i["reading_id"] != reading["reading_id"] for i in pending)
        finally:
            await care.aclose()

    # The customer sees the outcome and the reason,
    history = (await client.get("/api/v1/readings", params={"serial": serial})).json()["items"]
    assert (history[0]["status"], history[0]["review_reason"]) == ("rejected", reason)
    # and may be replaced the same day by a lower one: the rejected value no longer counts.
    lower = await client.post("/api/v1/readings", json={"serial": serial, "value": "100"})
    assert lower.status_code == 200, lower.text
    assert (lower.json()["replaced"], lower.json()["reading"]["status"]) == (True, "accepted")


async def test_flagged_list_pages_oldest_first(
    jan: Customer, infra: Infra, db: asyncpg.Connection, staff_rpc: RpcClient
) -> None:
    customer, client = jan
    ids = []
    for _ in range(3):
        serial = await flagged_setup(customer, infra, db)
        answer = await client.post("/api/v1/readings", json={"serial": serial, "value": "999"})
        assert answer.json()["flagged"] is True
        ids.append(answer.json()["reading"]["reading_id"])
    seen: list[str] = []
    cursor = None
    while True:
        page = await staff_rpc.call(
            readings.FLAGGED_READINGS,
            readings.FlaggedReadingsQuery(status="all", limit=2, cursor=cursor),
        )
        assert len(page.items) <= 2
        seen += [str(i.reading_id) for i in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in ids] == ids
