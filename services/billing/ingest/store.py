"""The SQL of the billing system's batches: upserts by natural key, parking, sync."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from pydantic import TypeAdapter

from contracts.billing_system import (
    ContractUpserted,
    CustomerUpserted,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceLine,
    PaymentRecorded,
)

LINES = TypeAdapter(list[InvoiceLine])


async def upsert_customers(conn: asyncpg.Connection, batch: Sequence[CustomerUpserted]) -> None:
    """Upsert by customer number; an older revision never overwrites a newer one."""
    await conn.execute(
        """
        INSERT INTO customers (customer_number, kind, name, address, identity_checks, revision)
        SELECT t.number, t.kind, t.name, t.address::jsonb, t.checks::jsonb, t.revision
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
             AS t(number, kind, name, address, checks, revision)
        ON CONFLICT (customer_number) DO UPDATE SET
            kind = EXCLUDED.kind, name = EXCLUDED.name, address = EXCLUDED.address,
            identity_checks = EXCLUDED.identity_checks, revision = EXCLUDED.revision,
            updated_at = now()
        WHERE customers.revision < EXCLUDED.revision
        """,
        [m.customer_number for m in batch],
        [m.kind for m in batch],
        [m.name for m in batch],
        [m.address.model_dump_json() for m in batch],
        [json.dumps([c.model_dump() for c in m.identity_checks]) for m in batch],
        [m.revision for m in batch],
    )


async def upsert_contracts(conn: asyncpg.Connection, batch: Sequence[ContractUpserted]) -> None:
    """Upsert by contract number; an older revision never overwrites a newer one."""
    await conn.execute(
        """
        INSERT INTO contracts (contract_number, customer_number, premises_id, premises_address,
                               start_date, end_date, status, billing_period_months,
                               water_price_grosze, sewage_price_grosze, subscription_fee_grosze,
                               document, revision)
        SELECT t.number, t.customer, t.premises, t.address::jsonb, t.start_date, t.end_date,
               t.status, t.period, t.water, t.sewage, t.fee, t.document::jsonb, t.revision
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::date[],
                    $7::text[], $8::int[], $9::bigint[], $10::bigint[], $11::bigint[],
                    $12::text[], $13::bigint[])
             AS t(number, customer, premises, address, start_date, end_date, status, period,
                  water, sewage, fee, document, revision)
        ON CONFLICT (contract_number) DO UPDATE SET
            customer_number = EXCLUDED.customer_number, premises_id = EXCLUDED.premises_id,
            premises_address = EXCLUDED.premises_address, start_date = EXCLUDED.start_date,
            end_date = EXCLUDED.end_date, status = EXCLUDED.status,
            billing_period_months = EXCLUDED.billing_period_months,
            water_price_grosze = EXCLUDED.water_price_grosze,
            sewage_price_grosze = EXCLUDED.sewage_price_grosze,
            subscription_fee_grosze = EXCLUDED.subscription_fee_grosze,
            document = EXCLUDED.document, revision = EXCLUDED.revision, updated_at = now()
        WHERE contracts.revision < EXCLUDED.revision
        """,
        [m.contract_number for m in batch],
        [m.customer_number for m in batch],
        [m.premises.premises_id for m in batch],
        [m.premises.address.model_dump_json() for m in batch],
        [m.start_date for m in batch],
        [m.end_date for m in batch],
        [m.status for m in batch],
        [m.billing_period_months for m in batch],
        [m.water_price_grosze for m in batch],
        [m.sewage_price_grosze for m in batch],
        [m.subscription_fee_grosze for m in batch],
        [m.document.model_dump_json() if m.document else None for m in batch],
        [m.revision for m in batch],
    )


async def record_sync(conn: asyncpg.Connection, as_of: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO sync_state (singleton, as_of) VALUES (true, $1)
        ON CONFLICT (singleton) DO UPDATE SET as_of = EXCLUDED.as_of, completed_at = now()
        WHERE sync_state.as_of < EXCLUDED.as_of
        """,
        as_of,
    )


async def known_customers(conn: asyncpg.Connection, numbers: Sequence[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT customer_number FROM customers WHERE customer_number = ANY($1::text[])",
        list(set(numbers)),
    )
    return {row[0] for row in rows}


async def upsert_invoices(
    conn: asyncpg.Connection,
    batch: Sequence[InvoiceIssued],
    corrects: Sequence[str | None],
    reasons: Sequence[str | None],
) -> None:
    """Upsert by invoice number, newer revision wins; cancelled and corrected stay so (sticky)."""
    await conn.execute(
        """
        INSERT INTO invoices (number, customer_number, contract_number, issued_on, sale_date,
                              due_date, period_from, period_to, lines, net_grosze, vat_grosze,
                              gross_grosze, revision, corrects, correction_reason)
        SELECT t.number, t.customer, t.contract, t.issued_on, t.sale_date, t.due_date,
               t.period_from, t.period_to, t.lines::jsonb, t.net, t.vat, t.gross, t.revision,
               t.corrects, t.reason
        FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::date[], $6::date[],
                    $7::date[], $8::date[], $9::text[], $10::bigint[], $11::bigint[],
                    $12::bigint[], $13::bigint[], $14::text[], $15::text[])
             AS t(number, customer, contract, issued_on, sale_date, due_date, period_from,
                  period_to, lines, net, vat, gross, revision, corrects, reason)
        ON CONFLICT (number) DO UPDATE SET
            customer_number = EXCLUDED.customer_number,
            contract_number = EXCLUDED.contract_number, issued_on = EXCLUDED.issued_on,
            sale_date = EXCLUDED.sale_date, due_date = EXCLUDED.due_date,
            period_from = EXCLUDED.period_from, period_to = EXCLUDED.period_to,
            lines = EXCLUDED.lines, net_grosze = EXCLUDED.net_grosze,
            vat_grosze = EXCLUDED.vat_grosze, gross_grosze = EXCLUDED.gross_grosze,
            revision = EXCLUDED.revision,
            corrects = coalesce(EXCLUDED.corrects, invoices.corrects),
            correction_reason = coalesce(EXCLUDED.correction_reason, invoices.correction_reason),
            updated_at = now()
        WHERE invoices.revision < EXCLUDED.revision
        """,
        [m.number for m in batch],
        [m.customer_number for m in batch],
        [m.contract_number for m in batch],
        [m.issued_on for m in batch],
        [m.sale_date for m in batch],
        [m.due_date for m in batch],
        [m.period_from for m in batch],
        [m.period_to for m in batch],
        [LINES.dump_json(m.lines).decode() for m in batch],
        [m.net_grosze for m in batch],
        [m.vat_grosze for m in batch],
        [m.gross_grosze for m in batch],
        [m.revision for m in batch],
        list(corrects),
        list(reasons),
    )


async def mark_corrected(
    conn: asyncpg.Connection, corrections: Sequence[str], originals: Sequence[str]
) -> None:
    """An invoice that a (not cancelled) correcting invoice names is replaced by it.

    Two index lookups rather than one join with OR, which scanned the whole table per batch:
    the invoices these ``corrections`` name, and those of ``originals`` that a correction
    received earlier already names.
    """
    if corrections:
        await conn.execute(
            """
            UPDATE invoices o SET status = 'corrected', corrected_by = c.number, updated_at = now()
            FROM invoices c
            WHERE c.number = ANY($1::text[]) AND c.status <> 'cancelled'
              AND o.number = c.corrects AND o.number <> c.number AND o.status = 'issued'
            """,
            list(corrections),
        )
    if originals:
        await conn.execute(
            """
            UPDATE invoices o SET status = 'corrected', corrected_by = c.number, updated_at = now()
            FROM invoices c
            WHERE o.number = ANY($1::text[]) AND o.status = 'issued'
              AND c.corrects = o.number AND c.number <> o.number AND c.status <> 'cancelled'
            """,
            list(originals),
        )


async def cancel_invoices(conn: asyncpg.Connection, batch: Sequence[InvoiceCancelled]) -> set[str]:
    """Cancel the named invoices of their customers; the numbers that were found."""
    rows = await conn.fetch(
        """
        UPDATE invoices i SET status = 'cancelled', cancel_reason = t.reason, updated_at = now()
        FROM unnest($1::text[], $2::text[], $3::text[]) AS t(number, customer, reason)
        WHERE i.number = t.number AND i.customer_number = t.customer
        RETURNING i.number
        """,
        [m.number for m in batch],
        [m.customer_number for m in batch],
        [m.reason for m in batch],
    )
    found = [row[0] for row in rows]
    # A cancelled correction gives the invoice it had corrected back its place.
    await conn.execute(
        """
        UPDATE invoices SET status = 'issued', corrected_by = NULL, updated_at = now()
        WHERE status = 'corrected' AND corrected_by = ANY($1::text[])
        """,
        found,
    )
    return set(found)


async def record_payments(conn: asyncpg.Connection, batch: Sequence[PaymentRecorded]) -> None:
    """A payment id is recorded once; the billing system never changes a recorded payment."""
    await conn.execute(
        """
        INSERT INTO payments (payment_id, customer_number, amount_grosze, paid_on,
                              invoice_number, method)
        SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::date[], $5::text[],
                             $6::text[])
        ON CONFLICT (payment_id) DO NOTHING
        """,
        [m.payment_id for m in batch],
        [m.customer_number for m in batch],
        [m.amount_grosze for m in batch],
        [m.paid_on for m in batch],
        [m.invoice_number for m in batch],
        [m.method for m in batch],
    )


async def park(conn: asyncpg.Connection, parked: Sequence[tuple[str, str, str]]) -> None:
    """Keep messages that wait for something, as (awaits, schema, JSON body), in order."""
    await conn.executemany(
        "INSERT INTO parked_messages (awaits, schema, body) VALUES ($1, $2, $3::jsonb)", parked
    )


async def unpark(conn: asyncpg.Connection, awaited: Sequence[str]) -> list[tuple[str, str]]:
    """Take the messages waiting for any of ``awaited``, oldest first, as (schema, JSON body)."""
    if not awaited:
        return []
    rows = await conn.fetch(
        """
        WITH taken AS (
            DELETE FROM parked_messages WHERE awaits = ANY($1::text[])
            RETURNING id, schema, body::text AS body
        )
        SELECT schema, body FROM taken ORDER BY id
        """,
        list(set(awaited)),
    )
    return [(row["schema"], row["body"]) for row in rows]
