"""One short function per message the readings service receives."""

from __future__ import annotations

from contracts.billing_system import MeterUpserted
from runtime.messaging import first_delivery
from runtime.service import ServiceRuntime
from services.readings import store


async def upsert_meter(rt: ServiceRuntime, msg: MeterUpserted) -> None:
    async with rt.pool.acquire() as conn, conn.transaction():
        if await first_delivery(conn, msg):
            await store.upsert_meter(conn, msg)
