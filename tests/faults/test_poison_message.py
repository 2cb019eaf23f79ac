"""A message that keeps failing is dead-lettered with its error after the delivery limit; the ones behind it get through."""

from __future__ import annotations

import asyncio
import json
import time

import aio_pika
import pytest

from contracts import topology
from runtime.messaging import consume_envelopes, make_broker
from tests.support.infra import Infra
from tests.support.probes import Probe, declare_probe_queue

pytestmark = pytest.mark.faults


async def test_poison_message_is_dead_lettered_after_the_delivery_limit_and_the_rest_flow(
    own_vhost: Infra,
) -> None:
    attempts: dict[int, int] = {}
    processed: list[int] = []

    async def record(msg: Probe) -> None:
        attempts[msg.n] = attempts.get(msg.n, 0) + 1
        if msg.n == 0:
            raise RuntimeError("this one always fails")
        processed.append(msg.n)

    broker = make_broker(own_vhost.amqp_url, "poison-test", prefetch=16)
    queue = "ibok.test.poison"
    consume_envelopes(broker, queue, {Probe: record})
    await declare_probe_queue(own_vhost.amqp_url, queue)
    async with broker:
        await broker.start()
        connection = await aio_pika.connect(own_vhost.amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            events = await channel.get_exchange(topology.EVENTS_EXCHANGE)
            for n in range(0, 21):
                await events.publish(
                    aio_pika.Message(
                        Probe(n=n).to_wire(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT
                    ),
                    routing_key=Probe.SCHEMA,
                )
            dead_queue = await channel.get_queue(topology.DEAD_LETTER_QUEUE)
            started = time.monotonic()
            dead = None
            while dead is None and time.monotonic() - started < 20:
                dead = await dead_queue.get(fail=False, no_ack=False)
                if dead is None:
                    await asyncio.sleep(0.1)
            assert dead is not None, "the poison message was not dead-lettered"
            took = time.monotonic() - started
            await dead.ack()
    assert json.loads(dead.body)["n"] == 0
    headers = dead.headers or {}
    assert headers["x-ibok-dead-reason"] == "failed 5 times: RuntimeError: this one always fails"
    assert headers["x-ibok-source-routing-key"] == Probe.SCHEMA
    assert attempts[0] == topology.DELIVERY_LIMIT
    assert headers[topology.ATTEMPTS_HEADER] == topology.DELIVERY_LIMIT - 1
    assert sorted(processed) == list(range(1, 21))
    print(
        f"poison dead-lettered after {attempts[0]} deliveries in {took:.2f} s; 20 others processed once each"
    )
