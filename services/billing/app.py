"""Wiring of the billing service: its queues, its handlers and its HTTP side."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from faststream.asgi import AsgiFastStream

from contracts import billing, topology
from contracts.billing_system import ContractUpserted, CustomerUpserted, SyncCompleted
from runtime.service import ServiceRuntime
from runtime.settings import Settings, get_settings
from services.billing import handlers


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    rt = ServiceRuntime("billing", settings or get_settings(), Path(__file__).parent / "migrations")
    rt.consume(
        topology.billing_in_queue("billing"),
        topology.BILLING_IN_EXCHANGE,
        {
            CustomerUpserted: partial(handlers.upsert_customer, rt),
            ContractUpserted: partial(handlers.upsert_contract, rt),
            SyncCompleted: partial(handlers.complete_sync, rt),
        },
    )
    rt.answer(billing.CHECK_REGISTRATION, partial(handlers.check_registration, rt))
    return rt.asgi_app()
