"""The monolith baseline of a submitted meter reading: one Litestar + asyncpg process that runs
readings' own submission (``services.readings.handlers.submit_reading``: the R1/R8 checks of
``domain``, the meter's lock, the reading row and its outbox row in one transaction) in the
HTTP request, with no gateway, session, RPC or message broker between, for the readings
benchmark to compare the distributed path with.

    IBOK_POSTGRES_DSN=... IBOK_LOG_LEVEL=WARNING BASELINE_PORT=... \
        .venv/bin/python -m bench.readings_baseline

``POST /readings/{customer_number}`` takes the gateway's body (``SubmitReadingRequest``) and
answers the gateway's ``ReadingAccepted`` (201 new, 200 replaced), a refusal as its status and
code. Like the invoice baseline it trusts the customer number in the path (no session). Its
outbox rows stay in the table: nothing here publishes them.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from litestar import Litestar, Request, Response, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from bench.common import serve_baseline
from contracts import readings
from contracts.base import Envelope
from runtime import db
from runtime.errors import DomainError
from runtime.logs import configure_logging
from runtime.outbox import OutboxRow, outbox_row
from runtime.service import ServiceRuntime
from runtime.settings import Settings
from services.gateway.schemas.readings import Reading, ReadingAccepted, SubmitReadingRequest
from services.readings import handlers


@dataclass
class InProcess:
    """What ``submit_reading`` uses of the service runtime, in this one process: the pool, the
    settings, outbox rows; nothing to wake (no relay)."""

    pool: asyncpg.Pool
    settings: Settings

    def outbox_row(self, exchange: str, message: Envelope) -> OutboxRow:
        return outbox_row(exchange, message.SCHEMA, message)

    def published_soon(self) -> None:
        pass


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    settings = Settings()
    pool = await db.create_pool(
        settings.postgres_dsn,
        "readings",
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
    )
    app.state.readings = handlers.Readings(cast(ServiceRuntime, InProcess(pool, settings)))
    try:
        yield
    finally:
        await pool.close()


@post("/readings/{customer_number:str}")
async def submit(
    customer_number: str, data: SubmitReadingRequest, state: State
) -> Response[ReadingAccepted]:
    accepted = await handlers.submit_reading(
        state.readings,
        readings.SubmitReading(
            customer_number=customer_number,
            serial=data.serial,
            value=data.value,
            read_on=data.read_on,
        ),
    )
    body = ReadingAccepted(
        reading=Reading.model_validate(accepted.reading.model_dump()),
        replaced=accepted.replaced,
        flagged=accepted.flagged,
        message=accepted.message,
    )
    return Response(body, status_code=HTTP_200_OK if accepted.replaced else HTTP_201_CREATED)


def refused(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, str]]:
    return Response({"code": exc.code, "detail": exc.detail}, status_code=exc.status)


app = Litestar(
    route_handlers=[submit], lifespan=[lifespan], exception_handlers={DomainError: refused}
)

if __name__ == "__main__":
    # As every service runs (runtime.service.run): its logging, its collector's thresholds.
    configure_logging("readings-baseline", Settings().log_level)
    gc.set_threshold(10_000, 10, 10)
    serve_baseline(app)
