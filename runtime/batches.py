"""A consumer that applies messages in batches: one transaction for many messages (bulk imports).

``consume_envelopes`` runs one task and one transaction per message, which is right for events
and slow for a nightly import of 100,000 invoices. This consumer validates each message as it
arrives (dead-lettering the invalid ones one by one, with their reason), collects valid ones
until ``max_batch`` of them or ``max_wait`` seconds have gathered, and hands the batch to one
``apply`` call; the messages are acknowledged after it returns. Batches are applied one at a time
in arrival order, so the queue's order holds between batches. When a batch fails, its messages
are applied one by one, so a single bad message cannot hold back the others: that one is
requeued, and on its last allowed delivery dead-lettered with the error as its reason.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker, RabbitMessage
from pydantic import ValidationError

from contracts import topology
from contracts.base import Envelope
from runtime.db import TRANSIENT_DB_ERRORS
from runtime.logs import get_logger
from runtime.messaging import dead_letter, durable_queue

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


async def _whole_message(message: RabbitMessage) -> RabbitMessage:
    """Decoder that hands the endpoint the message itself: its body is parsed there, so a body
    that is not JSON is dead-lettered with that reason instead of failing in the decoder."""
    return message


def _deliveries(message: RabbitMessage) -> int:
    """This delivery's number (quorum queues count earlier returns in ``x-delivery-count``)."""
    count = (message.raw_message.headers or {}).get("x-delivery-count", 0)
    return (count if isinstance(count, int) else 0) + 1


def _envelope_or_reason(
    body: bytes, by_schema: dict[str, type[Envelope]], refuse: Refusal | None
) -> Envelope | str:
    """The message as its contract, or why it must be dead-lettered."""
    try:
        data = json.loads(body)
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
    return envelope if refusal is None else f"refused {schema}: {refusal}"


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
        parsed = _envelope_or_reason(message.body, by_schema, refuse)
        if isinstance(parsed, str):
            await dead_letter(broker, message, parsed)
            await message.ack()
            return
        failure = await batcher.submit(parsed)
        if failure is None:
            await message.ack()
            return
        error, transient = failure
        if transient or _deliveries(message) < topology.DELIVERY_LIMIT:
            await message.nack(requeue=True)
            return
        # Its last delivery: park it ourselves, with the error as its reason.
        await dead_letter(broker, message, f"failed {_deliveries(message)} times: {error}")
        await message.ack()

    endpoint.__name__ = queue.replace(".", "_").replace("-", "_")
    broker.subscriber(
        durable_queue(queue),
        channel=Channel(prefetch_count=prefetch),
        decoder=_whole_message,
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
