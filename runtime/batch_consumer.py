"""The broker side of batched consumption: one queue read straight through aiormq.

This consumer reads the queue through aiormq (the AMQP client under aio-pika) on a connection of
its own, validates each message as it arrives and hands it, in delivery order, to a
``runtime.batches.Batcher``; per message it does nothing else (no task, future or aio-pika
message object of its own, no acknowledgement). Each batch is settled once its ``apply`` is over:

- an invalid or refused message is published to the dead-letter exchange with its reason
  (with a publisher confirm) and only then acknowledged, so it never blocks the queue; for one
  that failed to apply a copy goes to the back of the queue with the attempt counted in its
  headers (confirmed, then the original is acknowledged: the count does not depend on the
  broker counting requeues, which RabbitMQ 4.3 stopped), and on its last allowed attempt it is
  dead-lettered with the error as its reason; one that failed because the database was
  unreachable is requeued (not its fault, not counted);
- the rest is acknowledged after ``apply`` returned (its transaction committed) with a single
  ``basic.ack`` with ``multiple`` set, for the highest delivery tag of the batch. That is safe
  because every lower tag of the channel is settled by then: the consumer counts, per channel,
  the tags settled so far, and acknowledges with ``multiple`` only a batch whose tags run on
  from them without a gap (the batch's requeued messages nacked first). A batch that does not
  (a delivery before it was never settled: its apply was interrupted, or it never reached the
  batch) is acknowledged one message at a time, and its channel is then closed, which hands
  the unsettled deliveries back to the queue; so is the channel of a batch left unsettled.

Nothing is acknowledged before its batch commits, so a process that dies loses nothing: the
broker delivers the unacknowledged messages again and the inbox (``first_deliveries``) makes
those already applied no-ops. The consumer reconnects after the broker or the network drops
it. Deliveries of a lost channel whose batch has not started are dropped (the broker has
requeued them and delivers them again); a batch already being applied when its channel goes
commits and is acknowledged by nobody (its second delivery is a no-op).

A consumer must never sit on deliveries in silence: when the current channel holds deliveries
not yet settled and neither a delivery nor the batch worker has made progress for
``stall_after`` seconds, it logs ``batch_consumer.stalled``, is not ready, starts a new batch
worker and reconnects (the broker hands the deliveries out again).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiormq
from aiormq.abc import AbstractChannel, AbstractConnection, DeliveredMessage
from pamqp.commands import Basic
from prometheus_client import CollectorRegistry, Counter

from contracts import topology
from contracts.base import CORRELATION_HEADER, Envelope
from runtime.batches import (
    BatchApply,
    Batcher,
    Failure,
    Refusal,
    cancelled_from_outside,
    envelope_or_reason,
)
from runtime.logs import get_logger
from runtime.messaging import (
    DEAD_REASON_HEADER,
    attempts_of,
    copy_headers,
    failed_reason,
)

log = get_logger(__name__)


def _attempt(message: DeliveredMessage) -> int:
    """This attempt's number: the failures counted in the message's headers, plus one."""
    return attempts_of(message.header.properties.headers) + 1


@dataclass(slots=True)
class _Delivery:
    message: DeliveredMessage
    refused: str | None  # why it is dead-lettered without being applied

    @property
    def tag(self) -> int:
        tag = self.message.delivery_tag
        assert tag is not None
        return tag


async def _through(call: Awaitable[object], timeout: float = 10.0) -> bool:
    """Await a call on a channel or connection that may be gone: whether it went through.

    A lost connection surfaces from aiormq as its own errors, OSError, RuntimeError, a
    CancelledError or even StopAsyncIteration (a socket closed mid-handshake); whatever it is,
    the broker has then requeued the channel's unacknowledged messages.
    """
    try:
        async with asyncio.timeout(timeout):
            await call
        return True
    except asyncio.CancelledError:
        if cancelled_from_outside():
            raise
    except Exception as exc:
        log.info("broker.call_failed", error=type(exc).__name__)
    return False


class BatchConsumer:
    """Consumes one queue in batches, straight through aiormq on a connection of its own.

    Per message it only parses and validates; acknowledging, metrics and logs are per batch.
    Start it after the queue is declared; stopping it finishes and settles the batches read.
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
        reconnect_interval: float = 1.0,
        connect_timeout: float = 10.0,
        stall_after: float = 60.0,
    ) -> None:
        self._url = url
        self._queue = queue
        self._by_schema = {model.SCHEMA: model for model in models}
        self._refuse = refuse
        self._prefetch = prefetch
        self._name = name
        self._reconnect_interval = reconnect_interval
        self._connect_timeout = connect_timeout
        self._stall_after = stall_after
        self._batcher: Batcher[_Delivery] = Batcher(
            apply,
            self._settle,
            max_batch=max_batch,
            max_wait=max_wait,
            on_transient=on_transient,
            # Read before the channel was lost: it comes again, so applying it now is wasted.
            keep=lambda delivery: self._open(delivery.message.channel),
            unsettled=self._hand_back,
        )
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._consumer_tag: str | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False
        # Per channel: the highest delivery tag received, and the tag up to which every
        # delivery is settled (acknowledged, requeued or dead-lettered).
        self._received: dict[AbstractChannel, int] = {}
        self._settled: dict[AbstractChannel, int] = {}
        self._progress = time.monotonic()  # the last settlement, or a delivery after a pause
        self._stalled = False
        self._closing: set[asyncio.Task[bool]] = set()
        self._abandoned: set[AbstractChannel] = set()  # being closed: its deliveries come again
        self.stalls = 0  # stalls reported since start
        self._stall_count = Counter(
            "ibok_batch_consumer_stalls",
            "Stalls a batched consumer found (deliveries held with no progress) and recovered from",
            ["queue"],
            registry=registry,
        )
        self._messages = Counter(
            "ibok_batched_messages",
            "Messages a batched consumer took, by outcome",
            ["queue", "outcome"],
            registry=registry,
        )

    async def start(self) -> None:
        async with asyncio.timeout(self._connect_timeout):
            await self._connect()
        self._watcher = asyncio.create_task(self._stay_connected(), name="batch-consumer")
        log.info("batch_consumer.started", queue=self._queue, prefetch=self._prefetch)

    async def stop(self) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        channel, tag = self._channel, self._consumer_tag
        if channel is not None and tag is not None and not channel.is_closed:
            await _through(channel.basic_cancel(tag))
        # The last batches are acknowledged before the connection goes (unacknowledged ones
        # would only come again, and be skipped by the inbox), unless that takes longer than a
        # stall: then they are left to come again.
        await self._batcher.close(timeout=self._stall_after)
        if self._connection is not None:
            await _through(self._connection.close())

    @property
    def ready(self) -> bool:
        channel = self._channel
        return channel is not None and not channel.is_closed and not self._stalled

    async def _connect(self) -> None:
        connection = await aiormq.connect(
            self._url, client_properties={"connection_name": self._name}
        )
        try:
            channel = await connection.channel(publisher_confirms=True)
            await channel.basic_qos(prefetch_count=self._prefetch)
            consuming = await channel.basic_consume(self._queue, self._on_delivery)
        except BaseException:
            await _through(connection.close())
            raise
        for counts in (self._received, self._settled):
            for lost in [c for c in counts if c.is_closed]:
                del counts[lost]
        self._abandoned = {c for c in self._abandoned if not c.is_closed}
        self._connection, self._channel = connection, channel
        self._consumer_tag = consuming.consumer_tag
        self._stalled = False  # a fresh channel; the watchdog judges it anew

    async def _stay_connected(self) -> None:
        """Connect again whenever the connection or the channel is lost, until stopped."""
        while not self._stopping:
            assert self._connection is not None and self._channel is not None
            watching = (self._connection.closing, self._channel.closing)
            check = min(5.0, self._stall_after / 4)
            while not self._stalled_now():
                done, _ = await asyncio.wait(
                    watching, timeout=check, return_when=asyncio.FIRST_COMPLETED
                )
                if done:
                    log.warning("batch_consumer.disconnected", queue=self._queue)
                    break
            else:
                await self._report_stall()
            for observer in watching:
                observer.cancel()
            await _through(self._connection.close())
            while not self._stopping:
                await asyncio.sleep(self._reconnect_interval)
                if await _through(self._connect(), self._connect_timeout):
                    log.info("batch_consumer.reconnected", queue=self._queue)
                    break
                log.warning("batch_consumer.reconnect_failed", queue=self._queue)

    def _stalled_now(self) -> bool:
        """The current channel holds deliveries not settled, and nothing moved for a while."""
        channel = self._channel
        if channel is None or self._received.get(channel, 0) <= self._settled.get(channel, 0):
            return False
        moved = max(self._progress, self._batcher.last_progress)
        return time.monotonic() - moved > self._stall_after

    async def _report_stall(self) -> None:
        channel = self._channel
        assert channel is not None
        self._stalled = True
        self.stalls += 1
        self._stall_count.labels(self._queue).inc()
        log.error(
            "batch_consumer.stalled",
            queue=self._queue,
            received=self._received.get(channel, 0),
            settled=self._settled.get(channel, 0),
            seconds=round(self._stall_after),
        )
        # Abandoned first: a new worker must not apply a later batch of this channel before
        # the stalled one has come again (the old worker may take a while to unwind).
        self._close_soon(channel)
        await self._batcher.restart_worker()

    def _open(self, channel: AbstractChannel) -> bool:
        return not channel.is_closed and channel not in self._abandoned

    def _close_soon(self, channel: AbstractChannel) -> None:
        """Abandon a channel and close it in a task of its own: its deliveries not yet applied
        are dropped and come again (called from the batch worker and the watcher, which must
        not wait for the close)."""
        self._abandoned.add(channel)
        if not channel.is_closed:
            task = asyncio.create_task(_through(channel.close()))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _hand_back(self, items: list[_Delivery]) -> None:
        """A batch left unsettled: its channels go, so the broker delivers it again (and no
        later acknowledgement with ``multiple`` can cover it)."""
        for channel in {delivery.message.channel for delivery in items}:
            log.warning("batch.unsettled_channel_closed", queue=self._queue)
            self._close_soon(channel)

    async def _on_delivery(self, message: DeliveredMessage) -> None:
        # No await before ``add``: deliveries reach the batcher in their tag order.
        channel, tag = message.channel, message.delivery_tag or 0
        if self._received.get(channel, 0) <= self._settled.get(channel, 0):
            self._progress = time.monotonic()  # the first to wait since all were settled
        self._received[channel] = max(tag, self._received.get(channel, 0))
        try:
            parsed = envelope_or_reason(
                message.body, message.routing_key or "", self._by_schema, self._refuse
            )
        except Exception as exc:  # never leave a delivery out of the order of its batch
            parsed = f"unreadable: {type(exc).__name__}: {exc}"
        if isinstance(parsed, str):
            self._batcher.add(_Delivery(message, parsed), None)
        else:
            self._batcher.add(_Delivery(message, None), parsed)

    async def _settle(self, batch: list[tuple[_Delivery, Failure | None]]) -> None:
        try:
            await self._settle_batch(batch)
        except BaseException:
            # What is left unsettled must not be covered by a later batch's multiple ack:
            # closing the channel hands every unacknowledged message back to the queue.
            for channel in {delivery.message.channel for delivery, _ in batch}:
                await _through(channel.close())
            raise

    async def _settle_batch(self, batch: list[tuple[_Delivery, Failure | None]]) -> None:
        acks: list[_Delivery] = []
        nacks: list[_Delivery] = []
        moved: list[tuple[_Delivery, str | None]] = []  # (delivery, reason: None to retry)
        for delivery, failure in batch:
            if delivery.refused is not None:
                moved.append((delivery, delivery.refused))
            elif failure is None:
                acks.append(delivery)
            elif failure[1]:
                nacks.append(delivery)
            elif (attempt := _attempt(delivery.message)) < topology.DELIVERY_LIMIT:
                moved.append((delivery, None))
            else:  # its last attempt: park it, with the error as its reason
                moved.append((delivery, failed_reason(attempt, failure[0])))
        applied = len(acks)
        retried = sum(reason is None for _, reason in moved)
        if moved:
            # Parked or queued again (confirmed) before acknowledged: never lost in between.
            results = await asyncio.gather(
                *(self._publish_copy(d, reason) for d, reason in moved), return_exceptions=True
            )
            for (delivery, _), result in zip(moved, results, strict=True):
                if isinstance(result, BaseException):
                    log.warning("message.copy_failed", error=type(result).__name__)
                    nacks.append(delivery)
                else:
                    acks.append(delivery)
        lost: set[AbstractChannel] = set()  # a channel with a delivery we failed to settle
        for delivery in nacks:
            channel = delivery.message.channel
            if not await _through(channel.basic_nack(delivery.tag, wait=False)):
                lost.add(channel)
        await self._acknowledge(batch, acks, lost)
        self._progress = time.monotonic()
        self._stalled = False
        self._messages.labels(self._queue, "applied").inc(applied)
        self._messages.labels(self._queue, "requeued").inc(len(nacks))
        self._messages.labels(self._queue, "retried").inc(retried)
        self._messages.labels(self._queue, "dead_lettered").inc(len(acks) - applied - retried)

    async def _acknowledge(
        self,
        batch: list[tuple[_Delivery, Failure | None]],
        acks: list[_Delivery],
        lost: set[AbstractChannel],
    ) -> None:
        """One ``basic.ack`` with ``multiple`` per channel of the batch when its tags run on
        from the tags settled before without a gap; else one per message, and the channel
        closes: a delivery below or between them was never settled, and must come again."""
        tags: dict[AbstractChannel, list[int]] = {}
        for delivery, _ in batch:
            tags.setdefault(delivery.message.channel, []).append(delivery.tag)
        for channel, batch_tags in tags.items():
            settled = [d.tag for d in acks if d.message.channel is channel]
            after = self._settled.get(channel, 0)
            batch_tags.sort()
            following = batch_tags == list(range(after + 1, after + 1 + len(batch_tags)))
            acked = True
            if settled and following:
                acked = await _through(channel.basic_ack(max(settled), multiple=True, wait=False))
            elif settled:
                log.warning(
                    "batch.tags_not_following",
                    queue=self._queue,
                    settled_to=after,
                    first=batch_tags[0],
                    size=len(batch_tags),
                )
                for tag in settled:
                    acked = await _through(channel.basic_ack(tag, wait=False)) and acked
            if not acked:
                log.info("batch.ack_lost_with_channel", size=len(settled))
            if following and acked and channel not in lost:
                self._settled[channel] = batch_tags[-1]
            elif not channel.is_closed:
                log.warning("batch.unsettled_channel_closed", queue=self._queue)
                await _through(channel.close())

    async def _publish_copy(self, delivery: _Delivery, reason: str | None) -> None:
        """Park a message with its reason (as ``messaging.dead_letter`` does), or with no reason
        put it at the back of this queue with one more attempt counted (as
        ``messaging.retry_later`` does); confirmed either way."""
        message = delivery.message
        properties = message.header.properties
        extra: dict[str, object]
        if reason is None:
            exchange, routing_key = "", self._queue
            extra = {topology.ATTEMPTS_HEADER: _attempt(message)}
        else:
            exchange, routing_key = topology.DEAD_LETTER_EXCHANGE, ""
            extra = {DEAD_REASON_HEADER: reason[:1000]}
        await message.channel.basic_publish(
            message.body,
            exchange=exchange,
            routing_key=routing_key,
            properties=Basic.Properties(
                headers=copy_headers(
                    properties.headers, message.exchange, message.routing_key, **extra
                ),
                message_id=properties.message_id,
                correlation_id=properties.correlation_id,
                content_type=properties.content_type or "application/json",
                delivery_mode=2,
            ),
            timeout=10,
        )
        if reason is None:
            return
        sender = {"correlation_id": cid} if (cid := _header(message, CORRELATION_HEADER)) else {}
        log.warning(
            "message.dead_lettered", reason=reason[:300], routing_key=message.routing_key, **sender
        )


def _header(message: DeliveredMessage, name: str) -> str | None:
    value = (message.header.properties.headers or {}).get(name)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None
