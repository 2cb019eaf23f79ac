"""R7.6: the daily sweep of legalizacja reminders, 90 and 30 days before expiry, each once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from contracts import topology
from runtime.service import ServiceRuntime
from runtime.settings import Settings
from services.readings import handlers
from services.readings.ingest import store
from tests.support.infra import create_database, drop_database, unique
from tests.support.readings import expiring_meter


@pytest.fixture
async def own_readings_service(settings: Settings) -> AsyncIterator[handlers.Readings]:
    """The readings service in a database of its own: the sweep sees only this test's meters."""
    base = settings.postgres_dsn.rsplit("/", 1)[0]
    database = unique("ibok_sweep")
    await create_database(base, database)
    own = settings.model_copy(update={"postgres_dsn": f"{base}/{database}"})
    rt = ServiceRuntime("readings", own, Path(handlers.__file__).parent / "migrations")
    try:
        async with rt.database():
            yield handlers.Readings(rt)
    finally:
        await drop_database(base, database)


async def test_daily_sweep_sends_each_due_reminder_once_as_days_pass(
    own_readings_service: handlers.Readings,
) -> None:
    r = own_readings_service
    day0 = date(2026, 1, 10)
    async with r.pool.acquire() as conn:
        await store.upsert_meter(conn, expiring_meter("SW1", "K1", day0 + timedelta(days=120)))
        await store.upsert_meter(conn, expiring_meter("SW2", "K2", day0 + timedelta(days=10)))
        removed = expiring_meter("SW3", "K3", day0 + timedelta(days=10)).model_copy(
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
