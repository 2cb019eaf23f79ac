"""Wiring of the readings service: its queues, its handlers and its HTTP side."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from faststream.asgi import AsgiFastStream

from contracts import topology
from contracts.billing_system import MeterUpserted
from runtime.service import ServiceRuntime
from runtime.settings import Settings, get_settings
from services.readings import handlers


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    rt = ServiceRuntime(
        "readings", settings or get_settings(), Path(__file__).parent / "migrations"
    )
    rt.consume(
        topology.billing_in_queue("readings"),
        topology.BILLING_IN_EXCHANGE,
        {MeterUpserted: partial(handlers.upsert_meter, rt)},
    )
    return rt.asgi_app()
