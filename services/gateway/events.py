"""The events a gateway process follows (maintenance, ended sessions), through a queue of its own."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import aio_pika

from contracts import topology
from runtime import broker_topology
from runtime.logs import get_logger

log = get_logger(__name__)


class GatewayEvents:
    """An exclusive, auto-deleted queue per gateway process, bound to the schemas it follows.

    Every process hears every event. After a reconnect, events sent meanwhile are lost, so the
    ``on_reconnect`` callbacks drop whatever state such an event could have changed. The
    ``on_listening`` callbacks hear True once the queue consumes (at start and after each
    reconnect) and False as soon as the connection is lost.
    """

    def __init__(self, amqp_url: str) -> None:
        self._url = amqp_url
        self._handlers: dict[str, Callable[[bytes], None]] = {}
        self.on_reconnect: list[Callable[[], None]] = []
        self.on_listening: list[Callable[[bool], None]] = []
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None

    def follow(self, schema: str, handler: Callable[[bytes], None]) -> None:
        self._handlers[schema] = handler

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self._url,
            reconnect_interval=1.0,
            client_properties={"connection_name": "ibok-gateway-events"},
        )
        self._connection.reconnect_callbacks.add(self._reconnected)
        self._connection.close_callbacks.add(self._lost)
        # The whole topology, as every service declares it at start (whichever starts first).
        await broker_topology.declare(self._url, "gateway")
        channel = await self._connection.channel()
        # Declared (or, for a user confined to its own queues, checked) just above.
        exchange = await channel.get_exchange(topology.EVENTS_EXCHANGE, ensure=False)
        # Named under the gateway's own prefix, which its broker user may declare.
        queue = await channel.declare_queue(
            f"ibok.gateway.events.{uuid.uuid4().hex}", exclusive=True, auto_delete=True
        )
        for schema in self._handlers:
            await queue.bind(exchange, routing_key=schema)
        await queue.consume(self._on_message, no_ack=True)
        self._listening(True)

    async def stop(self) -> None:
        self._listening(False)
        if self._connection is not None:
            await self._connection.close()

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        handler = self._handlers.get(message.routing_key or "")
        if handler is None:
            return
        try:
            handler(message.body)
        except ValueError:
            log.warning("gateway_event.invalid", routing_key=message.routing_key)

    def _reconnected(self, *_: Any) -> None:
        log.info("gateway_events.reconnected")
        for callback in self.on_reconnect:
            callback()
        self._listening(True)

    def _lost(self, *_: Any) -> None:
        self._listening(False)

    def _listening(self, listening: bool) -> None:
        for callback in self.on_listening:
            callback(listening)
