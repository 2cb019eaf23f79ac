"""The SQL of the billing service, as named functions over asyncpg."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

Db: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def customer_with_contract(
    conn: asyncpg.Connection | asyncpg.Pool, customer_number: str, contract_number: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT cu.name, cu.identity_checks, co.status, co.start_date, co.end_date
        FROM customers cu JOIN contracts co USING (customer_number)
        WHERE cu.customer_number = $1 AND co.contract_number = $2
        """,
        customer_number,
        contract_number,
    )


# --- the customer's views ---------------------------------------------------------------------


async def data_as_of(db: Db) -> datetime | None:
    value: datetime | None = await db.fetchval("SELECT as_of FROM sync_state")
    return value


CONTRACT_COLUMNS = """
    contract_id, contract_number, premises_id, premises_address::text AS premises_address,
    start_date, end_date, status, billing_period_months, water_price_grosze,
    sewage_price_grosze, subscription_fee_grosze, document IS NOT NULL AS has_document
"""


async def contracts_of_customer(db: Db, customer_number: str) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT {CONTRACT_COLUMNS} FROM contracts WHERE customer_number = $1"
        " ORDER BY start_date DESC, contract_number",
        customer_number,
    )


async def contract_of_customer(
    db: Db, customer_number: str, contract_id: UUID
) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {CONTRACT_COLUMNS}, document::text AS document FROM contracts"
        " WHERE customer_number = $1 AND contract_id = $2",
        customer_number,
        contract_id,
    )


PAGE_COLUMNS = (
    "invoice_id, number, contract_number, issued_on, due_date, period_from, period_to,"
    " gross_grosze, status"
)
# Each row's ``InvoiceSummary`` written as compact JSON by PostgreSQL (``row_to_json`` of the
# page's columns: 1.8 us a row here, 2.4 for ``json_build_object``, whose text also has spaces),
# beside its sort key: the busiest read (the invoice list) joins these into its reply with no
# Python object per row or field.
PAGE_AS_JSON = (
    f"(SELECT row_to_json(summary) FROM (SELECT {PAGE_COLUMNS}) AS summary)::text AS item,"
    " issued_on, number"
)


async def invoice_page(
    db: Db,
    customer_number: str,
    *,
    status: str | None,
    issued_from: date | None,
    issued_to: date | None,
    after: tuple[date, str] | None,
    limit: int,
    columns: str = PAGE_COLUMNS,
) -> list[asyncpg.Record]:
    """One page of the customer's invoices, newest first: one scan of ``invoices_of_customer``.

    The sync time rides along on every row (an init plan, run once), so a page that has rows
    is one round trip. ``columns``: ``PAGE_COLUMNS`` or ``PAGE_AS_JSON``.
    """
    return await db.fetch(
        f"""
        SELECT {columns}, (SELECT as_of FROM sync_state) AS data_as_of
        FROM invoices
        WHERE customer_number = $1
          AND ($2::text IS NULL OR status = $2)
          AND ($3::date IS NULL OR issued_on >= $3)
          AND ($4::date IS NULL OR issued_on <= $4)
          AND ($5::date IS NULL OR (issued_on, number) < ($5, $6::text))
        ORDER BY issued_on DESC, number DESC
        LIMIT $7
        """,
        customer_number,
        status,
        issued_from,
        issued_to,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def invoice_of_customer(
    db: Db, customer_number: str, invoice_id: UUID
) -> asyncpg.Record | None:
    return await db.fetchrow(
        """
        SELECT invoice_id, number, customer_number, contract_number, issued_on, sale_date,
               due_date, period_from, period_to, lines::text AS lines, net_grosze, vat_grosze,
               gross_grosze, status, corrects, corrected_by, correction_reason, cancel_reason
        FROM invoices WHERE customer_number = $1 AND invoice_id = $2
        """,
        customer_number,
        invoice_id,
    )


async def account_of_customer(db: Db, customer_number: str) -> dict[str, Any]:
    """Everything the settlement needs: the customer's invoices and payments."""
    invoices = await db.fetch(
        """
        SELECT invoice_id, number, issued_on, due_date, gross_grosze, status, corrected_by
        FROM invoices WHERE customer_number = $1
        """,
        customer_number,
    )
    payments = await db.fetch(
        """
        SELECT payment_id, paid_on, amount_grosze, invoice_number, method
        FROM payments WHERE customer_number = $1 ORDER BY paid_on DESC, payment_id DESC
        """,
        customer_number,
    )
    return {"invoices": invoices, "payments": payments}


async def customer(db: Db, customer_number: str) -> asyncpg.Record | None:
    """The customer, unless erased (R14: nothing of them left to show)."""
    return await db.fetchrow(
        "SELECT customer_number, kind, name, address::text AS address FROM customers"
        " WHERE customer_number = $1 AND erased_revision IS DISTINCT FROM revision",
        customer_number,
    )


async def premises_of_contract(db: Db, contract_number: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT premises_id, premises_address::text AS premises_address FROM contracts"
        " WHERE contract_number = $1",
        contract_number,
    )


async def search_customers(db: Db, q: str, limit: int) -> list[asyncpg.Record]:
    """Customers whose number starts with ``q`` or whose name contains it (staff search)."""
    pattern = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return await db.fetch(
        """
        SELECT customer_number, name, kind, address->>'city' AS city
        FROM customers
        WHERE (customer_number ILIKE $1 || '%' OR name ILIKE '%' || $1 || '%')
          AND erased_revision IS DISTINCT FROM revision  -- R14: erased, nothing to show
        ORDER BY customer_number
        LIMIT $2
        """,
        pattern,
        limit,
    )
