"""The answering side of request/reply: one lean aio-pika consumer per operation.

FastStream's subscriber layers (middlewares, acknowledgement policy, per-message context)
cost more CPU than the queries behind them on the gateway's hot path (measured with py-spy:
over half of a service's event loop on the invoice list); this server does only what an
answer needs: parse, call the handler, publish the reply (no publisher confirm: a lost reply
is the caller's timeout, and the request is not redone), then acknowledge.

A redelivered request (its consumer died or lost the broker before acknowledging it) is
dropped unanswered: it may already have been applied, and applying a command twice (a reading
submitted again becomes its own replacement and is sent to the billing system a second time,
found by tests/faults/test_readings_killed.py) is worse than the caller's 504.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection
from prometheus_client import CollectorRegistry, Histogram
from pydantic import ValidationError

from contracts.base import CORRELATION_HEADER, PROBLEM_HEADER, Contract, Problem
from contracts.rpc import Operation
from contracts.topology import TOPOLOGY
from runtime.db import TRANSIENT_DB_ERRORS
from runtime.errors import DomainError
from runtime.logs import bind_correlation_id, get_logger

log = get_logger(__name__)

# A handler answers its operation's response contract, or that contract's JSON already written
# (bytes: the hot path's reply put together without a Python object per row; the operation's
# tests parse it as the contract).
Handler = Callable[[Any], Awaitable[Contract | bytes]]

INVALID = Problem(
    code="invalid_request", status=422, detail="Nieprawidłowe dane.", detail_en="Invalid request."
)
UNAVAILABLE = Problem(
    code="service_unavailable",
    status=503,
    detail="Usługa chwilowo niedostępna. Spróbuj ponownie za chwilę.",
    detail_en="The service is temporarily unavailable. Try again shortly.",
)
FAILED = Problem(
    code="internal_error",
    status=500,
    detail="Wewnętrzny błąd usługi.",
    detail_en="Internal service error.",
)


async def answer_of(
    operation: Operation[Any, Any], handler: Handler, body: bytes, on_transient: Callable[[], None]
) -> tuple[bytes, str | None]:
    """The reply body, and the problem code when it is a Problem. Every request gets an answer."""
    try:
        request = operation.request.model_validate_json(body)
    except ValidationError as exc:
        fields = {".".join(map(str, e["loc"])): e["msg"] for e in exc.errors()}
        return INVALID.model_copy(
            update={"fields": fields}
        ).model_dump_json().encode(), INVALID.code
    try:
        result = await handler(request)
    except DomainError as exc:
        problem = Problem(
            code=exc.code,
            status=exc.status,
            detail=exc.detail,
            detail_en=exc.detail_en,
            fields=exc.fields,
        )
        return problem.model_dump_json().encode(), problem.code
    except TRANSIENT_DB_ERRORS as exc:
        on_transient()
        log.warning("rpc.unavailable", operation=operation.queue, error=type(exc).__name__)
        return UNAVAILABLE.model_dump_json().encode(), UNAVAILABLE.code
    except Exception:
        log.exception("rpc.failed", operation=operation.queue)
        return FAILED.model_dump_json().encode(), FAILED.code
    return (result if isinstance(result, bytes) else result.model_dump_json().encode()), None


class RpcServer:
    def __init__(
        self,
        url: str,
        *,
        service: str,
        prefetch: int,
        registry: CollectorRegistry,
        on_transient: Callable[[], None] = lambda: None,
    ) -> None:
        self._url = url
        self._service = service
        self._prefetch = prefetch
        self._on_transient = on_transient
        self._operations: dict[str, tuple[Operation[Any, Any], Handler]] = {}
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._seconds = Histogram(
            "ibok_rpc_seconds",
            "Time to answer a request, by operation and outcome",
            ["operation", "outcome"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

    def answer(self, operation: Operation[Any, Any], handler: Handler) -> None:
        self._operations[operation.queue] = (operation, handler)

    @property
    def operations(self) -> list[str]:
        return list(self._operations)

    async def start(self) -> None:
        if not self._operations:
            return
        self._connection = await aio_pika.connect_robust(
            self._url,
            reconnect_interval=1.0,
            client_properties={"connection_name": f"ibok-{self._service}-rpc-server"},
        )
        channel = await self._connection.channel(publisher_confirms=False)
        assert isinstance(channel, AbstractRobustChannel)
        self._channel = channel
        await channel.set_qos(prefetch_count=self._prefetch)
        for name, (operation, handler) in self._operations.items():
            # As contracts.topology declares it: durable and classic, its requests transient
            # (they expire with their caller's timeout), no dead-lettering.
            spec = TOPOLOGY.queue(name)
            queue = await channel.declare_queue(
                name, durable=spec.durable, arguments=dict(spec.arguments)
            )
            await queue.consume(partial(self._on_request, operation, handler))

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    @property
    def ready(self) -> bool:
        return self._connection is None or self._connection.connected.is_set()

    async def _on_request(
        self, operation: Operation[Any, Any], handler: Handler, message: AbstractIncomingMessage
    ) -> None:
        started = time.perf_counter()
        if message.redelivered:
            log.warning("rpc.redelivered_dropped", operation=operation.queue)
            await message.ack()
            return
        cid = (message.headers or {}).get(CORRELATION_HEADER)
        bind_correlation_id(
            cid.decode() if isinstance(cid, bytes) else cid if isinstance(cid, str) else None
        )
        body, problem = await answer_of(operation, handler, message.body, self._on_transient)
        if message.reply_to and self._channel is not None:
            await self._channel.default_exchange.publish(
                aio_pika.Message(
                    body,
                    content_type="application/json",
                    correlation_id=message.correlation_id,
                    headers={PROBLEM_HEADER: problem} if problem else None,
                ),
                routing_key=message.reply_to,
                # Not mandatory: RabbitMQ answers a mandatory publish to the direct reply-to
                # pseudo-queue with basic.return even when it delivers it (an extra frame and an
                # error log line per request, measured here).
                mandatory=False,
            )
        await message.ack()
        self._seconds.labels(operation.name, problem or "ok").observe(time.perf_counter() - started)
