"""Retention (R14): billing, which knows the contracts, finds who is due, erases its own part
and tells every other service through its outbox (``billing.customer-retention-ended.v1``, and
``billing.data-changed.v1`` so the gateways drop the money views they keep for them).

Runs at start and every ``IBOK_RETENTION_INTERVAL_SECONDS`` in each billing process, and when
the operator asks (``ibok retention``). Batches of customers commit one at a time, each under
an advisory lock, so processes never erase at once and each batch sees the last one's work; a
customer erased is no longer due, so a run repeated (or a crash mid-run) does nothing twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import asyncpg

from contracts import topology
from contracts.billing import BillingDataChanged
from contracts.retention import (
    CustomerRetentionEnded,
    RetentionCustomer,
    RetentionReport,
    RunRetention,
)
from runtime.clock import business_today
from runtime.errors import DomainError
from runtime.logs import get_logger
from runtime.retention import anonymous_key, log_erased
from services.billing import domain
from services.billing.handlers import Billing
from services.billing.retention import store

log = get_logger(__name__)

# Customers erased per transaction.
BATCH = 100


def _customer(row: asyncpg.Record) -> RetentionCustomer:
    last_end: date | None = row["last_end"]
    return RetentionCustomer(
        customer_number=row["customer_number"],
        last_contract_ended_on=last_end,
        kept_until=domain.kept_until(last_end) if last_end else None,
        erased_before=bool(row["erased_before"]),
    )


async def run_retention(
    b: Billing, today: date, *, dry_run: bool, wait: bool, trigger: str
) -> RetentionReport:
    """Erase (or with ``dry_run`` only list) the customers due on ``today``. Without ``wait``
    a run finding another one in progress leaves the work to it."""
    last_end = domain.last_end_erasable_by(today)
    if dry_run:
        due = [_customer(row) for row in await store.customers_due(b.rt.pool, last_end, None)]
        log.info("retention.dry_run", today=today.isoformat(), customers=len(due))
        return RetentionReport(today=today, dry_run=True, customers=due)
    customers: list[RetentionCustomer] = []
    totals: Counter[str] = Counter()
    while True:
        erased: list[tuple[RetentionCustomer, dict[str, int]]] = []
        async with b.rt.unit_of_work() as uow:
            if not await store.lock_runs(uow.conn, wait=wait):
                log.info("retention.left_to_another_run", trigger=trigger)
                break
            rows = await store.customers_due(uow.conn, last_end, BATCH)
            for row in rows:
                customer = _customer(row)
                counts = await store.erase_customer(
                    uow.conn, customer.customer_number, anonymous_key(), last_end
                )
                uow.emit(
                    topology.EVENTS_EXCHANGE,
                    CustomerRetentionEnded(customer_number=customer.customer_number),
                )
                erased.append((customer, counts))
            if erased:
                # The gateways drop the money views they keep for these customers.
                uow.emit(
                    topology.EVENTS_EXCHANGE,
                    BillingDataChanged(customer_numbers=[c.customer_number for c, _ in erased]),
                )
        for customer, counts in erased:
            log_erased(customer.customer_number, counts, trigger=trigger)
            customers.append(customer)
            totals.update(counts)
        if len(rows) < BATCH:
            break
    log.info(
        "retention.run",
        today=today.isoformat(),
        trigger=trigger,
        customers=len(customers),
        counts=dict(totals),
    )
    return RetentionReport(today=today, dry_run=False, customers=customers, counts=dict(totals))


async def scheduled_run(b: Billing) -> None:
    await run_retention(b, business_today(), dry_run=False, wait=False, trigger="schedule")


async def run_requested(b: Billing, cmd: RunRetention) -> RetentionReport:
    """``ibok retention``: a real run waits for one in progress; it never runs for a future day."""
    today = business_today()
    on = cmd.today or today
    if on > today and not cmd.dry_run:
        raise DomainError(
            "retention_day_in_future",
            "Usuwanie danych nie może wyprzedzać kalendarza: dzień z przyszłości tylko z podglądem.",
            detail_en="A real retention run cannot be for a future day; use a dry run.",
        )
    return await run_retention(b, on, dry_run=cmd.dry_run, wait=True, trigger="operator")
