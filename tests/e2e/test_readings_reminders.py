"""R7.6: legalizacja reminders 90 and 30 days before expiry, each once, on meters as they arrive
through the broker (the daily sweep is tested in tests/service/readings/test_reminders.py)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from contracts import topology
from tests.support.infra import Infra
from tests.support.readings import TODAY, add_meters, expiring_meter, tap, wait_until

REMINDER = "readings.legalization-expiring.v1"


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
            expiring_meter(soon, customer, TODAY + timedelta(days=20)),
            expiring_meter(later, customer, TODAY + timedelta(days=80)),
        )
        found = await events.wait_for(lambda m: m["serial"] in (soon, later), count=2)
    by_serial = {m["serial"]: m for m in found}
    assert by_serial[soon]["days_before"] == 30
    assert by_serial[soon]["expires_on"] == (TODAY + timedelta(days=20)).isoformat()
    assert by_serial[soon]["customer_number"] == customer
    assert by_serial[later]["days_before"] == 90

    # The same expiry again: nothing new. A renewed legalizacja is a new date: told again.
    await add_meters(
        infra, db, expiring_meter(soon, customer, TODAY + timedelta(days=20), revision=2)
    )
    assert len(await reminders_of(db, soon)) == 1
    await add_meters(
        infra, db, expiring_meter(soon, customer, TODAY + timedelta(days=25), revision=3)
    )
    await wait_until(
        db,
        "SELECT count(*) = 2 FROM readings.legalization_reminders WHERE serial = $1",
        soon,
    )
    assert [m["expires_on"] for m in await reminders_of(db, soon)] == [
        (TODAY + timedelta(days=20)).isoformat(),
        (TODAY + timedelta(days=25)).isoformat(),
    ]
