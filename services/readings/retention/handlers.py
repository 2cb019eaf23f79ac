"""Retention (R14) in readings: when billing says a customer's retention ended, their meters'
readings stay (a meter's history goes on with the next customer: R8 compares with the previous
reading) but lead to nobody: the customer number on their meters, ended contracts and readings
becomes one random anonymous key, the contracts' premises addresses and staff's review notes
go, and so do the reminders sent."""

from __future__ import annotations

from functools import partial
from typing import Any

from contracts.retention import CustomerRetentionEnded
from runtime.db import execute_counted
from runtime.retention import anonymous_key, log_erased
from runtime.unit_of_work import UnitOfWork
from services.readings.handlers import Readings


def _erasure(number: str, key: str) -> dict[str, tuple[str, tuple[Any, ...]]]:
    return {
        "readings": (
            "UPDATE readings SET customer_number = $2, review_reason = NULL"
            " WHERE customer_number = $1",
            (number, key),
        ),
        "meters": (
            "UPDATE meters SET customer_number = $2, updated_at = now() WHERE customer_number = $1",
            (number, key),
        ),
        # A contract without an end date is current: it stays the customer's (billing decided
        # on the contracts it had; one arriving since is the customer's again).
        "contracts": (
            "UPDATE contracts SET customer_number = $2, premises_address = '{}', updated_at = now()"
            " WHERE customer_number = $1 AND end_date IS NOT NULL",
            (number, key),
        ),
        "legalization_reminders": (
            "DELETE FROM legalization_reminders WHERE customer_number = $1",
            (number,),
        ),
    }


async def erase_customer(r: Readings, uow: UnitOfWork, msg: CustomerRetentionEnded) -> None:
    """R14: anonymise the customer's rows here (once per event: the runtime)."""
    counts = await execute_counted(uow.conn, _erasure(msg.customer_number, anonymous_key()))
    uow.after_commit(
        partial(log_erased, msg.customer_number, counts, message_id=str(msg.message_id))
    )
