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
    RabbitBroker,
    RabbitMessage,
    RabbitQueue,
)
from pydantic import ValidationError

from contracts import topology
from contracts.base import CORRELATION_HEADER, Envelope
from runtime.db import TRANSIENT_DB_ERRORS
from runtime.logs import bind_correlation_id, current_correlation_id, get_logger

log = get_logger(__name__)


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


EnvelopeHandler = Callable[[Any], Awaitable[None]]


SOURCE_EXCHANGE_HEADER = "x-ibok-source-exchange"
SOURCE_KEY_HEADER = "x-ibok-source-routing-key"
DEAD_REASON_HEADER = "x-ibok-dead-reason"
# Set by the broker on delivery; a copy published again must not carry them.
_BROKER_HEADERS = ("x-delivery-count",)


def attempts_of(headers: Mapping[str, Any] | None) -> int:
    """How many times consumers failed on this message so far (our own count, in its headers)."""
    value = (headers or {}).get(topology.ATTEMPTS_HEADER, 0)
    return value if isinstance(value, int) else 0


def copy_headers(
    headers: Mapping[str, Any] | None, exchange: str | None, routing_key: str | None, **extra: Any
) -> dict[str, Any]:
    """A delivered message's headers for a copy published again (to be retried, or parked):
    where it first came from is kept (a retried copy comes through the default exchange)."""
    copied = {k: v for k, v in (headers or {}).items() if k not in _BROKER_HEADERS}
    copied.setdefault(SOURCE_EXCHANGE_HEADER, exchange or "")
    copied.setdefault(SOURCE_KEY_HEADER, routing_key or "")
    copied.update(extra)
    return copied


def failed_reason(attempts: int, exc: BaseException | str) -> str:
    error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return f"failed {attempts} times: {error}"


async def dead_letter(broker: RabbitBroker, message: RabbitMessage, reason: str) -> None:
    """Park a message we will never be able to process, with the reason, for the operator."""
    raw: aio_pika.IncomingMessage = message.raw_message
    headers = copy_headers(
        raw.headers, raw.exchange, raw.routing_key, **{DEAD_REASON_HEADER: reason[:1000]}
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


async def retry_later(broker: RabbitBroker, message: RabbitMessage, queue: str) -> int:
    """Publish a copy of a failed message to the back of its queue with its attempts counted
    (confirmed; the caller acknowledges the original after): the count survives any broker
    version, where RabbitMQ 4.3 stopped counting requeued messages. Its number of attempts."""
    raw: aio_pika.IncomingMessage = message.raw_message
    attempts = attempts_of(raw.headers) + 1
    await broker.publish(
        message.body,
        routing_key=queue,
        headers=copy_headers(
            raw.headers, raw.exchange, raw.routing_key, **{topology.ATTEMPTS_HEADER: attempts}
        ),
        message_id=raw.message_id,
        correlation_id=raw.correlation_id,
        content_type=raw.content_type or "application/json",
        persist=True,
    )
    return attempts


def consume_envelopes(
    broker: RabbitBroker,
    queue: str,
    handlers: Mapping[type[Envelope], EnvelopeHandler],
    *,
    on_transient: Callable[[], None] = lambda: None,
    max_transient_wait: float = 60.0,
) -> None:
    """One durable queue, many message types: dispatch by the message's ``schema``.

    The queue must be declared already (``runtime.broker_topology``). A message with an
    unknown schema or invalid content is dead-lettered with its reason and acknowledged, so it
    never blocks the queue. While the database is unreachable a message is held and retried
    with backoff (the outage is not the message's fault, so it does not count against the
    delivery limit). Any other failure puts a copy at the back of the queue with the attempt
    counted in its headers, and acknowledges the original; the ``DELIVERY_LIMIT``-th failure
    dead-letters it with the error as its reason.
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
                attempts = attempts_of(message.raw_message.headers) + 1
                try:
                    if attempts >= topology.DELIVERY_LIMIT:
                        await dead_letter(broker, message, failed_reason(attempts, exc))
                    else:
                        await retry_later(broker, message, queue)
                except Exception as lost:  # the broker went meanwhile: it keeps the original
                    log.warning("message.requeued", schema=schema, error=type(lost).__name__)
                    await message.nack(requeue=True)
                    return
                await message.ack()
                return
            else:
                await message.ack()
                return

    endpoint.__name__ = queue.replace(".", "_").replace("-", "_")
    broker.subscriber(
        RabbitQueue(queue, declare=False),
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
