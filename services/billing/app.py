"""Wiring of the billing service: its queues, its handlers and its HTTP side."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get

from contracts import billing, topology
from contracts.billing_system import BILLING_SERVICE_MESSAGES
from contracts.retention import RUN_RETENTION
from runtime.schedule import Repeating
from runtime.service import ServiceRuntime
from runtime.settings import Settings, get_settings
from services.billing import asyncapi, domain, handlers, staff_views
from services.billing.complaints import handlers as complaints
from services.billing.ingest import handlers as ingest
from services.billing.retention import handlers as retention


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    rt = ServiceRuntime("billing", settings or get_settings(), Path(__file__).parent / "migrations")
    b = handlers.Billing(rt)
    # The billing system's data arrives in bulk (a nightly load): applied in batches.
    rt.consume_batches(
        topology.billing_in_queue("billing"),
        topology.BILLING_IN_EXCHANGE,
        BILLING_SERVICE_MESSAGES,
        partial(ingest.ingest_batch, b),
        refuse=domain.refusal,
    )
    rt.answer(billing.CHECK_REGISTRATION, partial(handlers.check_registration, b))
    rt.answer(billing.LIST_CONTRACTS, partial(handlers.list_contracts, b))
    rt.answer(billing.GET_CONTRACT, partial(handlers.get_contract, b))
    rt.answer(billing.CONTRACT_DOCUMENT, partial(handlers.contract_document, b))
    rt.answer(billing.LIST_INVOICES, partial(handlers.list_invoices, b))
    rt.answer(billing.GET_INVOICE, partial(handlers.get_invoice, b))
    rt.answer(billing.INVOICE_DOCUMENT, partial(handlers.invoice_document, b))
    rt.answer(billing.GET_SETTLEMENT, partial(handlers.get_settlement, b))
    rt.answer(billing.CUSTOMER_OVERVIEW, partial(handlers.customer_overview, b))
    rt.answer(billing.SEARCH_CUSTOMERS, partial(staff_views.search_customers, b))
    complaints.register(b)
    # R14: who is due for erasure, at start and then every interval, and when the operator asks.
    rt.answer(RUN_RETENTION, partial(retention.run_requested, b))
    erasure = Repeating(
        "retention",
        partial(retention.scheduled_run, b),
        interval=rt.settings.retention_interval_seconds,
    )
    rt.after_start_hooks.append(erasure.start)
    rt.shutdown_hooks.insert(0, erasure.stop)
    app = rt.asgi_app()
    app.mount("/asyncapi.json", asyncapi_route())
    return app


def asyncapi_route() -> Any:
    """The billing-system interface as AsyncAPI 3.0, generated from the contracts."""
    body = asyncapi.document_json().encode()

    @get(include_in_schema=False)
    async def serve(scope: Any) -> AsgiResponse:
        return AsgiResponse(body, 200, {"content-type": "application/json"})

    return serve
