"""The billing system's meters, contracts, control readings and invoices (R7.6, R8), applied in batches."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from contracts.base import Envelope
from contracts.billing_system import (
    ContractUpserted,
    ControlReadingRecorded,
    InvoiceCancelled,
    InvoiceCorrected,
    InvoiceIssued,
    MeterUpserted,
)
from runtime.clock import business_today
from runtime.logs import get_logger
from runtime.unit_of_work import UnitOfWork
from services.readings import domain, store
from services.readings.handlers import Readings, remind_legalization
from services.readings.ingest import store as ingest_store

log = get_logger(__name__)


# Ids of readings made from the billing system's data are derived from its ids, so a message
# delivered twice lands on the same row.
READING_IDS = uuid.UUID("5b0e6a4e-2f35-4c57-9a57-4f8f5a0b7d11")


BILLING_SYSTEM_MESSAGES: tuple[type[Envelope], ...] = (
    MeterUpserted,
    ControlReadingRecorded,
    ContractUpserted,
    InvoiceIssued,
    InvoiceCorrected,
    InvoiceCancelled,
)


async def ingest_batch(r: Readings, uow: UnitOfWork, fresh: Sequence[Envelope]) -> None:
    """The billing system's messages, many at a time, in one transaction, in delivery order.

    Each is applied as it would be alone (a later message about the same meter, contract or
    invoice wins, as before); the runtime's inbox hands over only the messages not applied
    before. The meters the batch touches are locked at once, in one order, before any is
    changed (submitted readings lock their meter too).
    """
    await store.lock_meters(uow.conn, *meters_touched(fresh))
    settling = ingest_store.SettledInvoices(uow.conn)
    for msg in fresh:
        match msg:
            case InvoiceIssued() if domain.settles_period(msg.period_to, msg.issued_on):
                await settling.settle(msg.number, msg.contract_number, msg.period_to)
            case InvoiceCorrected() if domain.settles_period(
                msg.correction.period_to, msg.correction.issued_on
            ):
                c = msg.correction
                await settling.settle(c.number, c.contract_number, c.period_to)
            case InvoiceCancelled():
                await settling.cancel(msg.number)
            case MeterUpserted():
                await settling.flush()
                await upsert_meter(r, uow, msg)
            case ControlReadingRecorded():
                await settling.flush()
                await record_control_reading(uow.conn, msg)
            case ContractUpserted():
                await settling.flush()
                await ingest_store.upsert_contract(uow.conn, msg)
    await settling.flush()
    log.info("readings.ingested", fresh=len(fresh))


def meters_touched(messages: Sequence[Envelope]) -> list[str]:
    """The serials the batch's meter messages and control readings change."""
    serials: list[str] = []
    for msg in messages:
        if isinstance(msg, MeterUpserted):
            serials.append(msg.serial)
            if msg.exchange is not None:
                serials.append(msg.exchange.previous_serial)
        elif isinstance(msg, ControlReadingRecorded):
            serials.append(msg.serial)
    return serials


async def upsert_meter(r: Readings, uow: UnitOfWork, msg: MeterUpserted) -> None:
    """A meter, and when it replaced another, the exchange's final and initial states; the
    legalizacja reminders it makes due."""
    conn = uow.conn
    ex = msg.exchange
    if not await ingest_store.upsert_meter(conn, msg):
        return  # a newer revision is stored
    await ingest_store.adopt_orphan_readings(conn, msg.serial, msg.customer_number)
    if ex is not None:
        previous_customer = await ingest_store.meter_customer(conn, ex.previous_serial)
        for role, serial, customer, value in (
            ("final", ex.previous_serial, previous_customer, ex.previous_final_reading),
            ("initial", msg.serial, msg.customer_number, ex.initial_reading),
        ):
            external_id = f"meter-exchange:{msg.serial}:{role}"
            await ingest_store.upsert_system_reading(
                conn,
                reading_id=uuid.uuid5(READING_IDS, external_id),
                external_id=external_id,
                serial=serial,
                customer_number=customer or msg.customer_number,
                value=value,
                read_on=ex.exchanged_on,
                source="meter_exchange",
            )
    await remind_legalization(r, uow, business_today(), serial=msg.serial)


async def record_control_reading(conn: asyncpg.Connection, msg: ControlReadingRecorded) -> None:
    """R8 (§3.3): an inspector's reading or an estimate, shown with its source."""
    customer = await ingest_store.meter_customer(conn, msg.serial)
    reading_id = uuid.uuid5(READING_IDS, f"control:{msg.reading_id}")
    await ingest_store.upsert_control_reading(conn, msg, reading_id, customer)
