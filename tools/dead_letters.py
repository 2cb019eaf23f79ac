"""The on-call operator's view of parked messages: list, replay to where they came from, discard.

Two queues hold them: ``ibok.dead-letters`` (messages a consumer could not process, with their
reason) and ``ibok.unrouted`` (messages no binding took, kept by the alternate exchange).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from contracts import topology

OUR_HEADERS = (
    "x-ibok-dead-reason",
    "x-ibok-source-exchange",
    "x-ibok-source-routing-key",
    topology.ATTEMPTS_HEADER,
)


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    reason: str
    exchange: str
    routing_key: str
    schema: str
    body: bytes

    def summary(self) -> dict[str, str]:
        return {
            "message_id": self.message_id,
            "schema": self.schema,
            "from": f"{self.exchange or '(default)'} / {self.routing_key}",
            "reason": self.reason,
        }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def describe(message: AbstractIncomingMessage) -> DeadLetter:
    """Where a parked message came from and why: parked by IBOK (its headers say), dead-lettered
    by RabbitMQ (``x-death``), or sent by the alternate exchange (its own exchange and key)."""
    headers = message.headers or {}
    if "x-ibok-dead-reason" in headers:
        reason = _text(headers["x-ibok-dead-reason"])
        exchange = _text(headers.get("x-ibok-source-exchange"))
        routing_key = _text(headers.get("x-ibok-source-routing-key"))
    elif "x-death" not in headers:
        reason = "unrouted: no queue was bound for it"
        exchange, routing_key = message.exchange or "", message.routing_key or ""
    else:
        deaths: Any = headers.get("x-death") or [{}]
        death = deaths[0] if isinstance(deaths, list) and deaths else {}
        reason = f"{_text(death.get('reason'))} in {_text(death.get('queue'))} after {death.get('count', '?')}"
        exchange = _text(death.get("exchange"))
        keys = death.get("routing-keys") or [""]
        routing_key = _text(keys[0])
    try:
        schema = str(json.loads(message.body).get("schema", ""))
    except (ValueError, AttributeError):
        schema = ""
    return DeadLetter(message.message_id or "", reason, exchange, routing_key, schema, message.body)


async def _take_all(
    channel: aio_pika.abc.AbstractChannel, queue_name: str
) -> list[AbstractIncomingMessage]:
    queue = await channel.get_queue(queue_name)
    taken = []
    while (message := await queue.get(no_ack=False, fail=False)) is not None:
        taken.append(message)
    return taken


async def list_dead_letters(url: str, queue: str = topology.DEAD_LETTER_QUEUE) -> list[DeadLetter]:
    """Every message parked in ``queue``, left in place."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        taken = await _take_all(channel, queue)
        letters = [describe(m) for m in taken]
        for message in taken:
            await message.nack(requeue=True)
    return letters


async def settle_dead_letters(
    url: str,
    *,
    replay: bool,
    message_ids: set[str] | None,
    queue: str = topology.DEAD_LETTER_QUEUE,
) -> int:
    """Replay (republish to the original exchange and routing key) or discard the chosen
    messages of ``queue``.

    A replayed message keeps its message id, so the consumer's idempotency still holds.
    """
    done = 0
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for message in await _take_all(channel, queue):
            letter = describe(message)
            if message_ids is not None and letter.message_id not in message_ids:
                await message.nack(requeue=True)
                continue
            if replay:
                headers = {
                    k: v
                    for k, v in (message.headers or {}).items()
                    if k not in OUR_HEADERS
                    and k != "x-delivery-count"
                    and not k.startswith("x-death")
                    and not k.startswith("x-first-death")
                    and not k.startswith("x-last-death")
                }
                exchange = (
                    await channel.get_exchange(letter.exchange)
                    if letter.exchange
                    else channel.default_exchange
                )
                await exchange.publish(
                    aio_pika.Message(
                        message.body,
                        headers=headers,
                        message_id=message.message_id,
                        content_type=message.content_type,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=letter.routing_key,
                )
            await message.ack()
            done += 1
    return done
