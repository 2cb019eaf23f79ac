"""Publish events to ``ibok.events`` as a service's outbox relay would, to drive a consumer in a test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import aio_pika
import aiormq

from contracts import topology
from contracts.base import Envelope
from runtime.broker_topology import ensure_exchange


async def publish_events(amqp_url: str, events: Sequence[Envelope], timeout: float = 15) -> None:
    """Routing key = the event's schema, body = its wire form, persistent, with publisher confirms.

    Published as mandatory: an event no queue takes yet (the consumer has not bound its queue,
    which happens just after it reports ready) comes back and is published again.
    """
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await ensure_exchange(channel, topology.EVENTS_EXCHANGE)
        deadline = time.monotonic() + timeout

        async def publish(event: Envelope) -> None:
            while True:
                try:
                    await exchange.publish(
                        aio_pika.Message(
                            event.to_wire(),
                            message_id=str(event.message_id),
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=event.SCHEMA,
                        mandatory=True,
                    )
                    return
                except aiormq.exceptions.DeliveryError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)

        for start in range(0, len(events), 500):
            await asyncio.gather(*(publish(event) for event in events[start : start + 500]))
    finally:
        await connection.close()
