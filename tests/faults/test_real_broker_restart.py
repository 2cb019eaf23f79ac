"""RabbitMQ really stopped and started again, under the five services, during an import and a
readings burst.

tests/faults/test_broker_cut_during_import.py models a stopped broker with a proxy, because the
machine's RabbitMQ is shared. Here the broker is a node of the test's own
(tests/support/own_servers.py: its own node name, ports and data directory, from the machine's
``rabbitmq-server``), stopped with ``rabbitmqctl stop`` and started again on the same data, so
what a restart does is real: every connection closed by the broker, the node away for seconds,
the non-durable queues gone, the quorum queues and their messages back from disk. The database
is a fresh one on the suite's PostgreSQL.

1. 20,000 invoices published by the billing system's publisher (with publisher confirms; it
   publishes again what was not confirmed, same message id) while billing and readings take
   them in; the node restarts once 30% are applied by billing. Expected: every invoice once in
   billing (one row per number, one inbox entry per message id, none parked) and settled once
   in readings; every queue empty, the dead-letter queue included; no stall.
2. 1,800 readings (60 meters over 30 days) by 12 customer clients through the gateway; the
   node restarts after a third. Expected: every reading the gateway accepted stored once as
   answered and emitted once to the billing system's queue (a message relayed again keeps its
   message id), every failed request answered 503 or 504, never hung.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from contracts import topology
from contracts.billing_system import ContractUpserted, CustomerUpserted
from tests.faults.test_broker_cut_during_import import _applied_deliveries, log_lines
from tests.support.bulk import copied_invoices
from tests.support.infra import Infra, create_database, drop_database, unique
from tests.support.mail import MailSink
from tests.support.own_servers import OwnRabbit, own_rabbit, running_system
from tests.support.queues import queue_states, ready_count, wait_drained
from tests.support.readings import TODAY, extra_customer
from tests.support.readings_burst import (
    Burst,
    burst_days,
    check_readings_once,
    meter_reader,
    submit_readings,
    take_billing_system_queue,
    wait_outbox_drained,
)
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import Dataset
from tools.system import SERVICE_ORDER, System

pytestmark = pytest.mark.faults

CUSTOMERS = 10
M = 20_000
RESTART_AT = 0.3  # of the invoices applied by billing
METERS = 60
DAYS = 30
CLIENTS = 12
N = METERS * DAYS


@pytest.fixture(scope="module")
def rabbit() -> Iterator[OwnRabbit]:
    with own_rabbit() as node:
        yield node


@pytest.fixture(scope="module")
def restart_infra(infra: Infra, rabbit: OwnRabbit) -> Iterator[Infra]:
    """A fresh database on the suite's PostgreSQL, the own node's default vhost."""
    database = unique("ibok_restart")
    asyncio.run(create_database(infra.postgres_base, database))
    try:
        yield Infra(infra.postgres_base, rabbit.base_url, database, "/")
    finally:
        asyncio.run(drop_database(infra.postgres_base, database))


@pytest.fixture(scope="module")
def restart_system(
    restart_infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    from tests.conftest import system_env

    env = system_env(restart_infra, mail_sink, IBOK_SESSION_CACHE_SECONDS="5")
    with running_system(env, tmp_path_factory.mktemp("restart-logs")) as system:
        yield system


async def restart_and_wait_ready(rabbit: OwnRabbit, system: System) -> tuple[float, float, float]:
    """Restart the node; (seconds stopping, seconds starting until AMQP answered, seconds after
    that until every service answered ready)."""
    stopping, starting = await asyncio.to_thread(rabbit.restart)
    back = time.monotonic()
    await asyncio.to_thread(system.wait_ready, SERVICE_ORDER, 60)
    return stopping, starting, time.monotonic() - back


async def test_broker_restarted_during_an_import_applies_every_invoice_exactly_once(
    rabbit: OwnRabbit, restart_system: System, restart_infra: Infra
) -> None:
    system, infra = restart_system, restart_infra
    sim = [
        extra_customer(f"KR{i:05d}", contract_start=TODAY - timedelta(days=800))
        for i in range(CUSTOMERS)
    ]
    setup = [
        m
        for m in Dataset(sim, as_of=datetime.now(UTC)).messages(digest_iterations=1_000)
        if isinstance(m, CustomerUpserted | ContractUpserted)
    ]
    invoices = copied_invoices(
        [(c.number, c.contracts[0].contract_number) for c in sim], M, "FV/RR"
    )
    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        await publish(infra.amqp_url, setup)
        for schema in ("billing", "readings"):
            for _ in range(300):
                if await db.fetchval(f"SELECT count(*) FROM {schema}.contracts") >= CUSTOMERS:
                    break
                await asyncio.sleep(0.1)
        before = {s: _applied_deliveries(system, s) for s in ("billing", "readings")}

        async def applied() -> int:
            return int(
                await db.fetchval(
                    "SELECT count(*) FROM billing.invoices WHERE number LIKE 'FV/RR/%'"
                )
            )

        async def settled_in_readings() -> int:
            return int(
                await db.fetchval(
                    "SELECT count(*) FROM readings.settled_invoices"
                    " WHERE invoice_number LIKE 'FV/RR/%'"
                )
            )

        async def restart_midway() -> tuple[int, float, float, float]:
            while (n := await applied()) < M * RESTART_AT:
                await asyncio.sleep(0.1)
            return n, *await restart_and_wait_ready(rabbit, system)

        started = time.monotonic()
        _, (at, stopping, starting, ready_after) = await asyncio.gather(
            publish(infra.amqp_url, list(invoices), window=1_000, retry_for=60),
            asyncio.wait_for(restart_midway(), 240),
        )
        deadline = time.monotonic() + 60
        took = {}
        for service, count in (("billing", applied), ("readings", settled_in_readings)):
            while (n := await count()) < M:
                if time.monotonic() > deadline:
                    states = await asyncio.to_thread(queue_states, "/", rabbit.node)
                    raise AssertionError(
                        f"{n} of {M} invoices applied by {service}; (ready, unacknowledged,"
                        f" consumers) by queue: {states}; logs in {system.log_dir}"
                    )
                await asyncio.sleep(0.2)
            took[service] = time.monotonic() - started

        numbers = await db.fetchval(
            "SELECT count(DISTINCT number) FROM billing.invoices WHERE number LIKE 'FV/RR/%'"
        )
        revisions = await db.fetchval(
            "SELECT count(*) FROM billing.invoices WHERE number LIKE 'FV/RR/%' AND revision <> 1"
        )
        ids = [m.message_id for m in invoices]
        in_inbox = await db.fetchval(
            "SELECT count(*) FROM billing.inbox WHERE message_id = ANY($1::uuid[])", ids
        )
        parked = await db.fetchval("SELECT count(*) FROM billing.parked_messages")
        in_readings = await db.fetchval(
            "SELECT count(*) FROM readings.settled_invoices s JOIN unnest($1::text[], $2::date[])"
            " AS i(number, period_to) ON s.invoice_number = i.number"
            " AND s.period_to = i.period_to AND NOT s.cancelled",
            [m.number for m in invoices],
            [m.period_to for m in invoices],
        )
        readings_inbox = await db.fetchval(
            "SELECT count(*) FROM readings.inbox WHERE message_id = ANY($1::uuid[])", ids
        )
        await take_billing_system_queue(infra.amqp_url)
        depths = await wait_drained(infra, timeout=60, node=rabbit.node)
        dead = await ready_count(infra, topology.DEAD_LETTER_QUEUE)
        repeats = {s: _applied_deliveries(system, s) - before[s] - M for s in before}
    finally:
        await db.close()

    print(
        f"{M} invoices; the node restarted at {at} applied by billing (stopping {stopping:.1f} s,"
        f" starting {starting:.1f} s, every service ready {ready_after:.1f} s after): all applied by billing in"
        f" {took['billing']:.1f} s, by readings in {took['readings']:.1f} s; billing: {numbers}"
        f" numbers, {in_inbox} message ids in the inbox, {parked} parked; readings: {in_readings}"
        f" settled as sent, {readings_inbox} in the inbox; deliveries again (no-ops): {repeats};"
        f" {len(depths)} queues empty, dead letters {dead}"
    )
    assert numbers == M and revisions == 0 and in_inbox == M and parked == 0
    assert in_readings == M and readings_inbox == M
    assert topology.DEAD_LETTER_QUEUE in depths and dead == 0
    for service in SERVICE_ORDER:
        assert system.processes[service].poll() is None, f"{service} died"
    for service in ("billing", "readings"):
        assert log_lines(system, service, "batch_consumer.stalled") == []


async def test_broker_restarted_during_a_readings_burst_stores_and_emits_each_accepted_once(
    rabbit: OwnRabbit, restart_system: System, restart_infra: Infra, mail_sink: MailSink
) -> None:
    system, infra = restart_system, restart_infra
    customer, session = await meter_reader(
        infra, system.url("gateway"), mail_sink, "KR10001", METERS, "kr.restart"
    )
    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        burst = Burst()

        async def restart_after_a_third() -> tuple[float, float, float]:
            while burst.done < N / 3:
                await asyncio.sleep(0.05)
            return await restart_and_wait_ready(rabbit, system)

        started = time.monotonic()
        restarter = asyncio.create_task(restart_after_a_third())
        serials = [m.serial for m in customer.meters]
        await submit_readings(
            system.url("gateway"), session, serials, burst_days(DAYS), CLIENTS, burst
        )
        stopping, starting, ready_after = await restarter
        took = time.monotonic() - started
        await wait_outbox_drained(db, "readings")
        taken = await take_billing_system_queue(infra.amqp_url)
        once = await check_readings_once(db, customer.number, burst, taken)
        depths = await wait_drained(infra, timeout=30, node=rabbit.node)
        dead = await ready_count(infra, topology.DEAD_LETTER_QUEUE)
    finally:
        await db.close()

    print(
        f"{N} readings by {CLIENTS} clients in {took:.1f} s; the node restarted after a third"
        f" (stopping {stopping:.1f} s, starting {starting:.1f} s, every service ready"
        f" {ready_after:.1f} s after):"
        f" accepted {len(burst.accepted)}, failed {burst.failed} {dict(burst.failures)}, slowest"
        f" answer {burst.slowest:.2f} s; stored {once.stored}, emitted {once.emitted}"
        f" ({once.deliveries - once.emitted} relayed again, same message id); {len(depths)}"
        f" queues empty, dead letters {dead}"
    )
    assert len(burst.accepted) + burst.failed == N
    assert set(burst.failures) <= {"503", "504"}, burst.failures
    assert once.problems == []
    assert len(burst.accepted) > N / 2, "the burst did not go on after the restart"
    assert dead == 0
    assert all(p.poll() is None for p in system.processes.values()), "a process died"
