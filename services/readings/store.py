"""The SQL of the readings service, as named functions over asyncpg."""

from __future__ import annotations

import asyncpg

from contracts.billing_system import MeterUpserted


async def upsert_meter(conn: asyncpg.Connection, msg: MeterUpserted) -> None:
    # An older revision never overwrites a newer one.
    await conn.execute(
        """
        INSERT INTO meters (serial, premises_id, customer_number, diameter_mm, installed_on,
                            legalization_expires, removed_on, revision)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (serial) DO UPDATE SET
            premises_id = EXCLUDED.premises_id, customer_number = EXCLUDED.customer_number,
            diameter_mm = EXCLUDED.diameter_mm, installed_on = EXCLUDED.installed_on,
            legalization_expires = EXCLUDED.legalization_expires,
            removed_on = EXCLUDED.removed_on, revision = EXCLUDED.revision, updated_at = now()
        WHERE meters.revision < EXCLUDED.revision
        """,
        msg.serial,
        msg.premises_id,
        msg.customer_number,
        msg.diameter_mm,
        msg.installed_on,
        msg.legalization_expires,
        msg.removed_on,
        msg.revision,
    )
