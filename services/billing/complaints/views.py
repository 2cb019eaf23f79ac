"""Complaints as the contracts show them: a customer's view and staff's (R12: hidden text)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from contracts import billing
from runtime.clock import business_today
from runtime.errors import NotFound
from services.billing.complaints import domain as rules
from services.billing.complaints import store


def not_found() -> NotFound:
    return NotFound(
        "complaint_not_found", "Nie znaleziono reklamacji.", detail_en="No such complaint."
    )


def message(row: asyncpg.Record, *, staff_view: bool) -> billing.ComplaintMessageView:
    hidden = row["hidden_at"] is not None
    audit = staff_view and hidden
    return billing.ComplaintMessageView(
        message_id=row["message_id"],
        author=row["author"],
        kind=row["kind"],
        # R12: a hidden message's text reaches no one's screen; it stays in the table for audit.
        body=None if hidden else row["body"],
        created_at=row["created_at"],
        hidden=hidden,
        hidden_at=row["hidden_at"] if audit else None,
        hidden_by=row["hidden_by"] if audit else None,
        hidden_reason=row["hidden_reason"] if audit else None,
    )


def view(
    row: asyncpg.Record,
    today: date,
    messages: list[asyncpg.Record] | None = None,
    *,
    staff_view: bool = False,
) -> billing.ComplaintView:
    return billing.ComplaintView(
        complaint_id=row["complaint_id"],
        customer_number=row["customer_number"],
        channel=row["channel"],
        status=row["status"],
        subject=row["subject"],
        description=row["description"],
        expected_resolution=row["expected_resolution"],
        invoice_number=row["invoice_number"],
        reading_id=row["reading_id"],
        received_on=row["received_on"],
        due_on=row["due_on"],
        overdue=rules.is_overdue(row["status"], row["due_on"], today),
        due_in_days=rules.due_in_days(row["due_on"], today),
        outcome=row["outcome"],
        outcome_text=row["outcome_text"],
        settled_on=row["settled_on"],
        filed_at=row["filed_at"],
        messages=[message(m, staff_view=staff_view) for m in messages or []],
    )


async def full_view(
    db: store.Db, complaint_id: UUID, customer_number: str | None = None, *, staff_view: bool
) -> billing.ComplaintView:
    row = await store.complaint(db, complaint_id, customer_number)
    if row is None:
        raise not_found()
    messages = await store.messages_of(db, complaint_id)
    return view(row, business_today(), messages, staff_view=staff_view)
