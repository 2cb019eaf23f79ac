"""The transactional outbox: events are written with the state change and published by a relay,
which also deletes rows some time after they were published (they carry personal data)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
from faststream.rabbit import RabbitBroker

from contracts.base import CORRELATION_HEADER, Envelope
from runtime.logs import current_correlation_id, get_logger
from runtime.worker import cancel_and_wait, keep_draining

log = get_logger(__name__)

# How often a relay deletes old published rows, and how many at most per statement.
PRUNE_EVERY_SECONDS = 3600.0
PRUNE_BATCH = 10_000


@dataclass(frozen=True)
class OutboxRow:
    """One message as the outbox stores it."""

    message_id: UUID
    exchange: str
    routing_key: str
    body: bytes
    headers: str  # JSON


def outbox_row(exchange: str, routing_key: str, message: Envelope) -> OutboxRow:
    headers = {}
    if cid := current_correlation_id():
        headers[CORRELATION_HEADER] = cid
    return OutboxRow(
        message.message_id, exchange, routing_key, message.to_wire(), json.dumps(headers)
    )


def enqueue_sql(first: int) -> str:
    """The statement that writes outbox rows, its parameters numbered from ``first``: usable as
    a data-modifying ``WITH`` part of the statement that makes the state change itself (one
    database round trip for both)."""
    a, b, c, d, e = (f"${first + i}" for i in range(5))
    return (
        "INSERT INTO outbox (message_id, exchange, routing_key, body, headers)"
        f" SELECT * FROM unnest({a}::uuid[], {b}::text[], {c}::text[], {d}::bytea[], {e}::jsonb[])"
        " ON CONFLICT (message_id) DO NOTHING"
    )


def enqueue_args(rows: Sequence[OutboxRow]) -> list[list[Any]]:
    """The five parameters of ``enqueue_sql`` for ``rows``."""
    return [
        [r.message_id for r in rows],
        [r.exchange for r in rows],
        [r.routing_key for r in rows],
        [r.body for r in rows],
        [r.headers for r in rows],
    ]


async def enqueue(
    conn: asyncpg.Connection, exchange: str, routing_key: str, message: Envelope
) -> None:
    """Write ``message`` to the outbox in the caller's transaction."""
    rows = [outbox_row(exchange, routing_key, message)]
    await conn.execute(enqueue_sql(1), *enqueue_args(rows))


async def prune_published(pool: asyncpg.Pool | asyncpg.Connection, keep: timedelta) -> int:
    """Delete rows published longer than ``keep`` ago; how many went.

    A published row is of no further use (a consumer that needs the message again has it from
    the broker or the dead-letter queue), and its body may hold what R14 erases or an emailed
    token; deleted in batches so no statement runs long.
    """
    pruned = 0
    while True:
        status = await pool.execute(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
            " WHERE published_at < now() - $1::interval LIMIT $2)",
            keep,
            PRUNE_BATCH,
        )
        deleted = int(status.split()[-1])
        pruned += deleted
        if deleted < PRUNE_BATCH:
            return pruned


class OutboxRelay:
    """Publishes unpublished outbox rows with publisher confirms, then marks them.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several relays (several processes of a
    service) never publish one row at the same time. A crash between publishing and marking
    publishes the row again later: consumers are idempotent on ``message_id``. Every hour it
    also deletes rows published more than ``keep`` ago (``prune_published``).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: RabbitBroker,
        *,
        poll_seconds: float = 1.0,
        batch: int = 200,
        keep: timedelta = timedelta(hours=24),
    ) -> None:
        self._pool = pool
        self._broker = broker
        self._poll = poll_seconds
        self._batch = batch
        self._keep = keep
        self._next_prune = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Publish soon: call after committing a transaction that enqueued."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        await keep_draining(
            self._publish_and_prune,
            wake=self._wake,
            poll_seconds=self._poll,
            full_batch=self._batch,
            name="outbox",
        )

    async def _publish_and_prune(self) -> int:
        now = asyncio.get_running_loop().time()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_SECONDS
            if pruned := await prune_published(self._pool, self._keep):
                log.info("outbox.pruned", rows=pruned)
        return await self.publish_pending()

    async def publish_pending(self) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, message_id, exchange, routing_key, body, headers FROM outbox"
                " WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch,
            )
            if not rows:
                return 0
            await asyncio.gather(*(self._publish(row) for row in rows))
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
        return len(rows)

    async def _publish(self, row: asyncpg.Record) -> None:
        await self._broker.publish(
            bytes(row["body"]),
            exchange=row["exchange"],
            routing_key=row["routing_key"],
            message_id=str(row["message_id"]),
            headers=json.loads(row["headers"]),
            content_type="application/json",
            persist=True,
            timeout=10,
        )
