"""The SQL of retention (R14) in billing: who is due, and erasing one customer's part here."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeAlias

import asyncpg

from runtime.db import execute_counted

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool

# One run at a time across billing's processes: a run takes this lock in each batch's
# transaction, so the next batch (of this run or another process's) sees what it committed.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ibok.billing.retention'))"
_TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('ibok.billing.retention'))"


async def lock_runs(conn: asyncpg.Connection, *, wait: bool) -> bool:
    """Take the retention lock until the transaction ends; without ``wait``, False if taken."""
    if wait:
        await conn.execute(_LOCK)
        return True
    return bool(await conn.fetchval(_TRY_LOCK))


async def customers_due(db: Db, last_end: date, limit: int | None) -> list[asyncpg.Record]:
    """Customers with personal data here whose retention is over: every linked contract ended
    on or before ``last_end`` (domain.last_end_erasable_by), none without an end date, and
    either never erased (with at least one contract), or erased before and given data again
    since (a newer revision of the customer, or a contract, invoice, payment or complaint
    linked to their number once more)."""
    return list(
        await db.fetch(
            """
            WITH ends AS (
                SELECT customer_number, count(*) AS contracts, count(end_date) AS ended,
                       max(end_date) AS last_end
                FROM contracts GROUP BY customer_number
            )
            SELECT cu.customer_number, e.last_end, cu.erased_at IS NOT NULL AS erased_before
            FROM customers cu LEFT JOIN ends e USING (customer_number)
            WHERE coalesce(e.contracts = e.ended AND e.last_end <= $1, true)
              AND CASE
                WHEN cu.erased_at IS NULL THEN e.contracts IS NOT NULL
                ELSE cu.revision > cu.erased_revision OR e.contracts IS NOT NULL
                  OR EXISTS (SELECT 1 FROM invoices i WHERE i.customer_number = cu.customer_number)
                  OR EXISTS (SELECT 1 FROM payments p WHERE p.customer_number = cu.customer_number)
                  OR EXISTS (
                      SELECT 1 FROM complaints c WHERE c.customer_number = cu.customer_number)
              END
            ORDER BY cu.customer_number
            LIMIT $2
            """,
            last_end,
            limit,
        )
    )


def _erasure(number: str, key: str, last_end: date) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """What R14 does to one customer's rows here (docs/reliability.md, Retention): personal data
    blanked or deleted; rows the utility keeps moved to the anonymous ``key``."""
    return {
        "customers": (
            """
            UPDATE customers SET name = '', address = '{}', identity_checks = '[]',
                erased_at = now(), erased_revision = revision, updated_at = now()
            WHERE customer_number = $1
            """,
            (number,),
        ),
        # Only contracts past retention: one arriving this moment stays the customer's.
        "contracts": (
            "UPDATE contracts SET customer_number = $2, premises_address = '{}', document = NULL,"
            " updated_at = now() WHERE customer_number = $1 AND end_date <= $3",
            (number, key, last_end),
        ),
        "invoices": (
            "UPDATE invoices SET customer_number = $2 WHERE customer_number = $1",
            (number, key),
        ),
        "payments": (
            "UPDATE payments SET customer_number = $2 WHERE customer_number = $1",
            (number, key),
        ),
        "complaint_messages": (
            """
            UPDATE complaint_messages SET body = '',
                hidden_reason = CASE WHEN hidden_reason IS NULL THEN NULL ELSE '' END
            WHERE complaint_id IN (SELECT complaint_id FROM complaints WHERE customer_number = $1)
            """,
            (number,),
        ),
        "complaints": (
            """
            UPDATE complaints SET customer_number = $2, subject = '', description = '',
                expected_resolution = '',
                outcome_text = CASE WHEN outcome_text IS NULL THEN NULL ELSE '' END,
                updated_at = now()
            WHERE customer_number = $1
            """,
            (number, key),
        ),
        "parked_messages": (
            "DELETE FROM parked_messages WHERE body->>'customer_number' = $1"
            " OR body->'correction'->>'customer_number' = $1",
            (number,),
        ),
    }


async def erase_customer(
    conn: asyncpg.Connection, number: str, key: str, last_end: date
) -> dict[str, int]:
    """Erase or anonymise the customer's rows (see ``_erasure``); rows touched per table."""
    return await execute_counted(conn, _erasure(number, key, last_end))
