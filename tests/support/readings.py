"""Readings test helpers: extra billing-system messages, and taps on IBOK's outgoing exchanges."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import aio_pika
import asyncpg

from contracts.base import Envelope
from contracts.billing_system import (
    Address,
    ContractUpserted,
    ControlReadingRecorded,
    InvoiceIssued,
    InvoiceLine,
    MeterUpserted,
    Premises,
    SyncCompleted,
)
from runtime.clock import business_today
from tests.support.infra import Infra
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import Dataset, SimCustomer, pesel

TODAY = business_today()


def unique_serial(prefix: str = "RT") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10].upper()}"


def premises_of(customer: SimCustomer) -> str:
    return customer.contracts[0].premises.premises_id


def meter_for(
    customer: SimCustomer,
    serial: str | None = None,
    *,
    installed_on: date | None = None,
    legalization_expires: date | None = None,
    is_main: bool = False,
    revision: int = 1,
    **extra: Any,
) -> MeterUpserted:
    """An extra meter at the customer's first premises. Not the main one unless asked, so the
    customer's consumption stays that of the simulator's meter."""
    return MeterUpserted(
        serial=serial or unique_serial(),
        premises_id=premises_of(customer),
        customer_number=customer.number,
        diameter_mm=20,
        installed_on=installed_on or TODAY - timedelta(days=400),
        legalization_expires=legalization_expires or TODAY + timedelta(days=4 * 365),
        is_main=is_main,
        revision=revision,
        **extra,
    )


def expiring_meter(serial: str, customer: str, expires: date, revision: int = 1) -> MeterUpserted:
    """A meter of ``customer`` whose legalizacja ends on ``expires`` (R7.6 reminders)."""
    return MeterUpserted(
        serial=serial,
        premises_id=f"P{customer}-1",
        customer_number=customer,
        diameter_mm=15,
        installed_on=date(2020, 5, 4),
        legalization_expires=expires,
        revision=revision,
    )


def control_reading(
    serial: str, value: str, read_on: date, source: str = "inspector"
) -> ControlReadingRecorded:
    return ControlReadingRecorded(
        reading_id=f"CR-{uuid.uuid4().hex[:16]}",
        serial=serial,
        value=Decimal(value),
        read_on=read_on,
        source=source,  # type: ignore[arg-type]
        inspector="Inspektor Testowy" if source == "inspector" else "",
    )


def extra_customer(
    number: str,
    *,
    contract_start: date,
    period_months: int = 1,
    seed: int = 0,
) -> SimCustomer:
    """A customer of our own (not in the shared data set), with one active contract."""
    rng = random.Random(seed or number)
    address = Address(street="ul. Testowa 1", postal_code="00-001", city="Warszawa")
    customer = SimCustomer(number, "person", f"Klient {number}", "pesel", pesel(rng), address)
    customer.contracts.append(
        ContractUpserted(
            contract_number=f"U/{number}/1",
            customer_number=number,
            premises=Premises(premises_id=f"P{number}-1", address=address),
            start_date=contract_start,
            status="active",
            billing_period_months=period_months,
            revision=1,
        )
    )
    return customer


def settling_invoice(customer: SimCustomer, period_to: date) -> InvoiceIssued:
    """An invoice that settles the customer's first contract up to ``period_to`` (R8)."""
    line = InvoiceLine(
        description="Woda",
        quantity=Decimal("7.000"),
        unit="m3",
        unit_price_grosze=500,
        net_grosze=3500,
        vat_rate_percent=8,
        vat_grosze=280,
        gross_grosze=3780,
    )
    return InvoiceIssued(
        number=f"FV/{customer.number}/1",
        customer_number=customer.number,
        contract_number=customer.contracts[0].contract_number,
        issued_on=TODAY,
        sale_date=TODAY,
        due_date=TODAY + timedelta(days=14),
        period_from=TODAY - timedelta(days=30),
        period_to=period_to,
        lines=[line],
        net_grosze=3500,
        vat_grosze=280,
        gross_grosze=3780,
    )


async def publish_billing(infra: Infra, *messages: Envelope) -> None:
    await publish(infra.amqp_url, list(messages))


async def wait_until(db: asyncpg.Connection, sql: str, *args: Any, timeout: float = 15.0) -> Any:
    """Poll ``sql`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await db.fetchval(sql, *args)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout} s: {sql} {args}")
        await asyncio.sleep(0.05)


async def add_meters(infra: Infra, db: asyncpg.Connection, *meters: MeterUpserted) -> None:
    await publish_billing(infra, *meters)
    for m in meters:
        await wait_until(
            db,
            "SELECT true FROM readings.meters WHERE serial = $1 AND revision >= $2",
            m.serial,
            m.revision,
        )


async def add_control_readings(
    infra: Infra, db: asyncpg.Connection, *readings: ControlReadingRecorded
) -> None:
    await publish_billing(infra, *readings)
    ids = [r.reading_id for r in readings]
    await wait_until(
        db,
        "SELECT count(*) = $2 FROM readings.readings WHERE external_id = ANY($1::text[])",
        ids,
        len(ids),
    )


async def add_customer(infra: Infra, db: asyncpg.Connection, customer: SimCustomer) -> None:
    """Publish the customer, contracts and meters as the billing system would; wait for both
    billing (registration, R1) and readings to have them."""
    messages = [
        m
        for m in Dataset([customer], as_of=datetime.now(UTC)).messages(digest_iterations=2_000)
        if not isinstance(m, SyncCompleted)
    ]
    await publish_billing(infra, *messages)
    for contract in customer.contracts:
        for schema in ("billing", "readings"):
            await wait_until(
                db,
                f"SELECT true FROM {schema}.contracts WHERE contract_number = $1",
                contract.contract_number,
            )
    for m in customer.meters:
        await wait_until(db, "SELECT true FROM readings.meters WHERE serial = $1", m.serial)


class Tap:
    """A private queue bound to one of IBOK's exchanges: every message published there, kept."""

    def __init__(self, queue: aio_pika.abc.AbstractQueue) -> None:
        self._queue = queue
        self.messages: list[dict[str, Any]] = []

    async def follow(self) -> None:
        """Take messages as the broker pushes them from now on, instead of fetching them one
        by one in ``collect`` (a round trip each: seconds for a tap that sees thousands)."""

        async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            self.messages.append(json.loads(message.body))

        await self._queue.consume(keep, no_ack=True)

    async def collect(self) -> list[dict[str, Any]]:
        """Everything that has arrived so far."""
        while (message := await self._queue.get(no_ack=True, fail=False)) is not None:
            self.messages.append(json.loads(message.body))
        return self.messages

    async def wait_for(
        self, matches: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [m for m in await self.collect() if matches(m)]
            if len(found) >= count:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(found)} of {count} messages within {timeout} s")
            await asyncio.sleep(0.05)


@asynccontextmanager
async def tap(infra: Infra, exchange: str, routing_key: str) -> AsyncIterator[Tap]:
    connection = await aio_pika.connect_robust(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=routing_key)
        yield Tap(queue)


async def outbox_published(db: asyncpg.Connection, message_id: str) -> None:
    """Wait until the readings outbox marked the message published (no later re-publication)."""
    await wait_until(
        db,
        "SELECT published_at IS NOT NULL FROM readings.outbox WHERE message_id = $1::uuid",
        message_id,
    )
