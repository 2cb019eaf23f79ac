"""The batched consumer against the real broker: batches acknowledged whole, one message that
keeps failing dead-lettered after the delivery limit, invalid ones dead-lettered at once, and
every other message applied exactly once with nothing left unacknowledged."""

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
from runtime.messaging import declare_topology, make_broker
from tests.support.infra import Infra
from tests.support.probes import Probe
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

    broker = make_broker(own_vhost.amqp_url, "batches-test", prefetch=16)
    async with broker:
        await broker.connect()
        await declare_topology(broker, {QUEUE: (topology.EVENTS_EXCHANGE, [Probe.SCHEMA])})
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
