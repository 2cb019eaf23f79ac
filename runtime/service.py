"""One backend service as a process: broker, pool, migrations, outbox relay and health HTTP."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.rabbit import RabbitBroker
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from contracts import topology
from contracts.base import Envelope
from contracts.rpc import Operation
from runtime import batch_consumer, batches, broker_topology, db, messaging
from runtime.logs import configure_logging, get_logger
from runtime.outbox import OutboxRelay
from runtime.rpc_client import RpcClient
from runtime.rpc_server import Handler, RpcServer
from runtime.settings import Settings
from runtime.unit_of_work import UnitOfWork, open_unit_of_work

log = get_logger(__name__)

# A handler of one consumed message, and of a consumed batch's messages not seen before; both
# run inside the unit of work the runtime opened for them.
MessageHandler = Callable[[UnitOfWork, Any], Awaitable[None]]
BatchHandler = Callable[[UnitOfWork, Sequence[Envelope]], Awaitable[None]]


@dataclass
class ServiceRuntime:
    """Everything a service's handlers need, wired once (STYLE: the only place that wires)."""

    name: str
    settings: Settings
    migrations: Path
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    startup_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Run once the broker's topology is declared (consumers of our own queues).
    after_start_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    shutdown_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.broker: RabbitBroker = messaging.make_broker(
            self.amqp_url,
            self.name,
            prefetch=self.settings.prefetch,
            middlewares=(RabbitPrometheusMiddleware(registry=self.registry, app_name=self.name),),
        )
        self.rpc_server = RpcServer(
            self.amqp_url,
            service=self.name,
            prefetch=self.settings.prefetch,
            registry=self.registry,
            on_transient=self._on_db_trouble,
        )
        self._pool: asyncpg.Pool | None = None
        self._batch_consumers: list[batch_consumer.BatchConsumer] = []
        self._started = False
        self.relay: OutboxRelay | None = None

    @property
    def amqp_url(self) -> str:
        return self.settings.amqp_url_of(self.name)

    @property
    def postgres_dsn(self) -> str:
        return self.settings.postgres_dsn_of(self.name)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    # --- wiring -------------------------------------------------------------------------------
    def answer(self, operation: Operation[Any, Any], handler: Handler) -> None:
        self.rpc_server.answer(operation, handler)

    def consume(
        self,
        queue: str,
        exchange: str,
        handlers: Mapping[type[Envelope], MessageHandler],
    ) -> None:
        """Consume ``handlers``' message types from ``exchange`` through this service's ``queue``;
        each message is applied by ``deliver`` (its own unit of work, once per message id)."""
        self._check_bindings(queue, exchange, list(handlers))
        delivering = {model: partial(self.deliver, handler) for model, handler in handlers.items()}
        messaging.consume_envelopes(
            self.broker, queue, delivering, on_transient=self._on_db_trouble
        )

    def consume_batches(
        self,
        queue: str,
        exchange: str,
        models: Sequence[type[Envelope]],
        apply: BatchHandler,
        *,
        refuse: batches.Refusal | None = None,
    ) -> None:
        """Like ``consume``, but ``apply`` gets many messages at once, in one unit of work (bulk
        imports): only those not processed before (``deliver_batch``)."""
        self._check_bindings(queue, exchange, models)
        consumer = batch_consumer.BatchConsumer(
            self.amqp_url,
            queue,
            models,
            partial(self.deliver_batch, apply),
            refuse=refuse,
            max_batch=self.settings.batch_size,
            max_wait=self.settings.batch_wait_ms / 1000,
            prefetch=self.settings.batch_prefetch,
            on_transient=self._on_db_trouble,
            registry=self.registry,
            name=f"ibok-{self.name}-batches",
            stall_after=self.settings.batch_stall_seconds,
        )
        self._batch_consumers.append(consumer)
        # Started once its queue is declared; stopped (finishing its batches) before the pool.
        self.after_start_hooks.append(consumer.start)
        self.shutdown_hooks.insert(0, consumer.stop)

    def _check_bindings(self, queue: str, exchange: str, models: Sequence[type[Envelope]]) -> None:
        """The queue's bindings come from ``contracts.topology``: a consumer must handle exactly
        what its queue is bound to there (no message left unhandled, none never delivered)."""
        declared = topology.TOPOLOGY.queue(queue)
        bound = {(b.exchange, b.routing_key) for b in declared.bindings}
        wanted = {(exchange, model.SCHEMA) for model in models}
        if declared.owner != self.name or bound != wanted:
            raise RuntimeError(
                f"{self.name} consumes {sorted(wanted)} from {queue}, but contracts.topology"
                f" gives it to {declared.owner} bound to {sorted(bound)}"
            )

    # --- units of work ------------------------------------------------------------------------
    def unit_of_work(
        self, *, message: Envelope | None = None, messages: Sequence[Envelope] | None = None
    ) -> AbstractAsyncContextManager[UnitOfWork]:
        """A transaction with its outbox, inbox and relay wake-up (runtime/unit_of_work.py)."""
        return open_unit_of_work(self.pool, self._wake_relay, message=message, messages=messages)

    async def deliver(self, handler: MessageHandler, message: Envelope) -> None:
        """Apply one consumed message: ``handler`` runs in a unit of work that records the
        message in the inbox, and not at all when it was processed before."""
        async with self.unit_of_work(message=message) as uow:
            if uow.duplicate:
                log.info(
                    "message.duplicate", schema=message.SCHEMA, message_id=str(message.message_id)
                )
                return
            await handler(uow, message)

    async def deliver_batch(self, apply: BatchHandler, messages: Sequence[Envelope]) -> None:
        """Apply a consumed batch: ``apply`` gets the messages not processed before."""
        async with self.unit_of_work(messages=messages) as uow:
            await apply(uow, uow.fresh)

    async def announce(self, exchange: str, message: Envelope) -> None:
        """Publish now, with a confirm, outside any transaction: for signals that must reach
        other processes before this request is answered (e.g. ended sessions). Not a
        replacement for the outbox: a lost announcement must only cost freshness, never data."""
        topology.require_published(exchange, message.SCHEMA)
        try:
            await self.broker.publish(
                message.to_wire(),
                exchange=exchange,
                routing_key=message.SCHEMA,
                message_id=str(message.message_id),
                content_type="application/json",
                timeout=5,
            )
        except Exception as exc:
            log.warning("announce.failed", schema=message.SCHEMA, error=type(exc).__name__)

    def _wake_relay(self) -> None:
        if self.relay:
            self.relay.wake()

    def rpc_client(self) -> RpcClient:
        """A concurrent request/reply client for asking other services, opened with the service."""
        client = RpcClient(
            self.amqp_url, timeout=self.settings.rpc_timeout, name=f"ibok-{self.name}-rpc"
        )
        self.startup_hooks.append(client.start)
        self.shutdown_hooks.append(client.stop)
        return client

    def _on_db_trouble(self) -> None:
        if self._pool is not None:
            self._pool.expire_connections()

    # --- life ---------------------------------------------------------------------------------
    async def open_database(self) -> None:
        """Create the database if needed, migrate the service's schema and open the pool: all a
        handler needs to run without the broker (the service tests call this and
        ``close_database``; ``database()`` does both)."""
        await db.ensure_database(self.postgres_dsn)
        await db.migrate(self.postgres_dsn, self.name, self.migrations)
        self._pool = await db.create_pool(
            self.postgres_dsn,
            self.name,
            min_size=self.settings.db_pool_min,
            max_size=self.settings.db_pool_max,
            timeout=self.settings.db_timeout,
        )
        if await db.superuser(self._pool):
            log.warning("database.superuser", hint="run `ibok provision` (docs/security.md)")

    async def close_database(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def database(self) -> AsyncIterator[ServiceRuntime]:
        """The service's database open for the block (no broker, no relay, no hooks)."""
        await self.open_database()
        try:
            yield self
        finally:
            await self.close_database()

    async def _start(self) -> None:
        await self.open_database()
        for hook in self.startup_hooks:
            await hook()

    async def _declare_topology(self) -> None:
        """Before the broker starts consuming and anything is published: every queue and
        binding exists, whichever service starts first."""
        declared = await broker_topology.declare(self.amqp_url, self.name)
        log.info("topology.declared", part=declared)

    async def _after_start(self) -> None:
        self.relay = OutboxRelay(
            self.pool,
            self.amqp_url,
            poll_seconds=self.settings.outbox_poll_seconds,
            keep=timedelta(hours=self.settings.outbox_keep_hours),
            registry=self.registry,
            name=f"ibok-{self.name}-outbox",
            known_exchanges=[e.name for e in topology.TOPOLOGY.exchanges],
        )
        await self.relay.connect()
        self.relay.start()
        await self.rpc_server.start()
        for hook in self.after_start_hooks:
            await hook()
        # Ready only now: every queue is declared and bound, every consumer listening.
        self._started = True
        log.info("service.started", port=self.settings.port_of(self.name))

    async def _stop(self) -> None:
        await self.rpc_server.stop()
        if self.relay:
            await self.relay.stop()
        for hook in self.shutdown_hooks:
            await hook()
        await self.close_database()
        log.info("service.stopped")

    async def readiness_detail(self) -> dict[str, Any]:
        """What readiness shows beside its checks, never failing it: messages no queue took,
        outbox rows parked or waiting long (also metrics: ``ibok_unrouted_messages``,
        ``ibok_outbox_parked_rows``, ``ibok_outbox_stuck_rows``)."""
        if self.relay is None:
            return {}
        try:
            async with asyncio.timeout(1.0):
                census = await self.relay.take_census()
        except (*db.TRANSIENT_DB_ERRORS, asyncpg.PostgresError):
            return {"unrouted": self.relay.unrouted}
        return {
            "unrouted": self.relay.unrouted,
            "outbox_parked": census.parked,
            "outbox_stuck": census.stuck,
            "outbox_oldest_unpublished_seconds": round(census.oldest_unpublished_seconds, 1),
        }

    async def readiness(self) -> dict[str, bool]:
        database, broker = await asyncio.gather(
            db.database_ready(self.pool) if self._pool else _false(),
            self.broker.ping(timeout=0.3),
        )
        return {
            "database": database,
            "broker": bool(broker)
            and self.rpc_server.ready
            and all(consumer.ready for consumer in self._batch_consumers),
            "started": self._started,
        }

    def asgi_app(self) -> AsgiFastStream:
        return AsgiFastStream(
            self.broker,
            logger=logging.getLogger("ibok.app"),
            asgi_routes=health_routes(self.readiness, self.registry, self.readiness_detail),
            on_startup=[self._start, self._declare_topology],
            after_startup=[self._after_start],
            on_shutdown=[self._stop],
        )


async def _false() -> bool:
    return False


def health_routes(
    readiness: Callable[[], Awaitable[dict[str, bool]]],
    registry: CollectorRegistry,
    detail: Callable[[], Awaitable[dict[str, Any]]] | None = None,
) -> list[tuple[str, Any]]:
    """``/health/live``, ``/health/ready`` (503 unless every dependency answers; ``detail``
    adds what an operator should see without failing readiness) and ``/metrics``."""

    @get(include_in_schema=False)
    async def live(scope: Any) -> AsgiResponse:
        return AsgiResponse(b'{"status":"live"}', 200, {"content-type": "application/json"})

    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        checks = await readiness()
        ok = all(checks.values())
        answer: dict[str, Any] = {"status": "ready" if ok else "unavailable", "checks": checks}
        if detail is not None and (shown := await detail()):
            answer["detail"] = shown
        payload = json.dumps(answer).encode()
        return AsgiResponse(payload, 200 if ok else 503, {"content-type": "application/json"})

    @get(include_in_schema=False)
    async def metrics(scope: Any) -> AsgiResponse:
        return AsgiResponse(generate_latest(registry), 200, {"content-type": CONTENT_TYPE_LATEST})

    return [("/health/live", live), ("/health/ready", ready), ("/metrics", metrics)]


def run(app: Any, service: str, settings: Settings) -> None:
    """Serve ``app`` (the service's ASGI app) on the service's port until SIGINT/SIGTERM."""
    configure_logging(service, settings.log_level)
    # Collect the young generation after 10,000 allocations instead of 700: a busy consumer
    # keeps thousands of messages alive for a moment (a batch), which the default collected
    # some 500 times per 20,000 invoices imported, promoting them and scanning them again
    # (13 % of billing's CPU during an import, timed with gc.callbacks; under 1 % after).
    gc.set_threshold(10_000, 10, 10)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.port_of(service),
        log_config=None,
        access_log=False,
        loop="uvloop",
        lifespan="on",
        timeout_graceful_shutdown=10,
        # The gateway reads forwarded headers itself, from the proxies it trusts
        # (services/gateway/forwarded.py); the services' health ports have no proxy.
        proxy_headers=False,
    )
