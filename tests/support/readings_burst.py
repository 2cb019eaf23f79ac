"""A burst of customer readings through the gateway while something fails, and its exactly-once
check: every reading the gateway accepted stored once and emitted once to the billing system.

Used by the real-fault tests (tests/faults/test_real_broker_restart.py,
tests/faults/test_postgres_killed.py) and the soak (bench/soak.py). The clients are keep-alive
connections (tests/support/load.py); each owns its meters and walks their days in order, so no
two requests touch the same meter and day (a second one would replace the first, R8).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import aio_pika
import asyncpg
import httpx

from contracts import topology
from contracts.billing_system import ReadingSubmitted
from tests.support.customers import logged_in_client
from tests.support.infra import Infra
from tests.support.load import ConnectionLost, KeepAliveClient
from tests.support.mail import MailSink
from tests.support.readings import TODAY, add_customer, extra_customer, meter_for
from tools.billing_sim.dataset import SimCustomer


@dataclass
class Burst:
    """What the clients were answered, as it happens (a fault injector watches ``done``)."""

    accepted: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    done: int = 0
    slowest: float = 0.0  # seconds, the longest any request waited for its answer

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


def session_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """A logged-in client's session cookie and CSRF token, for KeepAliveClient."""
    return {
        "Cookie": f"ibok_session={client.cookies['ibok_session']}",
        "X-CSRF-Token": client.cookies["ibok_csrf"],
    }


async def meter_reader(
    infra: Infra, gateway: str, mail_sink: MailSink, number: str, meters: int, login: str
) -> tuple[SimCustomer, dict[str, str]]:
    """A customer with ``meters`` meters (serials ``<number>M<i>``), published as the billing
    system would, registered and logged in; the customer and its session headers."""
    customer = extra_customer(number, contract_start=TODAY - timedelta(days=400))
    customer.meters.extend(meter_for(customer, f"{number}M{i:04d}") for i in range(meters))
    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        await add_customer(infra, db, customer)
    finally:
        await db.close()
    client = await logged_in_client(gateway, mail_sink, customer, login)
    try:
        return customer, session_headers(client)
    finally:
        await client.aclose()


def burst_days(days: int) -> list[date]:
    return [TODAY - timedelta(days=days - 1 - d) for d in range(days)]


async def submit_readings(
    gateway: str,
    session: dict[str, str],
    serials: list[str],
    days: list[date],
    clients: int,
    burst: Burst,
    *,
    timeout: float = 30,
    pause_after_failure: float = 0.5,
) -> None:
    """Every meter read on every day, by ``clients`` concurrent clients; answers into ``burst``.

    A client that is refused waits ``pause_after_failure`` before its next reading, as a person
    would, so a burst goes on across an outage instead of spending itself on quick 503s; it
    moves on to the next reading (sending the same one again could replace one the system
    applied after all, R8)."""

    async def one_client(mine: list[str]) -> None:
        client = KeepAliveClient(gateway, session, timeout=timeout)
        try:
            for d, day in enumerate(days):
                for s, serial in enumerate(mine):
                    value = Decimal(100 + s) + Decimal("0.5") * d
                    started, ok = time.monotonic(), False
                    try:
                        answer = await client.post_json(
                            "/api/v1/readings",
                            {"serial": serial, "value": str(value), "read_on": str(day)},
                        )
                        if answer.is_success:
                            reading = answer.json()["reading"]
                            burst.accepted[(serial, str(day))] = (
                                reading["reading_id"],
                                reading["revision"],
                            )
                            ok = True
                        else:
                            burst.failures[str(answer.status)] += 1
                    except (OSError, TimeoutError, ConnectionLost) as error:
                        burst.failures[type(error).__name__] += 1
                    burst.slowest = max(burst.slowest, time.monotonic() - started)
                    burst.done += 1
                    if not ok:
                        await asyncio.sleep(pause_after_failure)
        finally:
            await client.close()

    await asyncio.gather(*(one_client(serials[i::clients]) for i in range(clients)))


async def wait_outbox_drained(db: asyncpg.Connection, schema: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while await db.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"):
        if time.monotonic() > deadline:
            raise AssertionError(f"the {schema} outbox did not drain within {timeout} s")
        await asyncio.sleep(0.2)


async def take_billing_system_queue(amqp_url: str, idle: float = 1.0) -> list[dict[str, Any]]:
    """Everything in the billing system's durable queue, taken off it: (routing key and body)
    as ``{"routing_key": ..., "body": ...}``; stops after ``idle`` seconds with nothing new."""
    taken: list[dict[str, Any]] = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.get_queue(topology.BILLING_SYSTEM_QUEUE)
        last = time.monotonic()

        async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal last
            taken.append({"routing_key": message.routing_key, "body": json.loads(message.body)})
            last = time.monotonic()
            await message.ack()

        tag = await queue.consume(keep)
        while time.monotonic() - last < idle:
            await asyncio.sleep(0.1)
        await queue.cancel(tag)
    return taken


@dataclass
class ReadingsOnce:
    """The exactly-once figures of a burst: compare with what the clients were answered."""

    stored: int
    emitted: int  # distinct messages (message ids) about the customer's readings
    deliveries: int  # of them, counting one relayed again (same message id)
    problems: list[str]


async def check_readings_once(
    db: asyncpg.Connection, customer_number: str, burst: Burst, taken: list[dict[str, Any]]
) -> ReadingsOnce:
    """Every accepted reading stored as answered, one row per meter and day, every stored one
    emitted as exactly one message (a message relayed again keeps its message id), nothing
    else emitted; a stored reading nobody was told about is only one whose request failed."""
    rows = await db.fetch(
        "SELECT id::text AS id, revision, serial, read_on::text AS read_on"
        " FROM readings.readings WHERE source = 'customer' AND customer_number = $1",
        customer_number,
    )
    stored = {(r["serial"], r["read_on"]): (r["id"], r["revision"]) for r in rows}
    deliveries = [
        t["body"]
        for t in taken
        if t["routing_key"] == ReadingSubmitted.SCHEMA
        and t["body"].get("customer_number") == customer_number
    ]
    messages: dict[tuple[str, int], set[str]] = {}
    for m in deliveries:
        messages.setdefault((m["reading_id"], m["revision"]), set()).add(m["message_id"])
    emitted = Counter({key: len(ids) for key, ids in messages.items()})
    problems = []
    if len(stored) != len(rows):
        problems.append(f"{len(rows)} rows for {len(stored)} meter days")
    wrong = [key for key, reading in burst.accepted.items() if stored.get(key) != reading]
    if wrong:
        problems.append(f"{len(wrong)} accepted readings not stored as answered: {wrong[:3]}")
    if len(rows) - len(burst.accepted) > burst.failed:
        problems.append(
            f"{len(rows)} stored, {len(burst.accepted)} accepted, {burst.failed} failed"
        )
    if set(emitted) != set(stored.values()):
        missing = set(stored.values()) - set(emitted)
        extra = set(emitted) - set(stored.values())
        problems.append(f"emitted vs stored: {len(missing)} missing, {len(extra)} extra")
    twice = [key for key, count in emitted.items() if count != 1]
    if twice:
        problems.append(f"{len(twice)} readings emitted as more than one message: {twice[:3]}")
    return ReadingsOnce(len(rows), sum(emitted.values()), len(deliveries), problems)
