"""A request/reply client that keeps many requests in flight on one channel.

FastStream's ``broker.request`` holds one lock per broker (faststream#1318), which serialises
every call; this client instead consumes RabbitMQ's direct reply-to pseudo-queue once and
matches replies to waiting futures by correlation id, so concurrency is bounded only by the
services' prefetch.

Requests are published and replies consumed on the robust channel's underlying aiormq channel:
aio-pika's ``Message`` and ``IncomingMessage`` objects (every property parsed and converted,
about 45 us of CPU a call together) are not made for a message whose body and correlation id
are all that is used. The reply consumer is started again whenever the robust channel reopens.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, TypeVar

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

from contracts.base import CORRELATION_HEADER, PROBLEM_HEADER, Contract, Problem
from contracts.rpc import Operation
from runtime.logs import current_correlation_id, get_logger

log = get_logger(__name__)

REPLY_TO = "amq.rabbitmq.reply-to"
Rep = TypeVar("Rep", bound=Contract)


class RpcError(Exception):
    """The call did not produce the operation's result."""


class RpcUnavailable(RpcError):
    """The broker or the answering service cannot be reached right now."""


class RpcTimeout(RpcError):
    """No answer within the timeout."""


class RpcProblem(RpcError):
    """The service answered with a refusal or a failure."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.code)
        self.problem = problem


class RpcClient:
    def __init__(self, url: str, *, timeout: float = 5.0, name: str = "ibok") -> None:
        self._url = url
        self._timeout = timeout
        self._name = name
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._pending: dict[str, asyncio.Future[DeliveredMessage]] = {}

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self._url, reconnect_interval=1.0, client_properties={"connection_name": self._name}
        )
        self._connection.close_callbacks.add(self._on_connection_lost)
        channel = await self._connection.channel(publisher_confirms=False)
        assert isinstance(channel, AbstractRobustChannel)
        self._channel = channel
        channel.return_callbacks.add(self._on_returned)
        channel.reopen_callbacks.add(self._consume_replies)
        await self._consume_replies()

    async def _consume_replies(self, *_: Any) -> None:
        """Direct reply-to: consumed on the channel that publishes, before it publishes."""
        assert self._channel is not None
        underlay = await self._channel.get_underlay_channel()
        await underlay.basic_consume(REPLY_TO, self._on_reply, no_ack=True)

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    @property
    def ready(self) -> bool:
        # A robust connection is "not closed" while it reconnects; ``connected`` says the truth.
        return (
            self._connection is not None
            and self._connection.connected.is_set()
            and self._channel is not None
            and not self._channel.is_closed
        )

    async def call(
        self, operation: Operation[Any, Rep], request: Contract, *, timeout: float | None = None
    ) -> Rep:
        """The operation's reply, validated into its model; a Problem raises RpcProblem."""
        return operation.reply.model_validate_json(
            await self.call_raw(operation, request, timeout=timeout)
        )

    async def call_raw(
        self, operation: Operation[Any, Any], request: Contract, *, timeout: float | None = None
    ) -> bytes:
        """The reply's JSON as the service wrote it, for a caller that passes it on unchanged
        (the service made it from the operation's reply model, or, on a hot path, wrote that
        model's JSON itself: billing's invoice page, whose shape tests/e2e/test_billing.py and
        the portal's parsing into ``InvoicePage`` check)."""
        if not self.ready or self._channel is None:
            raise RpcUnavailable("broker unreachable")
        timeout = timeout or self._timeout
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[DeliveredMessage] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        properties = Basic.Properties(
            content_type="application/json",
            correlation_id=correlation_id,
            reply_to=REPLY_TO,
            # A request nobody took within the timeout is pointless: let the broker drop it.
            expiration=str(int(timeout * 1000)),
            headers={CORRELATION_HEADER: cid} if (cid := current_correlation_id()) else None,
        )
        try:
            async with asyncio.timeout(timeout):
                channel = await self._channel.get_underlay_channel()
                await channel.basic_publish(
                    request.model_dump_json().encode(),
                    routing_key=operation.queue,
                    properties=properties,
                    mandatory=True,
                )
                reply = await future
        except TimeoutError as exc:
            raise RpcTimeout(operation.queue) from exc
        except (aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            raise RpcUnavailable(str(exc)) from exc
        finally:
            self._pending.pop(correlation_id, None)
        headers = reply.header.properties.headers
        if headers and PROBLEM_HEADER in headers:
            raise RpcProblem(Problem.model_validate_json(reply.body))
        return reply.body

    async def _on_reply(self, message: DeliveredMessage) -> None:
        future = self._pending.get(message.header.properties.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(message)

    def _on_returned(self, _: Any, message: AbstractIncomingMessage) -> None:
        # mandatory=True: the broker hands back a request no queue takes (service never started).
        future = self._pending.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_exception(RpcUnavailable(f"no consumer queue {message.routing_key}"))

    def _on_connection_lost(self, *_: Any) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RpcUnavailable("broker connection lost"))
