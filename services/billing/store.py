"""The SQL of the billing service, as named functions over asyncpg."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from contracts.billing_system import ContractUpserted, CustomerUpserted


async def upsert_customer(conn: asyncpg.Connection, msg: CustomerUpserted) -> None:
    # An older revision never overwrites a newer one.
    await conn.execute(
        """
        INSERT INTO customers (customer_number, kind, name, address, identity_checks, revision)
        VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6)
        ON CONFLICT (customer_number) DO UPDATE SET
            kind = EXCLUDED.kind, name = EXCLUDED.name, address = EXCLUDED.address,
            identity_checks = EXCLUDED.identity_checks, revision = EXCLUDED.revision,
            updated_at = now()
        WHERE customers.revision < EXCLUDED.revision
        """,
        msg.customer_number,
        msg.kind,
        msg.name,
        msg.address.model_dump_json(),
        json.dumps([c.model_dump() for c in msg.identity_checks]),
        msg.revision,
    )


async def upsert_contract(conn: asyncpg.Connection, msg: ContractUpserted) -> None:
    await conn.execute(
        """
        INSERT INTO contracts (contract_number, customer_number, premises_id, premises_address,
                               start_date, end_date, status, billing_period_months, revision)
        VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9)
        ON CONFLICT (contract_number) DO UPDATE SET
            customer_number = EXCLUDED.customer_number, premises_id = EXCLUDED.premises_id,
            premises_address = EXCLUDED.premises_address, start_date = EXCLUDED.start_date,
            end_date = EXCLUDED.end_date, status = EXCLUDED.status,
            billing_period_months = EXCLUDED.billing_period_months,
            revision = EXCLUDED.revision, updated_at = now()
        WHERE contracts.revision < EXCLUDED.revision
        """,
        msg.contract_number,
        msg.customer_number,
        msg.premises.premises_id,
        msg.premises.address.model_dump_json(),
        msg.start_date,
        msg.end_date,
        msg.status,
        msg.billing_period_months,
        msg.revision,
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
