"""The transactional outbox: events are written with the state change and published by a relay."""

from __future__ import annotations

import asyncio
import json

import asyncpg
from faststream.rabbit import RabbitBroker

from contracts.base import CORRELATION_HEADER, Envelope
from runtime.logs import current_correlation_id, get_logger
from runtime.worker import keep_draining

log = get_logger(__name__)


async def enqueue(
    conn: asyncpg.Connection, exchange: str, routing_key: str, message: Envelope
) -> None:
    """Write ``message`` to the outbox in the caller's transaction."""
    headers = {}
    if cid := current_correlation_id():
        headers[CORRELATION_HEADER] = cid
    await conn.execute(
        "INSERT INTO outbox (message_id, exchange, routing_key, body, headers)"
        " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (message_id) DO NOTHING",
        message.message_id,
        exchange,
        routing_key,
        message.to_wire(),
        json.dumps(headers),
    )


class OutboxRelay:
    """Publishes unpublished outbox rows with publisher confirms, then marks them.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several relays (several processes of a
    service) never publish one row at the same time. A crash between publishing and marking
    publishes the row again later: consumers are idempotent on ``message_id``.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: RabbitBroker,
        *,
        poll_seconds: float = 1.0,
        batch: int = 200,
    ) -> None:
        self._pool = pool
        self._broker = broker
        self._poll = poll_seconds
        self._batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Publish soon: call after committing a transaction that enqueued."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        await keep_draining(
            self.publish_pending,
            wake=self._wake,
            poll_seconds=self._poll,
            full_batch=self._batch,
            name="outbox",
        )

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
