"""Retention (R14) in readings: when billing says a customer's retention ended, their meters'
readings stay (a meter's history goes on with the next customer: R8 compares with the previous
reading) but lead to nobody: the customer number on their meters, ended contracts and readings
becomes one random anonymous key, the contracts' premises addresses and staff's review notes
go, and so do the reminders sent."""

from __future__ import annotations

from functools import partial

from contracts.retention import CustomerRetentionEnded
from runtime.retention import anonymous_key, log_erased
from runtime.unit_of_work import UnitOfWork
from services.readings.handlers import Readings
from services.readings.retention import store


async def erase_customer(r: Readings, uow: UnitOfWork, msg: CustomerRetentionEnded) -> None:
    """R14: anonymise the customer's rows here (once per event: the runtime)."""
    counts = await store.anonymise_customer(uow.conn, msg.customer_number, anonymous_key())
    uow.after_commit(
        partial(log_erased, msg.customer_number, counts, message_id=str(msg.message_id))
    )
