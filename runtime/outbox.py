"""The transactional outbox: events are written with the state change and published by a relay,
which also deletes rows some time after they were published (they carry personal data).

Each row is published on its own, mandatory and with a publisher confirm, and has its own
outcome: confirmed and routed, it is marked published; returned by the broker (no queue and no
alternate exchange took it), refused (nack), or bound for an exchange that does not exist, it
stays unpublished with ``attempts`` one higher, its ``last_error`` and a ``next_attempt_at``
that backs off (doubling, up to ``MAX_BACKOFF_SECONDS``); after ``max_attempts`` such failures
it is parked (``parked_at``) until the operator releases it (``ibok outbox release``). A broker
that cannot be reached is nobody's fault: rows then wait, their attempts not counted.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import aio_pika
import aiormq
import asyncpg
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from pamqp.commands import Basic
from prometheus_client import CollectorRegistry, Counter, Gauge

from contracts.base import CORRELATION_HEADER, Envelope
from runtime import broker_topology
from runtime.logs import current_correlation_id, get_logger
from runtime.worker import cancel_and_wait, keep_draining

log = get_logger(__name__)

# How often a relay deletes old published rows, and how many at most per statement.
PRUNE_EVERY_SECONDS = 3600.0
PRUNE_BATCH = 10_000
# A failing row is tried again after 1, 2, 4 ... seconds, at most this long apart.
MAX_BACKOFF_SECONDS = 300.0
# How often the relay counts stuck rows and unrouted messages for its metrics.
CENSUS_EVERY_SECONDS = 15.0
# An unpublished row older than this (and not waiting out a backoff) counts as stuck.
STUCK_AFTER_SECONDS = 60.0


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


class RowFailed(Exception):
    """This row (and no other) could not be published: it is tried again later."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True)
class OutboxCensus:
    """What readiness and the metrics show of a service's outbox."""

    parked: int
    stuck: int  # unpublished, not parked, older than STUCK_AFTER_SECONDS
    oldest_unpublished_seconds: float


async def outbox_census(conn: asyncpg.Pool | asyncpg.Connection) -> OutboxCensus:
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked,"
        " count(*) FILTER (WHERE parked_at IS NULL AND created_at < now() - $1::interval)"
        " AS stuck,"
        " coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL)),"
        " 0) AS oldest"
        " FROM outbox WHERE published_at IS NULL",
        timedelta(seconds=STUCK_AFTER_SECONDS),
    )
    assert row is not None
    return OutboxCensus(row["parked"], row["stuck"], float(row["oldest"]))


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.published = Counter(
            "ibok_outbox_published", "Outbox rows published and confirmed", registry=registry
        )
        self.failed = Counter(
            "ibok_outbox_failed",
            "Outbox rows that failed to publish, by cause (returned: no queue took it)",
            ["cause"],
            registry=registry,
        )
        self.parked = Counter(
            "ibok_outbox_parked", "Outbox rows parked after their last attempt", registry=registry
        )
        self.parked_rows = Gauge(
            "ibok_outbox_parked_rows",
            "Outbox rows parked now, waiting for the operator",
            registry=registry,
        )
        self.stuck_rows = Gauge(
            "ibok_outbox_stuck_rows",
            f"Unpublished outbox rows older than {STUCK_AFTER_SECONDS:.0f} s, not parked",
            registry=registry,
        )
        self.oldest = Gauge(
            "ibok_outbox_oldest_unpublished_seconds",
            "Age of the oldest unpublished outbox row not parked",
            registry=registry,
        )
        self.unrouted = Gauge(
            "ibok_unrouted_messages",
            "Messages in ibok.unrouted (no binding took them), -1 when it cannot be seen",
            registry=registry,
        )


class OutboxRelay:
    """Publishes unpublished outbox rows, each with its own outcome, then marks them.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several relays (several processes of a
    service) never publish one row at the same time. A crash between publishing and marking
    publishes the row again later: consumers are idempotent on ``message_id``. Every hour it
    also deletes rows published more than ``keep`` ago (``prune_published``). It publishes on a
    connection of its own, so a channel the broker closes (an exchange that does not exist)
    touches no consumer; an exchange not known to exist is first looked up passively on a
    channel of its own, so such a row fails alone instead of closing the channel of its batch.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        url: str,
        *,
        poll_seconds: float = 1.0,
        batch: int = 200,
        keep: timedelta = timedelta(hours=24),
        max_attempts: int = 10,
        first_backoff: float = 1.0,
        registry: CollectorRegistry | None = None,
        name: str = "ibok-outbox",
        known_exchanges: Sequence[str] = (),
    ) -> None:
        self._pool = pool
        self._url = url
        self._poll = poll_seconds
        self._batch = batch
        self._keep = keep
        self._max_attempts = max_attempts
        self._first_backoff = first_backoff
        self._name = name
        self._next_prune = 0.0
        self._next_census = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._known = set(known_exchanges) | {""}  # declared at start; "" is the default
        self.metrics = RelayMetrics(registry)
        self.census = OutboxCensus(0, 0, 0.0)
        self.unrouted: int | None = None

    def wake(self) -> None:
        """Publish soon: call after committing a transaction that enqueued."""
        self._wake.set()

    async def connect(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self._url, reconnect_interval=1.0, client_properties={"connection_name": self._name}
        )
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=False)
        assert isinstance(channel, AbstractRobustChannel)
        self._channel = channel

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        if self._connection is not None:
            await self._connection.close()

    async def _run(self) -> None:
        await keep_draining(
            self._publish_and_prune,
            wake=self._wake,
            poll_seconds=self._poll,
            full_batch=self._batch,
            name="outbox",
        )

    async def _publish_and_prune(self) -> int:
        now = time.monotonic()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_SECONDS
            if pruned := await prune_published(self._pool, self._keep):
                log.info("outbox.pruned", rows=pruned)
        if now >= self._next_census:
            self._next_census = now + CENSUS_EVERY_SECONDS
            await self.take_census()
        return await self.publish_pending()

    async def take_census(self) -> OutboxCensus:
        """Count stuck rows and unrouted messages into the metrics (and for readiness)."""
        self.census = await outbox_census(self._pool)
        self.metrics.parked_rows.set(self.census.parked)
        self.metrics.stuck_rows.set(self.census.stuck)
        self.metrics.oldest.set(self.census.oldest_unpublished_seconds)
        if self._connection is not None and self._connection.connected.is_set():
            self.unrouted = await broker_topology.unrouted_count(self._connection)
        self.metrics.unrouted.set(-1 if self.unrouted is None else self.unrouted)
        return self.census

    async def publish_pending(self) -> int:
        """Publish the rows due now; how many got an outcome (published or failed)."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, message_id, exchange, routing_key, body, headers FROM outbox"
                " WHERE published_at IS NULL AND parked_at IS NULL"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= now())"
                " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch,
            )
            if not rows:
                return 0
            missing = await self._missing_exchanges({row["exchange"] for row in rows})
            outcomes = await asyncio.gather(
                *(self._publish(row, missing) for row in rows), return_exceptions=True
            )
            published = [r["id"] for r, o in zip(rows, outcomes, strict=True) if o is None]
            failed = [
                (r, o) for r, o in zip(rows, outcomes, strict=True) if isinstance(o, RowFailed)
            ]
            if published:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                    published,
                )
            if failed:
                await self._record_failures(conn, failed)
        self.metrics.published.inc(len(published))
        if len(published) + len(failed) < len(rows):
            # The broker itself went (connection or channel lost): the rows simply wait.
            errors = {type(o).__name__ for o in outcomes if isinstance(o, BaseException)}
            errors -= {"RowFailed"}
            log.warning("outbox.broker_unavailable", rows=len(rows), errors=sorted(errors))
        # Rows that waited for the broker do not count: the loop then waits before trying again.
        return len(published) + len(failed)

    async def _record_failures(
        self, conn: asyncpg.Connection, failed: list[tuple[asyncpg.Record, RowFailed]]
    ) -> None:
        parked = await conn.fetch(
            "UPDATE outbox AS o SET attempts = o.attempts + 1, last_error = f.error,"
            " next_attempt_at = now() + least($3::float8 * 2 ^ o.attempts, $4::float8)"
            " * interval '1 second',"
            " parked_at = CASE WHEN o.attempts + 1 >= $5 THEN now() END"
            " FROM unnest($1::bigint[], $2::text[]) AS f (id, error)"
            " WHERE o.id = f.id RETURNING o.id, o.parked_at IS NOT NULL AS parked",
            [row["id"] for row, _ in failed],
            [str(exc)[:1000] for _, exc in failed],
            self._first_backoff,
            MAX_BACKOFF_SECONDS,
            self._max_attempts,
        )
        parked_ids = {r["id"] for r in parked if r["parked"]}
        for row, exc in failed:
            self.metrics.failed.labels(exc.kind).inc()
            event = "outbox.row_parked" if row["id"] in parked_ids else "outbox.row_failed"
            log.error(
                event,
                row=row["id"],
                message_id=str(row["message_id"]),
                exchange=row["exchange"],
                routing_key=row["routing_key"],
                error=str(exc)[:300],
            )
        self.metrics.parked.inc(len(parked_ids))

    async def _missing_exchanges(self, exchanges: set[str]) -> set[str]:
        """Exchanges of this batch that do not exist, each looked up on a channel of its own
        (the broker closes a channel that names a missing exchange)."""
        missing = set()
        assert self._connection is not None
        for name in exchanges - self._known:
            channel = await self._connection.channel()
            try:
                await channel.declare_exchange(name, passive=True)
                self._known.add(name)
            except aiormq.exceptions.ChannelNotFoundEntity:
                missing.add(name)
            finally:
                if not channel.is_closed:
                    await channel.close()
        return missing

    async def _publish(self, row: asyncpg.Record, missing: set[str]) -> None:
        """None when confirmed and routed; RowFailed for this row's own failure; any other
        exception when the broker could not be reached."""
        exchange_name = row["exchange"]
        if exchange_name in missing:
            raise RowFailed("missing_exchange", f"exchange {exchange_name!r} does not exist")
        assert self._channel is not None
        exchange = (
            self._channel.default_exchange
            if exchange_name == ""
            else await self._channel.get_exchange(exchange_name, ensure=False)
        )
        try:
            confirmation = await exchange.publish(
                aio_pika.Message(
                    bytes(row["body"]),
                    message_id=str(row["message_id"]),
                    headers=json.loads(row["headers"]),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=row["routing_key"],
                mandatory=True,
                timeout=10,
            )
        except aiormq.exceptions.DeliveryError as exc:
            raise RowFailed("nacked", f"the broker refused it: {exc}") from exc
        except aiormq.exceptions.ChannelNotFoundEntity:
            self._known.discard(exchange_name)  # looked up again before the next try
            raise
        if not isinstance(confirmation, Basic.Ack):
            # basic.return: no queue took it, and the exchange has no alternate exchange.
            raise RowFailed(
                "returned", f"no queue took it from {exchange_name!r} with {row['routing_key']!r}"
            )
