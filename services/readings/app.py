"""Wiring of the readings service: its queues, operations, daily sweep and HTTP side."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from faststream.asgi import AsgiFastStream

from contracts import readings, topology
from contracts.retention import CustomerRetentionEnded
from runtime.schedule import Repeating
from runtime.service import ServiceRuntime
from runtime.settings import Settings, get_settings
from services.readings import handlers
from services.readings.consumption import handlers as consumption
from services.readings.ingest import handlers as ingest
from services.readings.retention import handlers as retention


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    rt = ServiceRuntime(
        "readings", settings or get_settings(), Path(__file__).parent / "migrations"
    )
    r = handlers.Readings(rt)
    # READINGS_SERVICE_MESSAGES, and the invoices: an invoice that settles a period ends the
    # time in which a reading of that period may be added or replaced (R8). They arrive in bulk
    # (a nightly load, 100,000 invoices), so they are applied in batches, as billing does.
    rt.consume_batches(
        topology.billing_in_queue("readings"),
        topology.BILLING_IN_EXCHANGE,
        ingest.BILLING_SYSTEM_MESSAGES,
        partial(ingest.ingest_batch, r),
    )
    rt.consume(
        topology.events_queue("readings"),
        topology.EVENTS_EXCHANGE,
        {CustomerRetentionEnded: partial(retention.erase_customer, r)},
    )
    rt.answer(readings.METERS, partial(handlers.meters, r))
    rt.answer(readings.SUBMIT_READING, partial(handlers.submit_reading, r))
    rt.answer(readings.READING_HISTORY, partial(handlers.reading_history, r))
    rt.answer(readings.CONSUMPTION, partial(consumption.consumption, r))
    rt.answer(readings.CONSUMPTION_CHART, partial(consumption.consumption_chart, r))
    rt.answer(readings.FLAGGED_READINGS, partial(handlers.flagged_readings, r))
    rt.answer(readings.REVIEW_READING, partial(handlers.review_reading, r))

    reminders = Repeating(
        "legalization-reminders",
        partial(handlers.send_legalization_reminders, r),
        interval=rt.settings.legalization_check_hours * 3600,
    )
    rt.startup_hooks.append(reminders.start)
    rt.shutdown_hooks.append(reminders.stop)
    return rt.asgi_app()
