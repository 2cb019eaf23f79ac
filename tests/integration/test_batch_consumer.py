"""The batched consumer against the real broker: batches acknowledged whole, one message that
keeps failing dead-lettered after the delivery limit, invalid ones dead-lettered at once, and
every other message applied exactly once with nothing left unacknowledged; a batch whose apply
is interrupted comes again (no later acknowledgement covers it); a batch worker that stops is
reported (not ready) and replaced; a consumer the broker cancels comes back."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aio_pika

from contracts import topology
from contracts.base import Envelope
from runtime.batch_consumer import BatchConsumer
from tests.support.events import publish_events
from tests.support.infra import Infra
from tests.support.probes import Probe, declare_probe_queue
from tests.support.queues import queue_messages

QUEUE = "ibok.test.batches"
N = 3_000
POISON = 1_234


async def _dead_letters(
    channel: aio_pika.abc.AbstractChannel,
) -> list[tuple[dict[str, Any], bytes]]:
    queue = await channel.get_queue(topology.DEAD_LETTER_QUEUE)
    found = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        found.append((dict(message.headers or {}), message.body))
    return found


async def test_batches_apply_once_each_and_settle_every_delivery(own_vhost: Infra) -> None:
    applied: Counter[int] = Counter()
    attempts = Counter[int]()
    batch_sizes: list[int] = []

    async def apply(batch: Sequence[Envelope]) -> None:
        numbers = [m.n for m in batch if isinstance(m, Probe)]
        attempts.update(numbers)
        if POISON in numbers:
            raise RuntimeError("this one always fails")
        batch_sizes.append(len(numbers))
        applied.update(numbers)

    def refuse(message: Envelope) -> str | None:
        return "odd one out" if isinstance(message, Probe) and message.n == 7 else None

    await _declare(own_vhost.amqp_url)
    consumer = BatchConsumer(
        own_vhost.amqp_url, QUEUE, [Probe], apply, refuse=refuse, max_batch=200, prefetch=1000
    )
    connection = await aio_pika.connect(own_vhost.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        events = await channel.get_exchange(topology.EVENTS_EXCHANGE)
        bodies = [Probe(n=n).to_wire() for n in range(N)]
        bodies.insert(N // 2, b"{not json")
        for start in range(0, len(bodies), 500):
            await asyncio.gather(
                *(
                    events.publish(
                        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key=Probe.SCHEMA,
                    )
                    for body in bodies[start : start + 500]
                )
            )
        # A backlog, as a nightly import finds it: full batches.
        await consumer.start()
        try:
            started = time.monotonic()
            dead: list[tuple[dict[str, Any], bytes]] = []
            while len(dead) < 3 and time.monotonic() - started < 60:
                dead += await _dead_letters(channel)
                await asyncio.sleep(0.2)
            # Settled means acknowledged: nothing ready and nothing unacknowledged is left.
            depth = None
            while time.monotonic() - started < 60:
                depth = (await asyncio.to_thread(queue_messages, own_vhost.vhost)).get(QUEUE)
                if depth == 0 and len(applied) == N - 2:
                    break
                await asyncio.sleep(0.2)
            took = time.monotonic() - started
        finally:
            await consumer.stop()
    finally:
        await connection.close()

    reasons = {
        (json.loads(body)["n"] if body.startswith(b'{"') else None): headers["x-ibok-dead-reason"]
        for headers, body in dead
    }
    assert reasons == {
        POISON: "failed 5 times: RuntimeError: this one always fails",
        7: "refused probe.recorded.v1: odd one out",
        None: "body is not JSON",
    }
    assert depth == 0, "deliveries left unacknowledged or ready"
    assert set(applied) == set(range(N)) - {POISON, 7}
    assert set(applied.values()) == {1}, "a message applied twice"
    assert attempts[POISON] >= topology.DELIVERY_LIMIT
    assert max(batch_sizes) == 200
    print(f"{N} probes applied in {len(batch_sizes)} calls, settled in {took:.1f} s")


async def _declare(url: str) -> None:
    await declare_probe_queue(url, QUEUE)


async def _until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_a_batch_whose_apply_is_interrupted_comes_again_and_is_never_acknowledged_unapplied(
    own_vhost: Infra,
) -> None:
    """A CancelledError out of apply (not the worker's owner cancelling it) leaves a batch
    unsettled on a live channel: the next batch's ``multiple`` acknowledgement must not cover
    it. Before the fix the 100 probes of that batch were acknowledged and never applied."""
    applied: set[int] = set()
    interrupted: list[int] = []

    async def apply(batch: Sequence[Envelope]) -> None:
        numbers = [m.n for m in batch if isinstance(m, Probe)]
        if 150 in numbers and not interrupted:
            interrupted.extend(numbers)
            raise asyncio.CancelledError()  # as aiormq or a library hands one to a task
        applied.update(numbers)

    await _declare(own_vhost.amqp_url)
    await publish_events(own_vhost.amqp_url, [Probe(n=n) for n in range(1_000)])
    consumer = BatchConsumer(own_vhost.amqp_url, QUEUE, [Probe], apply, max_batch=100)
    await consumer.start()
    try:

        async def drained() -> bool:
            depths = await asyncio.to_thread(queue_messages, own_vhost.vhost)
            return len(applied) == 1_000 and depths.get(QUEUE) == 0

        settled = await _until(drained, 30)
    finally:
        await consumer.stop()
    assert interrupted, "the apply was never interrupted"
    assert set(range(1_000)) - applied == set(), "acknowledged without being applied"
    assert settled, "deliveries left in the queue"


async def test_a_batch_worker_that_stops_is_reported_not_ready_and_replaced(
    own_vhost: Infra,
) -> None:
    """An apply that never returns: within ``stall_after`` the consumer says it is not ready,
    then starts a new worker and reconnects, and every probe is applied."""
    applied: set[int] = set()
    hung: list[int] = []

    async def apply(batch: Sequence[Envelope]) -> None:
        numbers = [m.n for m in batch if isinstance(m, Probe)]
        if not hung:
            hung.extend(numbers)
            await asyncio.Event().wait()  # forever
        applied.update(numbers)

    await _declare(own_vhost.amqp_url)
    consumer = BatchConsumer(
        own_vhost.amqp_url, QUEUE, [Probe], apply, max_batch=100, stall_after=1.0
    )
    await consumer.start()
    try:
        await publish_events(own_vhost.amqp_url, [Probe(n=n) for n in range(500)])
        assert consumer.ready

        async def not_ready() -> bool:
            return not consumer.ready

        started = time.monotonic()
        reported = await _until(not_ready, 10)
        noticed = time.monotonic() - started

        async def recovered() -> bool:
            depths = await asyncio.to_thread(queue_messages, own_vhost.vhost)
            return len(applied) == 500 and depths.get(QUEUE) == 0 and consumer.ready

        back = await _until(recovered, 30)
    finally:
        await consumer.stop()
    print(f"stall reported after {noticed:.1f} s")
    assert hung, "the apply never hung"
    assert reported, "a stalled consumer stayed ready"
    assert consumer.stalls == 1, "not ready for another reason than the stall"
    assert back, f"not recovered: {len(applied)} of 500 applied, ready={consumer.ready}"
