"""A consumer that applies messages in batches: one transaction for many messages (bulk imports).

``consume_envelopes`` runs one transaction (and FastStream's per-message layers) for each
message, which is right for events and slow for a nightly import of 100,000 invoices. This consumer validates each message as it
arrives (dead-lettering the invalid ones one by one, with their reason), collects valid ones
until ``max_batch`` of them or ``max_wait`` seconds have gathered, and hands the batch to one
``apply`` call; the messages are acknowledged after it returns. Batches are applied one at a time
in arrival order, so the queue's order holds between batches. When a batch fails, its messages
are applied one by one, so a single bad message cannot hold back the others: that one is
requeued, and on its last allowed delivery dead-lettered with the error as its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence

import aio_pika
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from contracts import topology
from contracts.base import CORRELATION_HEADER, Envelope
from runtime.db import TRANSIENT_DB_ERRORS
from runtime.logs import bind_correlation_id, get_logger

log = get_logger(__name__)

BatchApply = Callable[[Sequence[Envelope]], Awaitable[None]]
# Says why a well-formed message must still be refused (dead-lettered), or None to accept it.
Refusal = Callable[[Envelope], str | None]


class _TransientGiveUp(Exception):
    """The database stayed unreachable longer than we hold messages for."""


# What became of a submitted message: None when applied, else why not and whether the cause
# was an outage (not the message's fault) rather than the message itself.
Failure = tuple[str, bool]


class Batcher:
    """Collects envelopes and applies them in batches; ``submit`` says whether yours was applied."""

    def __init__(
        self,
        apply: BatchApply,
        *,
        max_batch: int,
        max_wait: float,
        on_transient: Callable[[], None] = lambda: None,
        max_transient_wait: float = 60.0,
    ) -> None:
        self._apply = apply
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._on_transient = on_transient
        self._max_transient_wait = max_transient_wait
        self._pending: list[tuple[Envelope, asyncio.Future[Failure | None]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._turn = asyncio.Lock()  # FIFO: batches apply in the order they were cut
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, envelope: Envelope) -> Failure | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Failure | None] = loop.create_future()
        self._pending.append((envelope, future))
        if len(self._pending) >= self._max_batch:
            self._cut()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_wait, self._cut)
        return await future

    async def drain(self) -> None:
        """Apply what is waiting now and wait for every batch in flight (at shutdown)."""
        self._cut()
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _cut(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.create_task(self._run(batch), name="batch-apply")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[Envelope, asyncio.Future[Failure | None]]]) -> None:
        bind_correlation_id(None)  # one id for the batch's log lines
        async with self._turn:
            try:
                await self._apply_retrying([envelope for envelope, _ in batch])
            except _TransientGiveUp:
                _settle(batch, ("database unavailable", True))
                return
            except Exception:
                log.exception("batch.failed", size=len(batch))
            else:
                _settle(batch, None)
                return
            # One by one, so one bad message cannot keep the rest of its batch from applying.
            for envelope, future in batch:
                try:
                    await self._apply_retrying([envelope])
                except _TransientGiveUp:
                    future.set_result(("database unavailable", True))
                except Exception as exc:
                    log.exception(
                        "message.failed",
                        schema=envelope.SCHEMA,
                        message_id=str(envelope.message_id),
                    )
                    future.set_result((f"{type(exc).__name__}: {exc}", False))
                else:
                    future.set_result(None)

    async def _apply_retrying(self, envelopes: list[Envelope]) -> None:
        """Apply, waiting out a database outage (not the messages' fault) with backoff."""
        delay, waited = 0.2, 0.0
        while True:
            try:
                await self._apply(envelopes)
                return
            except TRANSIENT_DB_ERRORS as exc:
                self._on_transient()
                if waited >= self._max_transient_wait:
                    raise _TransientGiveUp from exc
                log.warning("batch.retry", size=len(envelopes), error=type(exc).__name__)
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 5.0)


def _settle(
    batch: list[tuple[Envelope, asyncio.Future[Failure | None]]], outcome: Failure | None
) -> None:
    for _, future in batch:
        if not future.done():
            future.set_result(outcome)


def _deliveries(message: AbstractIncomingMessage) -> int:
    """This delivery's number (quorum queues count earlier returns in ``x-delivery-count``)."""
    count = (message.headers or {}).get("x-delivery-count", 0)
    return (count if isinstance(count, int) else 0) + 1


def _envelope_or_reason(
    message: AbstractIncomingMessage, by_schema: dict[str, type[Envelope]], refuse: Refusal | None
) -> Envelope | str:
    """The message as its contract, or why it must be dead-lettered."""
    model = by_schema.get(message.routing_key or "")
    try:
        # The routing key names the schema (one pass of the JSON); the schema field must agree.
        envelope = model.model_validate_json(message.body) if model else None
    except ValidationError:
        envelope = None  # said again below, with the reason, from the parsed JSON
    if envelope is None:
        try:
            data = json.loads(message.body)
        except ValueError:
            return "body is not JSON"
        schema = data.get("schema") if isinstance(data, dict) else None
        if schema not in by_schema:
            return f"unknown schema {schema!r}"
        try:
            envelope = by_schema[schema].model_validate(data)
        except ValidationError as exc:
            return f"invalid {schema}: {exc.errors(include_url=False)}"
    refusal = refuse(envelope) if refuse else None
    return envelope if refusal is None else f"refused {envelope.SCHEMA}: {refusal}"


class BatchConsumer:
    """Consumes one queue in batches, straight through aio-pika on a connection of its own.

    Per message it only parses, validates and acknowledges (the framework's per-message
    layers cost more than the message's share of a batched transaction); per batch it records
    metrics. Start it after the queue is declared; stopping it finishes the batches in flight.
    """

    def __init__(
        self,
        url: str,
        queue: str,
        models: Sequence[type[Envelope]],
        apply: BatchApply,
        *,
        refuse: Refusal | None = None,
        max_batch: int = 500,
        max_wait: float = 0.05,
        prefetch: int = 2000,
        on_transient: Callable[[], None] = lambda: None,
        registry: CollectorRegistry | None = None,
        name: str = "ibok",
    ) -> None:
        self._url = url
        self._queue = queue
        self._by_schema = {model.SCHEMA: model for model in models}
        self._refuse = refuse
        self._prefetch = prefetch
        self._name = name
        self._batcher = Batcher(
            apply, max_batch=max_batch, max_wait=max_wait, on_transient=on_transient
        )
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._consumer_tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._messages = Counter(
            "ibok_batched_messages",
            "Messages a batched consumer took, by outcome",
            ["queue", "outcome"],
            registry=registry,
        )

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self._url, reconnect_interval=1.0, client_properties={"connection_name": self._name}
        )
        channel = await self._connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self._prefetch)
        self._channel = channel
        queue = await channel.declare_queue(self._queue, passive=True)
        self._consumer_tag = await queue.consume(self._on_message)
        log.info("batch_consumer.started", queue=self._queue, prefetch=self._prefetch)

    async def stop(self) -> None:
        if self._channel is not None and self._consumer_tag is not None:
            queue = await self._channel.get_queue(self._queue, ensure=False)
            await queue.cancel(self._consumer_tag)
        await self._batcher.drain()
        # Let the messages of the last batches be acknowledged before the connection goes
        # (unacknowledged ones would only come again, and be skipped by the inbox).
        if self._in_flight:
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=5)
        if self._connection is not None:
            await self._connection.close()

    @property
    def ready(self) -> bool:
        return self._connection is not None and self._connection.connected.is_set()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        try:
            await self._take(message)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def _take(self, message: AbstractIncomingMessage) -> None:
        # Only a sender's own id is worth binding; making one per message would cost more than
        # the message's share of its batch (the batch gets one of its own).
        if correlation_id := _header(message, CORRELATION_HEADER):
            bind_correlation_id(correlation_id)
        parsed = _envelope_or_reason(message, self._by_schema, self._refuse)
        if isinstance(parsed, str):
            await self._dead_letter(message, parsed)
            return
        failure = await self._batcher.submit(parsed)
        if failure is None:
            await message.ack()
            self._messages.labels(self._queue, "applied").inc()
            return
        error, transient = failure
        if transient or _deliveries(message) < topology.DELIVERY_LIMIT:
            await message.nack(requeue=True)
            self._messages.labels(self._queue, "requeued").inc()
            return
        # Its last delivery: park it ourselves, with the error as its reason.
        await self._dead_letter(message, f"failed {_deliveries(message)} times: {error}")

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        """Park a message with its reason (as ``messaging.dead_letter`` does), then take it off."""
        assert self._channel is not None
        headers = dict(message.headers or {})
        headers.update(
            {
                "x-ibok-dead-reason": reason[:1000],
                "x-ibok-source-exchange": message.exchange or "",
                "x-ibok-source-routing-key": message.routing_key or "",
            }
        )
        exchange = await self._channel.get_exchange(topology.DEAD_LETTER_EXCHANGE, ensure=False)
        await exchange.publish(
            aio_pika.Message(
                message.body,
                headers=headers,
                message_id=message.message_id,
                content_type=message.content_type or "application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key="",
        )
        await message.ack()
        self._messages.labels(self._queue, "dead_lettered").inc()
        log.warning("message.dead_lettered", reason=reason[:300], routing_key=message.routing_key)


def _header(message: AbstractIncomingMessage, name: str) -> str | None:
    value = (message.headers or {}).get(name)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None


async def first_deliveries(
    conn: asyncpg.Connection, envelopes: Sequence[Envelope]
) -> list[Envelope]:
    """Record the batch's message ids in the inbox; the envelopes not processed before, in order.

    Call inside the transaction that applies them, so both commit or neither does.
    """
    fresh = {
        row[0]
        for row in await conn.fetch(
            "INSERT INTO inbox (message_id) SELECT unnest($1::uuid[])"
            " ON CONFLICT DO NOTHING RETURNING message_id",
            [e.message_id for e in envelopes],
        )
    }
    seen: set[object] = set()
    result = []
    for envelope in envelopes:
        if envelope.message_id in fresh and envelope.message_id not in seen:
            seen.add(envelope.message_id)
            result.append(envelope)
    return result
