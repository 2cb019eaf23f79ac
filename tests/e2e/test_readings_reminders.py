"""R7.6: legalizacja reminders 90 and 30 days before expiry, each once, on meters as they arrive
and from the daily sweep."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from contracts import topology
from contracts.billing_system import MeterUpserted
from runtime.service import ServiceRuntime
from runtime.settings import Settings
from services.readings import handlers, store
from tests.support.infra import Infra, drop_database, unique
from tests.support.readings import TODAY, add_meters, tap, wait_until

REMINDER = "readings.legalization-expiring.v1"


def meter(serial: str, customer: str, expires: date, revision: int = 1) -> MeterUpserted:
    return MeterUpserted(
        serial=serial,
        premises_id=f"P{customer}-1",
        customer_number=customer,
        diameter_mm=15,
        installed_on=date(2020, 5, 4),
        legalization_expires=expires,
        revision=revision,
    )


async def reminders_of(db: asyncpg.Connection, serial: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT convert_from(body, 'UTF8') AS body FROM readings.outbox"
        " WHERE routing_key = $1 AND convert_from(body, 'UTF8')::jsonb->>'serial' = $2"
        " ORDER BY id",
        REMINDER,
        serial,
    )
    return [json.loads(row["body"]) for row in rows]


async def test_meter_arriving_near_expiry_is_announced_once_per_expiry_date(
    infra: Infra, db: asyncpg.Connection, system: object
) -> None:
    # A customer number of our own: nobody has an account, so notify will email no one.
    customer = "R9000170"
    soon, later = f"LG{uuid.uuid4().hex[:8]}", f"LG{uuid.uuid4().hex[:8]}"
    async with tap(infra, topology.EVENTS_EXCHANGE, REMINDER) as events:
        await add_meters(
            infra,
            db,
            meter(soon, customer, TODAY + timedelta(days=20)),
            meter(later, customer, TODAY + timedelta(days=80)),
        )
        found = await events.wait_for(lambda m: m["serial"] in (soon, later), count=2)
    by_serial = {m["serial"]: m for m in found}
    assert by_serial[soon]["days_before"] == 30
    assert by_serial[soon]["expires_on"] == (TODAY + timedelta(days=20)).isoformat()
    assert by_serial[soon]["customer_number"] == customer
    assert by_serial[later]["days_before"] == 90

    # The same expiry again: nothing new. A renewed legalizacja is a new date: told again.
    await add_meters(infra, db, meter(soon, customer, TODAY + timedelta(days=20), revision=2))
    assert len(await reminders_of(db, soon)) == 1
    await add_meters(infra, db, meter(soon, customer, TODAY + timedelta(days=25), revision=3))
    await wait_until(
        db,
        "SELECT count(*) = 2 FROM readings.legalization_reminders WHERE serial = $1",
        soon,
    )
    assert [m["expires_on"] for m in await reminders_of(db, soon)] == [
        (TODAY + timedelta(days=20)).isoformat(),
        (TODAY + timedelta(days=25)).isoformat(),
    ]


@pytest.fixture
async def own_readings_service(infra: Infra) -> AsyncIterator[handlers.Readings]:
    """The readings service's storage in a database of its own: its outbox reaches no broker."""
    database = unique("ibok_sweep")
    settings = Settings(postgres_dsn=f"{infra.postgres_base}/{database}", amqp_url=infra.amqp_url)
    rt = ServiceRuntime("readings", settings, Path(handlers.__file__).parent / "migrations")
    await rt._start()  # database, migrations and pool; no broker, no relay
    try:
        yield handlers.Readings(rt)
    finally:
        await rt._stop()
        await drop_database(infra.postgres_base, database)


async def test_daily_sweep_sends_each_due_reminder_once_as_days_pass(
    own_readings_service: handlers.Readings,
) -> None:
    r = own_readings_service
    day0 = date(2026, 1, 10)
    async with r.pool.acquire() as conn:
        await store.upsert_meter(conn, meter("SW1", "K1", day0 + timedelta(days=120)))
        await store.upsert_meter(conn, meter("SW2", "K2", day0 + timedelta(days=10)))
        removed = meter("SW3", "K3", day0 + timedelta(days=10)).model_copy(
            update={"removed_on": day0 - timedelta(days=1)}
        )
        await store.upsert_meter(conn, removed)

    assert await handlers.send_legalization_reminders(r, day0) == 1  # SW2: 30 days
    assert await handlers.send_legalization_reminders(r, day0) == 0  # idempotent
    assert await handlers.send_legalization_reminders(r, day0 + timedelta(days=29)) == 0
    assert await handlers.send_legalization_reminders(r, day0 + timedelta(days=30)) == 1  # SW1: 90
    assert await handlers.send_legalization_reminders(r, day0 + timedelta(days=60)) == 0
    assert await handlers.send_legalization_reminders(r, day0 + timedelta(days=90)) == 1  # SW1: 30
    assert await handlers.send_legalization_reminders(r, day0 + timedelta(days=121)) == 0

    async with r.pool.acquire() as conn:
        sent = await conn.fetch(
            "SELECT convert_from(body, 'UTF8')::jsonb->>'serial' AS serial,"
            " (convert_from(body, 'UTF8')::jsonb->>'days_before')::int AS days, exchange"
            " FROM outbox ORDER BY id"
        )
    assert [(s["serial"], s["days"], s["exchange"]) for s in sent] == [
        ("SW2", 30, topology.EVENTS_EXCHANGE),
        ("SW1", 90, topology.EVENTS_EXCHANGE),
        ("SW1", 30, topology.EVENTS_EXCHANGE),
    ]
