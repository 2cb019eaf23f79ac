"""Helpers of the service tier (tests/service/): in-process RPC, ingest, and the outbox."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg

from contracts.base import Contract, Envelope
from contracts.billing_system import SyncCompleted
from contracts.rpc import Operation
from runtime.service import ServiceRuntime
from services.billing import handlers as billing_handlers
from services.billing.ingest import handlers as billing_ingest
from services.readings import handlers as readings_handlers
from services.readings.ingest import handlers as readings_ingest
from tools.billing_sim.dataset import Dataset, SimCustomer


class InProcessRpc:
    """Answers a service's RPC calls with another service's handlers, in this process; the
    request and the reply still pass through their JSON, as on the wire."""

    def __init__(self, handlers: dict[Operation[Any, Any], Callable[[Any], Awaitable[Any]]]):
        self._handlers = handlers

    async def call(
        self, operation: Operation[Any, Any], request: Contract, *, timeout: float | None = None
    ) -> Any:
        sent = type(request).model_validate_json(request.model_dump_json())
        reply = await self._handlers[operation](sent)
        return operation.reply.model_validate_json(reply.model_dump_json())


async def ingest_billing(b: billing_handlers.Billing, messages: Sequence[Envelope]) -> None:
    await b.rt.deliver_batch(partial(billing_ingest.ingest_batch, b), messages)


async def ingest_readings(r: readings_handlers.Readings, messages: Sequence[Envelope]) -> None:
    wanted = [m for m in messages if isinstance(m, readings_ingest.BILLING_SYSTEM_MESSAGES)]
    await r.rt.deliver_batch(partial(readings_ingest.ingest_batch, r), wanted)


async def emitted(
    rt: ServiceRuntime, schema: str, *, after: int = 0
) -> list[tuple[str, dict[str, Any]]]:
    """(exchange, body) of the service's outbox rows of ``schema`` with ids above ``after``."""
    rows = await rt.pool.fetch(
        "SELECT exchange, body FROM outbox WHERE routing_key = $1 AND id > $2 ORDER BY id",
        schema,
        after,
    )
    return [(r["exchange"], json.loads(bytes(r["body"]))) for r in rows]


async def outbox_mark(rt: ServiceRuntime) -> int:
    """The outbox's highest id now: pass as ``after`` to see only what comes next."""
    return int(await rt.pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))


async def count(db: asyncpg.Pool, sql: str, *args: Any) -> int:
    return int(await db.fetchval(sql, *args))


async def add_customer(
    b: billing_handlers.Billing, r: readings_handlers.Readings, customer: SimCustomer
) -> None:
    """The customer, contracts and meters, applied by billing and readings as they arrive."""
    messages = [
        m
        for m in Dataset([customer], as_of=datetime.now(UTC)).messages(digest_iterations=2_000)
        if not isinstance(m, SyncCompleted)
    ]
    await ingest_billing(b, messages)
    await ingest_readings(r, messages)
