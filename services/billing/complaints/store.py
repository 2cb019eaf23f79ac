"""The SQL of complaints (R10) and their messages (R12), as named functions over asyncpg."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool

COMPLAINT_COLUMNS = """complaint_id, customer_number, channel, status, subject, description,
    expected_resolution, invoice_number, reading_id, received_on, due_on, outcome, outcome_text,
    settled_on, filed_at"""


async def customer_known(db: Db, customer_number: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT true FROM customers WHERE customer_number = $1"
            " AND erased_revision IS DISTINCT FROM revision",  # R14: erased, no one to file for
            customer_number,
        )
    )


async def invoice_number_of_customer(
    db: Db, customer_number: str, invoice_id: UUID | None, invoice_number: str | None
) -> str | None:
    """The number of the customer's own invoice named by id or number; None for anyone else's."""
    number: str | None = await db.fetchval(
        """
        SELECT number FROM invoices
        WHERE customer_number = $1
          AND ($2::uuid IS NULL OR invoice_id = $2)
          AND ($3::text IS NULL OR number = $3)
        """,
        customer_number,
        invoice_id,
        invoice_number,
    )
    return number


async def complaint_id_of_request(db: Db, request_id: UUID) -> UUID | None:
    found: UUID | None = await db.fetchval(
        "SELECT complaint_id FROM complaints WHERE request_id = $1", request_id
    )
    return found


async def insert_complaint(conn: asyncpg.Connection, **fields: Any) -> None:
    columns = ", ".join(fields)
    params = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    await conn.execute(
        f"INSERT INTO complaints ({columns}) VALUES ({params})",
        *fields.values(),
    )


async def complaint(
    db: Db, complaint_id: UUID, customer_number: str | None = None, *, for_update: bool = False
) -> asyncpg.Record | None:
    """One complaint; with ``customer_number`` only if it is theirs (else None, as not found)."""
    lock = " FOR UPDATE" if for_update else ""
    row: asyncpg.Record | None = await db.fetchrow(
        f"SELECT {COMPLAINT_COLUMNS} FROM complaints"
        " WHERE complaint_id = $1 AND ($2::text IS NULL OR customer_number = $2)" + lock,
        complaint_id,
        customer_number,
    )
    return row


async def messages_of(db: Db, complaint_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        """
        SELECT message_id, author, kind, body, created_at, hidden_at, hidden_by, hidden_reason
        FROM complaint_messages WHERE complaint_id = $1 ORDER BY created_at, message_id
        """,
        complaint_id,
    )
    return rows


async def message_of_request(db: Db, request_id: UUID) -> UUID | None:
    """The complaint a message with this request id was added to, if it was."""
    found: UUID | None = await db.fetchval(
        "SELECT complaint_id FROM complaint_messages WHERE request_id = $1", request_id
    )
    return found


async def add_message(
    conn: asyncpg.Connection,
    *,
    message_id: UUID,
    request_id: UUID,
    complaint_id: UUID,
    author: str,
    kind: str,
    staff_id: UUID | None,
    body: str,
) -> None:
    await conn.execute(
        """
        INSERT INTO complaint_messages
            (message_id, request_id, complaint_id, author, kind, staff_id, body)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        message_id,
        request_id,
        complaint_id,
        author,
        kind,
        staff_id,
        body,
    )


async def set_status(conn: asyncpg.Connection, complaint_id: UUID, status: str) -> None:
    await conn.execute(
        "UPDATE complaints SET status = $2, updated_at = now() WHERE complaint_id = $1",
        complaint_id,
        status,
    )


async def settle(
    conn: asyncpg.Connection,
    complaint_id: UUID,
    *,
    outcome: str,
    outcome_text: str,
    settled_on: date,
    settled_by: UUID,
) -> None:
    await conn.execute(
        """
        UPDATE complaints SET status = 'settled', outcome = $2, outcome_text = $3,
            settled_on = $4, settled_by = $5, updated_at = now()
        WHERE complaint_id = $1
        """,
        complaint_id,
        outcome,
        outcome_text,
        settled_on,
        settled_by,
    )


async def hide_message(
    conn: asyncpg.Connection, complaint_id: UUID, message_id: UUID, staff_id: UUID, reason: str
) -> str | None:
    """R12: hide a customer's message (once; hiding again keeps the first record). Returns the
    message's author, or None when the complaint has no such message."""
    author: str | None = await conn.fetchval(
        """
        UPDATE complaint_messages
        SET hidden_at = COALESCE(hidden_at, now()),
            hidden_by = COALESCE(hidden_by, $3),
            hidden_reason = COALESCE(hidden_reason, $4)
        WHERE complaint_id = $1 AND message_id = $2 AND author = 'customer'
        RETURNING author
        """,
        complaint_id,
        message_id,
        staff_id,
        reason,
    )
    return author


async def complaints_of_customer(
    db: Db, customer_number: str, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """The customer's complaints, newest first: one keyset page."""
    rows: list[asyncpg.Record] = await db.fetch(
        f"""
        SELECT {COMPLAINT_COLUMNS} FROM complaints
        WHERE customer_number = $1
          AND ($2::timestamptz IS NULL OR (filed_at, complaint_id) < ($2, $3::uuid))
        ORDER BY filed_at DESC, complaint_id DESC
        LIMIT $4
        """,
        customer_number,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return rows


async def complaints_by_deadline(
    db: Db,
    *,
    statuses: list[str] | None,
    due_before: date | None,
    after: tuple[date, datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Every customer's complaints for staff, the oldest deadline first: one keyset page."""
    rows: list[asyncpg.Record] = await db.fetch(
        f"""
        SELECT {COMPLAINT_COLUMNS} FROM complaints
        WHERE ($1::text[] IS NULL OR status = ANY($1))
          AND ($2::date IS NULL OR due_on < $2)
          AND ($3::date IS NULL OR (due_on, filed_at, complaint_id) > ($3, $4::timestamptz, $5::uuid))
        ORDER BY due_on, filed_at, complaint_id
        LIMIT $6
        """,
        statuses,
        due_before,
        after[0] if after else None,
        after[1] if after else None,
        after[2] if after else None,
        limit,
    )
    return rows
