"""Acting as the billing system in tests: make invoices, publish them to ``billing.in``, wait."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import aio_pika

from contracts import topology
from contracts.base import Envelope
from contracts.billing_system import InvoiceIssued, InvoiceLine
from tools.billing_sim.cli import publish
from tools.billing_sim.history import line_amounts

T = TypeVar("T")


def invoice(
    customer_number: str,
    contract_number: str,
    number: str,
    *,
    water_m3: str = "10.000",
    description: str = "Dostawa wody",
    issued_on: date | None = None,
    revision: int = 1,
) -> InvoiceIssued:
    """A consistent invoice (water, sewage, subscription fee; 8% VAT) as the billing system sends it."""
    issued_on = issued_on or date.today() - timedelta(days=3)
    volume = Decimal(water_m3)
    lines = []
    for text, quantity, unit, price in (
        (description, volume, "m3", 585),
        ("Odprowadzanie ścieków", volume, "m3", 842),
        ("Opłata abonamentowa", Decimal(1), "mies.", 450),
    ):
        net, vat, gross = line_amounts(quantity, price, 8)
        lines.append(
            InvoiceLine(
                description=text,
                quantity=quantity,
                unit=unit,
                unit_price_grosze=price,
                net_grosze=net,
                vat_rate_percent=8,
                vat_grosze=vat,
                gross_grosze=gross,
            )
        )
    net = sum(line.net_grosze for line in lines)
    vat = sum(line.vat_grosze for line in lines)
    period_to = issued_on - timedelta(days=2)
    return InvoiceIssued(
        number=number,
        customer_number=customer_number,
        contract_number=contract_number,
        issued_on=issued_on,
        sale_date=period_to,
        due_date=issued_on + timedelta(days=14),
        period_from=period_to.replace(day=1),
        period_to=period_to,
        lines=lines,
        net_grosze=net,
        vat_grosze=vat,
        gross_grosze=net + vat,
        revision=revision,
    )


async def send(amqp_url: str, *messages: Envelope) -> None:
    await publish(amqp_url, list(messages))


async def send_raw(amqp_url: str, body: bytes, routing_key: str, message_id: str) -> None:
    """Publish bytes as they are: for messages IBOK must refuse."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(topology.BILLING_IN_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(
                body,
                content_type="application/json",
                message_id=message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
        )


async def eventually(
    probe: Callable[[], Awaitable[T]], until: Callable[[T], bool], timeout: float = 15
) -> T:
    """Poll ``probe`` until ``until`` holds for its result (bounded); return that result."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if until(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s; last value: {value!r}")
        await asyncio.sleep(0.05)


async def dead_letters(amqp_url: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every message in the dead-letter queue as (headers, JSON body or {}), left in the queue."""
    connection = await aio_pika.connect_robust(amqp_url)
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(topology.DEAD_LETTER_QUEUE)
        held = []
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            held.append(message)
            try:
                body = json.loads(message.body)
            except ValueError:
                body = {}
            found.append((dict(message.headers or {}), body if isinstance(body, dict) else {}))
        for message in held:
            await message.nack(requeue=True)
    return found
