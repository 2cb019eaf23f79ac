"""Bulk billing-system data for fault tests and the soak: many invoices made quickly."""

from __future__ import annotations

import uuid
from datetime import timedelta

from contracts.billing_system import InvoiceIssued
from tests.support.billing import invoice
from tests.support.readings import TODAY


def copied_invoices(
    customers: list[tuple[str, str]], count: int, prefix: str
) -> list[InvoiceIssued]:
    """``count`` invoices of the customers, one per customer and day over 400 days, copied under
    new numbers and message ids (building each one takes longer)."""
    made: dict[tuple[int, int], InvoiceIssued] = {}
    invoices = []
    for i in range(count):
        key = (i % len(customers), i % 400)
        if key not in made:
            number, contract = customers[key[0]]
            made[key] = invoice(
                number, contract, prefix, issued_on=TODAY - timedelta(days=3 + key[1])
            )
        invoices.append(
            made[key].model_copy(update={"number": f"{prefix}/{i:06d}", "message_id": uuid.uuid4()})
        )
    return invoices
