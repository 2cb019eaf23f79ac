"""A bad message from the billing system is dead-lettered with its reason; the operator lists, replays and discards it."""

from __future__ import annotations

import json
import time
import uuid

import aio_pika

from contracts import topology
from tests.support.cli import ibok
from tests.support.infra import Infra
from tools.system import System


def listed(infra: Infra) -> list[dict[str, str]]:
    return [
        json.loads(line) for line in ibok(infra, "dead-letters", "list").stdout.splitlines() if line
    ]


async def test_invalid_message_is_dead_lettered_listed_replayed_and_discarded(
    system: System, infra: Infra
) -> None:
    message_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "schema": "customer.upserted.v1",
            "message_id": message_id,
            "occurred_at": "2026-11-25T10:00:00Z",
            "customer_number": "K-BAD",
        }
    ).encode()
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        billing_in = await channel.get_exchange(topology.BILLING_IN_EXCHANGE)
        # A queue of our own on the same key shows where a replay goes.
        watch = await channel.declare_queue(exclusive=True)
        await watch.bind(billing_in, routing_key="customer.upserted.v1")
        await billing_in.publish(
            aio_pika.Message(body, message_id=message_id), routing_key="customer.upserted.v1"
        )
        original = await watch.get(timeout=5)
        await original.ack()

        deadline = time.monotonic() + 15
        while not (mine := [d for d in listed(infra) if d["message_id"] == message_id]):
            assert time.monotonic() < deadline, "the invalid message was not dead-lettered"
            time.sleep(0.3)
        assert "invalid customer.upserted.v1" in mine[0]["reason"]
        assert mine[0]["from"] == "billing.in / customer.upserted.v1"

        ibok(infra, "dead-letters", "replay", "--id", message_id)
        replayed = await watch.get(timeout=5)
        assert replayed.message_id == message_id and replayed.body == body
        await replayed.ack()

        # Replayed, it fails validation again and comes back; now discard it for good.
        deadline = time.monotonic() + 15
        while not [d for d in listed(infra) if d["message_id"] == message_id]:
            assert time.monotonic() < deadline
            time.sleep(0.3)
        ibok(infra, "dead-letters", "discard", "--id", message_id)
        assert not [d for d in listed(infra) if d["message_id"] == message_id]
