"""The SQL of the billing system's data in readings: meters, contracts, control readings, settled invoices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

import asyncpg

from contracts.billing_system import ContractUpserted, ControlReadingRecorded, MeterUpserted


async def upsert_meter(conn: asyncpg.Connection, msg: MeterUpserted) -> bool:
    """Insert or update the meter; False when a newer revision is already stored."""
    ex = msg.exchange
    applied = await conn.fetchval(
        """
        INSERT INTO meters (serial, premises_id, customer_number, contract_number, diameter_mm,
                            installed_on, legalization_expires, removed_on, is_main,
                            previous_serial, previous_final_reading, initial_reading,
                            exchanged_on, revision)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        ON CONFLICT (serial) DO UPDATE SET
            premises_id = EXCLUDED.premises_id, customer_number = EXCLUDED.customer_number,
            contract_number = EXCLUDED.contract_number, diameter_mm = EXCLUDED.diameter_mm,
            installed_on = EXCLUDED.installed_on,
            legalization_expires = EXCLUDED.legalization_expires,
            removed_on = EXCLUDED.removed_on, is_main = EXCLUDED.is_main,
            previous_serial = EXCLUDED.previous_serial,
            previous_final_reading = EXCLUDED.previous_final_reading,
            initial_reading = EXCLUDED.initial_reading, exchanged_on = EXCLUDED.exchanged_on,
            revision = EXCLUDED.revision, updated_at = now()
        WHERE meters.revision < EXCLUDED.revision
        RETURNING true
        """,
        msg.serial,
        msg.premises_id,
        msg.customer_number,
        msg.contract_number,
        msg.diameter_mm,
        msg.installed_on,
        msg.legalization_expires,
        msg.removed_on,
        msg.is_main,
        ex.previous_serial if ex else None,
        ex.previous_final_reading if ex else None,
        ex.initial_reading if ex else None,
        ex.exchanged_on if ex else None,
        msg.revision,
    )
    return bool(applied)


async def adopt_orphan_readings(conn: asyncpg.Connection, serial: str, customer: str) -> None:
    """Readings that arrived before their meter now belong to the meter's customer."""
    await conn.execute(
        "UPDATE readings SET customer_number = $2 WHERE serial = $1 AND customer_number IS NULL",
        serial,
        customer,
    )


async def meter_customer(conn: asyncpg.Connection, serial: str) -> str | None:
    value = await conn.fetchval("SELECT customer_number FROM meters WHERE serial = $1", serial)
    return str(value) if value is not None else None


async def upsert_system_reading(
    conn: asyncpg.Connection,
    *,
    reading_id: UUID,
    external_id: str,
    serial: str,
    customer_number: str | None,
    value: Decimal,
    read_on: date,
    source: str,
) -> None:
    """A reading made by the utility (inspector, estimate, meter exchange): the latest wins."""
    await conn.execute(
        """
        INSERT INTO readings (id, serial, customer_number, value, read_on, source, external_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (external_id) DO UPDATE SET
            serial = EXCLUDED.serial, value = EXCLUDED.value, read_on = EXCLUDED.read_on,
            source = EXCLUDED.source,
            customer_number = coalesce(readings.customer_number, EXCLUDED.customer_number)
        """,
        reading_id,
        serial,
        customer_number,
        value,
        read_on,
        source,
        external_id,
    )


async def upsert_control_reading(
    conn: asyncpg.Connection, msg: ControlReadingRecorded, reading_id: UUID, customer: str | None
) -> None:
    await upsert_system_reading(
        conn,
        reading_id=reading_id,
        external_id=msg.reading_id,
        serial=msg.serial,
        customer_number=customer,
        value=msg.value,
        read_on=msg.read_on,
        source=msg.source,
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


_SETTLE_INVOICE = """
    INSERT INTO settled_invoices (invoice_number, contract_number, period_to)
    VALUES ($1, $2, $3)
    ON CONFLICT (invoice_number) DO UPDATE SET
        contract_number = EXCLUDED.contract_number, period_to = EXCLUDED.period_to
"""


_CANCEL_INVOICE = """
    INSERT INTO settled_invoices (invoice_number, cancelled) VALUES ($1, true)
    ON CONFLICT (invoice_number) DO UPDATE SET cancelled = true
"""


class SettledInvoices:
    """Invoices that settle a period (R8) and cancellations, written in the order given: each
    run of the same statement goes in one ``executemany`` (one round trip for a bulk import)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._sql: str | None = None
        self._rows: list[tuple[object, ...]] = []

    async def settle(self, number: str, contract_number: str, period_to: date) -> None:
        await self._add(_SETTLE_INVOICE, (number, contract_number, period_to))

    async def cancel(self, number: str) -> None:
        await self._add(_CANCEL_INVOICE, (number,))

    async def _add(self, sql: str, row: tuple[object, ...]) -> None:
        if self._sql != sql:
            await self.flush()
        self._sql = sql
        self._rows.append(row)

    async def flush(self) -> None:
        if self._rows and self._sql is not None:
            await self._conn.executemany(self._sql, self._rows)
        self._sql, self._rows = None, []
