"""A consumer that applies messages in batches: one transaction for many messages (bulk imports).

``consume_envelopes`` runs one task and one transaction per message, which is right for events
and slow for a nightly import of 100,000 invoices. This consumer validates each message as it
arrives (dead-lettering the invalid ones one by one, with their reason), collects valid ones
until ``max_batch`` of them or ``max_wait`` seconds have gathered, and hands the batch to one
``apply`` call; the messages are acknowledged after it returns. Batches are applied one at a time
in arrival order, so the queue's order holds between batches. When a batch fails, its messages
are applied one by one, so a single bad message cannot hold back the others: that one is
requeued (and dead-lettered by RabbitMQ at the delivery limit).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker, RabbitMessage
from pydantic import ValidationError

from contracts.base import Envelope
from runtime.db import TRANSIENT_DB_ERRORS
from runtime.logs import get_logger
from runtime.messaging import dead_letter, durable_queue, raw_body

log = get_logger(__name__)

BatchApply = Callable[[Sequence[Envelope]], Awaitable[None]]
# Says why a well-formed message must still be refused (dead-lettered), or None to accept it.
Refusal = Callable[[Envelope], str | None]


class _TransientGiveUp(Exception):
    """The database stayed unreachable longer than we hold messages for."""


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
        self._pending: list[tuple[Envelope, asyncio.Future[bool]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._turn = asyncio.Lock()  # FIFO: batches apply in the order they were cut
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, envelope: Envelope) -> bool:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._pending.append((envelope, future))
        if len(self._pending) >= self._max_batch:
            self._cut()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_wait, self._cut)
        return await future

    def _cut(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.create_task(self._run(batch), name="batch-apply")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[Envelope, asyncio.Future[bool]]]) -> None:
        async with self._turn:
            try:
                await self._apply_retrying([envelope for envelope, _ in batch])
            except _TransientGiveUp:
                _settle(batch, False)
                return
            except Exception:
                log.exception("batch.failed", size=len(batch))
            else:
                _settle(batch, True)
                return
            # One by one, so one bad message cannot keep the rest of its batch from applying.
            for envelope, future in batch:
                try:
                    await self._apply_retrying([envelope])
                except _TransientGiveUp:
                    future.set_result(False)
                except Exception:
                    log.exception(
                        "message.failed",
                        schema=envelope.SCHEMA,
                        message_id=str(envelope.message_id),
                    )
                    future.set_result(False)
                else:
                    future.set_result(True)

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


def _settle(batch: list[tuple[Envelope, asyncio.Future[bool]]], applied: bool) -> None:
    for _, future in batch:
        if not future.done():
            future.set_result(applied)


def consume_envelope_batches(
    broker: RabbitBroker,
    queue: str,
    models: Sequence[type[Envelope]],
    apply: BatchApply,
    *,
    refuse: Refusal | None = None,
    max_batch: int = 500,
    max_wait: float = 0.05,
    prefetch: int = 1000,
    on_transient: Callable[[], None] = lambda: None,
) -> Batcher:
    """One durable queue of ``models``, applied in batches by ``apply`` (see the module doc).

    The queue gets its own channel with ``prefetch`` so a batch can fill; ``apply`` must be
    idempotent (a batch may be applied again after a crash before its acknowledgements).
    """
    by_schema = {model.SCHEMA: model for model in models}
    batcher = Batcher(apply, max_batch=max_batch, max_wait=max_wait, on_transient=on_transient)

    async def endpoint(message: RabbitMessage) -> None:
        try:
            data = json.loads(message.body)
            schema = data.get("schema") if isinstance(data, dict) else None
        except ValueError:
            schema, data = None, None
        if data is None:
            reason = "body is not JSON"
        elif schema not in by_schema:
            reason = f"unknown schema {schema!r}"
        else:
            try:
                envelope = by_schema[schema].model_validate(data)
            except ValidationError as exc:
                reason = f"invalid {schema}: {exc.errors(include_url=False)}"
            else:
                refusal = refuse(envelope) if refuse else None
                if refusal is None:
                    applied = await batcher.submit(envelope)
                    await (message.ack() if applied else message.nack(requeue=True))
                    return
                reason = f"refused {schema}: {refusal}"
        await dead_letter(broker, message, reason)
        await message.ack()

    endpoint.__name__ = queue.replace(".", "_").replace("-", "_")
    broker.subscriber(
        durable_queue(queue),
        channel=Channel(prefetch_count=prefetch),
        decoder=raw_body,
        ack_policy=AckPolicy.MANUAL,
        no_reply=True,
        title=queue,
    )(endpoint)
    return batcher


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
