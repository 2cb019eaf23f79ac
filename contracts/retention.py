"""R14 retention: the event billing emits for a customer whose retention ended, and the
operator's request to run (or preview) the erasure."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from contracts.base import Contract, Envelope
from contracts.billing_system import CustomerNumber
from contracts.rpc import Operation


class CustomerRetentionEnded(Envelope):
    """The customer's personal data is due for erasure (R14): five full calendar years have
    passed since their last contract ended, and they hold no current one. Billing has erased
    its own part in the transaction that emitted this; every other service erases or
    anonymises the customer's data when it arrives, once (inbox)."""

    SCHEMA: ClassVar[str] = "billing.customer-retention-ended.v1"

    customer_number: CustomerNumber


class RunRetention(Contract):
    """Erase what is due now, or with ``dry_run`` only say who is due (``ibok retention``).

    ``today`` is the Warsaw calendar day the rule is applied for (default: today); a real run
    refuses a day in the future, which would erase data still to be kept.
    """

    dry_run: bool = False
    today: date | None = None


class RetentionCustomer(Contract):
    customer_number: str
    # None for a customer erased before about whom the billing system sent data again.
    last_contract_ended_on: date | None
    kept_until: date | None
    erased_before: bool


class RetentionReport(Contract):
    today: date
    dry_run: bool
    customers: list[RetentionCustomer]
    # Billing's rows erased or anonymised, per table (empty on a dry run); the other services
    # log theirs as they apply the events.
    counts: dict[str, int] = Field(default_factory=dict)


RUN_RETENTION = Operation("billing", "run-retention", RunRetention, RetentionReport)
