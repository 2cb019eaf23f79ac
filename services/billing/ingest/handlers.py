"""Applying a batch of the billing system's messages in one transaction, idempotently.

Within a batch, messages apply by kind in the order their dependencies need: customers, then
contracts, then invoices (issued and corrections), cancellations and payments, and a sync last.
A message seen before (inbox) is skipped; natural keys are upserted, an older revision never
overwrites a newer one. An invoice, correction, cancellation or payment of a customer IBOK does
not know yet is parked and applied when that customer arrives; a cancellation of an invoice not
known yet waits for that invoice in the same way. Nothing is lost, nothing blocks the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg

from contracts import topology
from contracts.base import Envelope
from contracts.billing import BillingDataChanged
from contracts.billing_system import (
    ContractUpserted,
    CustomerUpserted,
    InvoiceCancelled,
    InvoiceCorrected,
    InvoiceIssued,
    PaymentRecorded,
    SyncCompleted,
)
from runtime.logs import get_logger
from runtime.unit_of_work import UnitOfWork
from services.billing.handlers import Billing
from services.billing.ingest import store

log = get_logger(__name__)

T = TypeVar("T")

# The messages that need their customer to be known before they can apply.
CUSTOMER_BOUND = (InvoiceIssued, InvoiceCorrected, InvoiceCancelled, PaymentRecorded)
PARKABLE: dict[str, type[Envelope]] = {model.SCHEMA: model for model in CUSTOMER_BOUND}


@dataclass
class Applied:
    """What one batch did, for the log."""

    fresh: int = 0
    invoices: int = 0
    payments: int = 0
    cancelled: int = 0
    parked: int = 0
    unparked: int = 0
    synced: list[SyncCompleted] = field(default_factory=list)


def customer_of(message: Envelope) -> str:
    if isinstance(message, InvoiceCorrected):
        return message.correction.customer_number
    assert isinstance(message, InvoiceIssued | InvoiceCancelled | PaymentRecorded)
    return message.customer_number


def newest_by_key(items: Sequence[T], key: str, revision: str = "revision") -> list[T]:
    """One item per natural key, the highest revision (the later one on a tie), in order.

    PostgreSQL refuses to upsert one row twice in a statement; and the newest must win.
    """
    chosen: dict[str, T] = {}
    for item in items:
        k = getattr(item, key)
        if k not in chosen or getattr(chosen[k], revision) <= getattr(item, revision):
            chosen[k] = item
    return list(chosen.values())


async def apply_batch(conn: asyncpg.Connection, fresh: Sequence[Envelope]) -> Applied:
    """Apply ``fresh`` (the batch's messages the inbox had not seen) in the caller's
    transaction (see the module doc)."""
    result = Applied(fresh=len(fresh))
    customers = newest_by_key(
        [m for m in fresh if isinstance(m, CustomerUpserted)], "customer_number"
    )
    if customers:
        await store.upsert_customers(conn, customers)
    contracts = newest_by_key(
        [m for m in fresh if isinstance(m, ContractUpserted)], "contract_number"
    )
    if contracts:
        await store.upsert_contracts(conn, contracts)

    # Messages that waited for these customers come before this batch's own: they are older.
    waiting = [
        PARKABLE[schema].model_validate_json(body)
        for schema, body in await store.unpark(
            conn, [f"customer:{c.customer_number}" for c in customers]
        )
    ]
    result.unparked = len(waiting)
    bound = waiting + [m for m in fresh if isinstance(m, CUSTOMER_BOUND)]
    if bound:
        known = await store.known_customers(conn, [customer_of(m) for m in bound])
        unknown = [m for m in bound if customer_of(m) not in known]
        if unknown:
            await store.park(
                conn,
                [(f"customer:{customer_of(m)}", m.SCHEMA, m.to_wire().decode()) for m in unknown],
            )
            result.parked += len(unknown)
        bound = [m for m in bound if customer_of(m) in known]
        await _apply_customer_bound(conn, bound, result)

    result.synced = [m for m in fresh if isinstance(m, SyncCompleted)]
    for sync in result.synced:
        await store.record_sync(conn, sync.as_of)
    return result


async def _apply_customer_bound(
    conn: asyncpg.Connection, messages: list[Envelope], result: Applied
) -> None:
    issued: list[tuple[InvoiceIssued, str | None, str | None]] = []
    for m in messages:
        if isinstance(m, InvoiceIssued):
            issued.append((m, None, None))
        elif isinstance(m, InvoiceCorrected):
            corrects = m.corrected_number if m.correction.number != m.corrected_number else None
            issued.append((m.correction, corrects, m.reason))
    if issued:
        chosen = {id(i): (i, c, r) for i, c, r in issued}
        newest = newest_by_key([i for i, _, _ in issued], "number")
        rows = [chosen[id(i)] for i in newest]
        await store.upsert_invoices(
            conn, [i for i, _, _ in rows], [c for _, c, _ in rows], [r for _, _, r in rows]
        )
        numbers = [i.number for i, _, _ in rows]
        await store.mark_corrected(
            conn, [i.number for i, c, _ in rows if c], [i.number for i, c, _ in rows if not c]
        )
        result.invoices += len(rows)
    else:
        numbers = []

    waiting = [
        InvoiceCancelled.model_validate_json(body)
        for _, body in await store.unpark(conn, [f"invoice:{n}" for n in numbers])
    ]
    result.unparked += len(waiting)
    cancellations = waiting + [m for m in messages if isinstance(m, InvoiceCancelled)]
    if cancellations:
        found = await store.cancel_invoices(conn, cancellations)
        result.cancelled += len(found)
        early = [m for m in cancellations if m.number not in found]
        if early:
            await store.park(
                conn, [(f"invoice:{m.number}", m.SCHEMA, m.to_wire().decode()) for m in early]
            )
            result.parked += len(early)

    payments = list({m.payment_id: m for m in messages if isinstance(m, PaymentRecorded)}.values())
    if payments:
        await store.record_payments(conn, payments)
        result.payments += len(payments)


# Above this many customers in one batch, the change event names everyone instead.
CHANGED_CUSTOMERS_LISTED = 1000


def changed_customers(messages: Sequence[Envelope]) -> list[str] | None:
    """Whose money views a batch may change (None: everyone's), for the gateways' caches."""
    numbers: set[str] = set()
    for message in messages:
        if isinstance(message, CUSTOMER_BOUND):
            numbers.add(customer_of(message))
        elif isinstance(message, CustomerUpserted | ContractUpserted):
            numbers.add(message.customer_number)
        else:  # a sync completed moves everyone's "data as of"; anything else: be safe
            return None
    return sorted(numbers) if len(numbers) <= CHANGED_CUSTOMERS_LISTED else None


async def ingest_batch(b: Billing, uow: UnitOfWork, fresh: Sequence[Envelope]) -> None:
    """The billing system's messages not applied before, many at a time, in the runtime's unit
    of work (see ingest.py).

    When it changed anything, the same transaction queues ``billing.data-changed.v1`` for the
    gateways' caches (services/gateway/billing_cache.py).
    """
    applied = await apply_batch(uow.conn, fresh)
    if applied.fresh:
        changed = BillingDataChanged(customer_numbers=changed_customers(fresh))
        uow.emit(topology.EVENTS_EXCHANGE, changed)
    log.info(
        "billing.ingested",
        fresh=applied.fresh,
        invoices=applied.invoices,
        payments=applied.payments,
        cancelled=applied.cancelled,
        parked=applied.parked,
        unparked=applied.unparked,
    )
    for sync in applied.synced:
        log.info("billing.sync_completed", as_of=sync.as_of.isoformat())
