"""The broker of a service: connection, topology, correlation ids, consumers and the outbox relay."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aio_pika
import asyncpg
from faststream import AckPolicy
from faststream._internal.middlewares import BaseMiddleware
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitMessage,
    RabbitQueue,
)
from pydantic import ValidationError

from contracts import topology
from contracts.base import CORRELATION_HEADER, Envelope
from runtime.db import TRANSIENT_DB_ERRORS
from runtime.logs import bind_correlation_id, current_correlation_id, get_logger

log = get_logger(__name__)

EXCHANGES = {
    topology.EVENTS_EXCHANGE: ExchangeType.TOPIC,
    topology.BILLING_IN_EXCHANGE: ExchangeType.TOPIC,
    topology.IBOK_OUT_EXCHANGE: ExchangeType.TOPIC,
    topology.DEAD_LETTER_EXCHANGE: ExchangeType.FANOUT,
}


class CorrelationMiddleware(BaseMiddleware):  # type: ignore[type-arg]
    """Takes the correlation id from an incoming message into the log context and passes it on."""

    async def on_receive(self) -> None:
        headers = getattr(self.msg, "headers", None) or {}
        value = headers.get(CORRELATION_HEADER)
        bind_correlation_id(value.decode() if isinstance(value, bytes) else value)

    async def publish_scope(self, call_next: Callable[[Any], Awaitable[Any]], cmd: Any) -> Any:
        cid = current_correlation_id()
        if cid and CORRELATION_HEADER not in cmd.headers:
            cmd.headers[CORRELATION_HEADER] = cid
        return await call_next(cmd)


def make_broker(
    url: str, service: str, *, prefetch: int, middlewares: Sequence[Any] = ()
) -> RabbitBroker:
    return RabbitBroker(
        url,
        app_id=f"ibok-{service}",
        default_channel=Channel(prefetch_count=prefetch, publisher_confirms=True),
        middlewares=(CorrelationMiddleware, *middlewares),
        # FastStream's per-message lines are debug detail; our handlers log what matters.
        logger=logging.getLogger("ibok.broker"),
        # Our endpoints parse their own bodies (one pydantic validation, no per-message
        # dependency injection, which ran a thread hop for every message); see _whole_message.
        apply_types=False,
        log_level=logging.DEBUG,
        reconnect_interval=1.0,
        graceful_timeout=10.0,
    )


async def _whole_message(message: RabbitMessage) -> RabbitMessage:
    """Decoder that hands the endpoint the message itself (body, headers, ack) instead of a body."""
    return message


def durable_queue(name: str) -> RabbitQueue:
    """A quorum queue that dead-letters a message after the delivery limit (R: nothing loops)."""
    return RabbitQueue(
        name,
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments={
            "x-delivery-limit": topology.DELIVERY_LIMIT,
            "x-dead-letter-exchange": topology.DEAD_LETTER_EXCHANGE,
        },
    )


async def declare_topology(
    broker: RabbitBroker,
    bindings: Mapping[str, tuple[str, Sequence[str]]] = {},
    *,
    shared: bool = True,
) -> None:
    """Declare the shared exchanges and dead-letter queue, and bind this service's queues.

    ``bindings`` maps a queue name to (exchange, routing keys). Declarations are idempotent,
    so every service may run this at start. ``shared=False`` leaves the shared exchanges and
    queues alone (a broker user confined to its own queues may not declare them).
    """
    if shared:
        await _declare_shared(broker)
    for queue_name, (exchange, keys) in bindings.items():
        queue = await broker.declare_queue(durable_queue(queue_name))
        for key in keys:
            await queue.bind(exchange, routing_key=key)


async def _declare_shared(broker: RabbitBroker) -> None:
    for name, kind in EXCHANGES.items():
        await broker.declare_exchange(RabbitExchange(name, type=kind, durable=True))
    dead = await broker.declare_queue(
        RabbitQueue(topology.DEAD_LETTER_QUEUE, queue_type=QueueType.QUORUM, durable=True)
    )
    await dead.bind(topology.DEAD_LETTER_EXCHANGE, routing_key="")
    billing_system = await broker.declare_queue(durable_queue(topology.BILLING_SYSTEM_QUEUE))
    await billing_system.bind(topology.IBOK_OUT_EXCHANGE, routing_key="#")


EnvelopeHandler = Callable[[Any], Awaitable[None]]


async def dead_letter(broker: RabbitBroker, message: RabbitMessage, reason: str) -> None:
    """Park a message we will never be able to process, with the reason, for the operator."""
    raw: aio_pika.IncomingMessage = message.raw_message
    headers = dict(raw.headers or {})
    headers.update(
        {
            "x-ibok-dead-reason": reason[:1000],
            "x-ibok-source-exchange": raw.exchange or "",
            "x-ibok-source-routing-key": raw.routing_key or "",
        }
    )
    await broker.publish(
        message.body,
        exchange=topology.DEAD_LETTER_EXCHANGE,
        routing_key="",
        headers=headers,
        message_id=raw.message_id,
        content_type=raw.content_type or "application/json",
        persist=True,
    )
    log.warning("message.dead_lettered", reason=reason[:300], routing_key=raw.routing_key)


def consume_envelopes(
    broker: RabbitBroker,
    queue: str,
    handlers: Mapping[type[Envelope], EnvelopeHandler],
    *,
    on_transient: Callable[[], None] = lambda: None,
    max_transient_wait: float = 60.0,
) -> None:
    """One durable queue, many message types: dispatch by the message's ``schema``.

    A message with an unknown schema or invalid content is dead-lettered with its reason and
    acknowledged, so it never blocks the queue. While the database is unreachable a message
    is held and retried with backoff (the outage is not the message's fault, so it does not
    count against the delivery limit); any other failure is requeued until the limit
    dead-letters it.
    """
    by_schema = {model.SCHEMA: (model, handler) for model, handler in handlers.items()}

    async def endpoint(message: RabbitMessage) -> None:
        try:
            data = json.loads(message.body)
            schema = data.get("schema") if isinstance(data, dict) else None
        except ValueError:
            await dead_letter(broker, message, "body is not JSON")
            await message.ack()
            return
        if schema not in by_schema:
            await dead_letter(broker, message, f"unknown schema {schema!r}")
            await message.ack()
            return
        model, handler = by_schema[schema]
        try:
            envelope = model.model_validate(data)
        except ValidationError as exc:
            await dead_letter(broker, message, f"invalid {schema}: {exc.errors(include_url=False)}")
            await message.ack()
            return
        delay = 0.2
        waited = 0.0
        while True:
            try:
                await handler(envelope)
            except TRANSIENT_DB_ERRORS as exc:
                on_transient()
                if waited >= max_transient_wait:
                    await message.nack(requeue=True)
                    return
                log.warning("message.retry", schema=schema, error=type(exc).__name__, delay=delay)
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 5.0)
            except Exception as exc:
                log.exception("message.failed", schema=schema, message_id=str(envelope.message_id))
                # Quorum queues count redeliveries; on the last one park it ourselves, with the
                # error as its reason (the queue's own delivery limit stays as a backstop).
                count = (message.raw_message.headers or {}).get("x-delivery-count", 0)
                deliveries = (count if isinstance(count, int) else 0) + 1
                if deliveries >= topology.DELIVERY_LIMIT:
                    await dead_letter(
                        broker, message, f"failed {deliveries} times: {type(exc).__name__}: {exc}"
                    )
                    await message.ack()
                else:
                    await message.nack(requeue=True)
                return
            else:
                await message.ack()
                return

    endpoint.__name__ = queue.replace(".", "_").replace("-", "_")
    broker.subscriber(
        durable_queue(queue),
        ack_policy=AckPolicy.MANUAL,
        no_reply=True,
        title=queue,
        decoder=_whole_message,
    )(endpoint)


async def first_delivery(conn: asyncpg.Connection, envelope: Envelope) -> bool:
    """Record a message id in this service's inbox; False when it was processed before.

    Call inside the transaction that applies the message, so both commit or neither does.
    """
    inserted = await conn.fetchval(
        "INSERT INTO inbox (message_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true",
        envelope.message_id,
    )
    return bool(inserted)
