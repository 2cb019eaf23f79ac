"""The SQL of the readings service, as named functions over asyncpg."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

from runtime.outbox import OutboxRow, enqueue_args, enqueue_sql
from runtime.retention import ANONYMOUS_PREFIX

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def lock_meters(conn: asyncpg.Connection, *serials: str) -> None:
    """Serialise work on these meters until the transaction ends (in one order: no deadlock)."""
    for serial in sorted(set(serials)):
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('readings.meter:' || $1))", serial
        )


# --- what the billing system sends ----------------------------------------------------------------


# --- meters and contracts of a customer -----------------------------------------------------------


async def contracts_of_customer(conn: Conn, customer: str) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM contracts WHERE customer_number = $1"
            " ORDER BY premises_id, start_date DESC",
            customer,
        )
    )


async def meters_page(
    conn: Conn, customer: str, after_serial: str | None, limit: int
) -> list[asyncpg.Record]:
    """The customer's meters with their last counting reading, by serial."""
    return list(
        await conn.fetch(
            """
            SELECT m.*, last.value AS last_value, last.read_on AS last_read_on,
                   last.source AS last_source
            FROM meters m
            LEFT JOIN LATERAL (
                SELECT value, read_on, source FROM readings r
                WHERE r.serial = m.serial AND r.customer_number = m.customer_number
                  AND r.status <> 'rejected'
                ORDER BY read_on DESC, value DESC LIMIT 1
            ) last ON true
            WHERE m.customer_number = $1 AND ($2::text IS NULL OR m.serial > $2)
            ORDER BY m.serial
            LIMIT $3
            """,
            customer,
            after_serial,
            limit,
        )
    )


async def meters_of_customer(conn: Conn, customer: str) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM meters WHERE customer_number = $1 ORDER BY installed_on, serial",
            customer,
        )
    )


# --- readings -------------------------------------------------------------------------------------


async def counting_readings(
    conn: Conn, customer: str, serials: Sequence[str]
) -> list[asyncpg.Record]:
    """The customer's readings of these meters that count (every source, not rejected)."""
    return list(
        await conn.fetch(
            """
            SELECT id, serial, value, read_on, source FROM readings
            WHERE customer_number = $1 AND serial = ANY($2::text[]) AND status <> 'rejected'
            ORDER BY serial, read_on, value
            """,
            customer,
            list(serials),
        )
    )


# --- what a customer's reading is checked against ------------------------------------------------


@dataclass(frozen=True)
class SubmissionContext:
    """Everything R1 and R8 check a customer's reading against, read in one round trip."""

    meter: asyncpg.Record | None
    # The customer's contracts for the meter's premises (only the one the meter names, when it
    # names one), newest first, each with the date its billing is settled through.
    contracts: list[asyncpg.Record]
    # The meter and the meters it replaced by exchange, in no particular order.
    chain: list[asyncpg.Record]
    # The customer's own reading of this meter and day, which a new one replaces.
    existing: asyncpg.Record | None
    # The customer's readings of the chain's meters that count (every source, not rejected).
    counting: list[asyncpg.Record]


async def submission_context(
    conn: asyncpg.Connection, serial: str, customer: str, read_on: date
) -> SubmissionContext:
    """Call under ``lock_meters(serial)``: this statement's snapshot is taken after the lock."""
    row = await conn.fetchrow(
        """
        WITH RECURSIVE chain AS (
            SELECT m, m.serial, m.previous_serial, m.premises_id
            FROM meters m WHERE m.serial = $1 AND m.customer_number = $2
            UNION
            SELECT p, p.serial, p.previous_serial, p.premises_id
            FROM chain c
            JOIN meters p ON p.serial = c.previous_serial AND p.customer_number = $2
                         AND p.premises_id = c.premises_id
        )
        SELECT
            (SELECT c.m FROM chain c WHERE c.serial = $1) AS meter,
            ARRAY(
                SELECT ROW(k.contract_number, k.status, k.start_date, k.end_date,
                           k.billing_period_months,
                           (SELECT max(s.period_to) FROM settled_invoices s
                            WHERE s.contract_number = k.contract_number AND NOT s.cancelled)
                       )::premises_contract
                FROM chain c JOIN contracts k ON k.premises_id = c.premises_id
                WHERE c.serial = $1 AND k.customer_number = $2
                  AND ((c.m).contract_number IS NULL OR k.contract_number = (c.m).contract_number)
                ORDER BY k.start_date DESC, k.contract_number
            ) AS contracts,
            ARRAY(SELECT c.m FROM chain c) AS chain,
            (SELECT r FROM readings r
             WHERE r.serial = $1 AND r.read_on = $3 AND r.source = 'customer') AS existing,
            ARRAY(
                SELECT ROW(r.id, r.serial, r.value, r.read_on, r.source)::counting_reading
                FROM chain c, LATERAL (
                    -- One index scan per meter of the chain (OFFSET 0: not flattened into a
                    -- join that would read every reading of the customer).
                    SELECT * FROM readings
                    WHERE serial = c.serial AND customer_number = $2 AND status <> 'rejected'
                    OFFSET 0
                ) r
                ORDER BY r.serial, r.read_on, r.value
            ) AS counting
        """,
        serial,
        customer,
        read_on,
    )
    assert row is not None
    return SubmissionContext(
        row["meter"], row["contracts"], row["chain"], row["existing"], row["counting"]
    )


async def save_customer_reading(
    conn: asyncpg.Connection,
    *,
    reading_id: UUID,
    serial: str,
    customer: str,
    value: Decimal,
    read_on: date,
    flagged: bool,
    previous_value: Decimal | None,
    previous_read_on: date | None,
    baseline_daily_m3: Decimal | None,
    outbox: Sequence[OutboxRow],
) -> asyncpg.Record:
    """R8: the day's customer reading; a second one the same day replaces it (next revision).

    The messages that announce it are written to the outbox by the same statement.
    """
    row = await conn.fetchrow(
        f"""
        WITH saved AS (
            INSERT INTO readings (id, serial, customer_number, value, read_on, source, status,
                                  flagged, previous_value, previous_read_on, baseline_daily_m3)
            VALUES ($1, $2, $3, $4, $5, 'customer', $6, $7, $8, $9, $10)
            ON CONFLICT (serial, read_on) WHERE source = 'customer' DO UPDATE SET
                customer_number = EXCLUDED.customer_number, value = EXCLUDED.value,
                revision = readings.revision + 1, status = EXCLUDED.status,
                flagged = EXCLUDED.flagged, previous_value = EXCLUDED.previous_value,
                previous_read_on = EXCLUDED.previous_read_on,
                baseline_daily_m3 = EXCLUDED.baseline_daily_m3,
                review_reason = NULL, reviewed_by = NULL, reviewed_at = NULL,
                submitted_at = now()
            RETURNING *
        ), queued AS (
            {enqueue_sql(11)}
        )
        SELECT * FROM saved
        """,
        reading_id,
        serial,
        customer,
        value,
        read_on,
        "pending_review" if flagged else "accepted",
        flagged,
        previous_value,
        previous_read_on,
        baseline_daily_m3,
        *enqueue_args(outbox),
    )
    assert row is not None
    return row


async def history_page(
    conn: Conn,
    customer: str,
    *,
    serial: str | None,
    date_from: date | None,
    date_to: date | None,
    after: tuple[date, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The customer's readings, newest first, keyset-paged on (read_on, id)."""
    return list(
        await conn.fetch(
            """
            SELECT * FROM readings
            WHERE customer_number = $1
              AND ($2::text IS NULL OR serial = $2)
              AND ($3::date IS NULL OR read_on >= $3)
              AND ($4::date IS NULL OR read_on <= $4)
              AND ($5::date IS NULL OR (read_on, id) < ($5, $6::uuid))
            ORDER BY read_on DESC, id DESC
            LIMIT $7
            """,
            customer,
            serial,
            date_from,
            date_to,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
    )


async def flagged_page(
    conn: Conn, *, pending_only: bool, after: tuple[Any, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Flagged readings for staff, oldest first, keyset-paged on (submitted_at, id)."""
    return list(
        await conn.fetch(
            """
            SELECT * FROM readings
            WHERE flagged AND (NOT $1 OR status = 'pending_review')
              AND ($2::timestamptz IS NULL OR (submitted_at, id) > ($2, $3::uuid))
            ORDER BY submitted_at, id
            LIMIT $4
            """,
            pending_only,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
    )


async def reading_for_update(conn: asyncpg.Connection, reading_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM readings WHERE id = $1 FOR UPDATE", reading_id)


async def record_review(
    conn: asyncpg.Connection, reading_id: UUID, decision: str, reason: str, reviewer: str
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        UPDATE readings SET status = $2, review_reason = nullif($3, ''), reviewed_by = $4,
                            reviewed_at = now()
        WHERE id = $1 RETURNING *
        """,
        reading_id,
        decision,
        reason,
        reviewer,
    )
    assert row is not None
    return row


# --- R7.6: legalizacja reminders ------------------------------------------------------------------


async def meters_expiring(
    conn: Conn, today: date, horizon: date, serial: str | None = None
) -> list[asyncpg.Record]:
    """Meters in use whose legalizacja ends between today and ``horizon``, with reminders sent."""
    return list(
        await conn.fetch(
            """
            SELECT m.serial, m.customer_number, m.legalization_expires,
                   coalesce(array_agg(lr.days_before) FILTER (WHERE lr.days_before IS NOT NULL),
                            '{}') AS sent
            FROM meters m
            LEFT JOIN legalization_reminders lr
              ON lr.serial = m.serial AND lr.customer_number = m.customer_number
             AND lr.expires_on = m.legalization_expires
            WHERE m.legalization_expires BETWEEN $1 AND $2
              AND (m.removed_on IS NULL OR m.removed_on > $1)
              AND ($3::text IS NULL OR m.serial = $3)
              AND m.customer_number NOT LIKE $4 || '%'  -- R14: erased, nobody to remind
            GROUP BY m.serial, m.customer_number, m.legalization_expires
            """,
            today,
            horizon,
            serial,
            ANONYMOUS_PREFIX,
        )
    )


async def record_reminder(
    conn: asyncpg.Connection, serial: str, customer: str, expires_on: date, days_before: int
) -> bool:
    """True when this reminder was not sent before (several processes may sweep at once)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO legalization_reminders (serial, customer_number, expires_on, days_before)
        VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true
        """,
        serial,
        customer,
        expires_on,
        days_before,
    )
    return bool(inserted)


def address_of(row: asyncpg.Record) -> dict[str, Any] | None:
    raw = row["premises_address"]
    return json.loads(raw) if isinstance(raw, str) else raw
