"""PostgreSQL SIGKILLed under a readings burst, then started again (crash recovery).

The services run on a PostgreSQL cluster of the test's own (tests/support/own_servers.py:
``initdb`` on a free port, its own data directory) and a fresh vhost of the suite's RabbitMQ.
12 customer clients send 1,800 readings (60 meters over 30 days) through the gateway; after a
third the postmaster is SIGKILLed, as the kernel's OOM killer would (its backends see it die
and end), and after ``DOWN_SECONDS`` it is started again on the same data directory, so
PostgreSQL replays its WAL. Expected: every reading the gateway accepted (201) stored once as
answered and emitted once to the billing system's queue; every failed request answered 503 or
504, none later than the RPC timeout allows; every service ready again without a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import pytest

from contracts import topology
from tests.faults.test_broker_cut_during_import import log_lines
from tests.support.infra import Infra, create_database, unique, vhost
from tests.support.mail import MailSink
from tests.support.own_servers import OwnPostgres, own_postgres, running_system
from tests.support.queues import ready_count, wait_drained
from tests.support.readings_burst import (
    Burst,
    burst_days,
    check_readings_once,
    meter_reader,
    submit_readings,
    take_billing_system_queue,
    wait_outbox_drained,
)
from tools.system import SERVICE_ORDER, System

pytestmark = pytest.mark.faults

METERS = 60
DAYS = 30
CLIENTS = 12
N = METERS * DAYS
DOWN_SECONDS = 3.0
RPC_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    with own_postgres() as pg:
        yield pg


@pytest.fixture(scope="module")
def killed_infra(infra: Infra, cluster: OwnPostgres) -> Iterator[Infra]:
    """A database on the own cluster, a fresh vhost on the suite's RabbitMQ."""
    asyncio.run(create_database(cluster.base_dsn, "ibok_faults"))
    with vhost(unique("ibok-pg-killed")) as name:
        yield Infra(cluster.base_dsn, infra.amqp_base, "ibok_faults", name)


@pytest.fixture(scope="module")
def killed_system(
    killed_infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    from tests.conftest import system_env

    env = system_env(
        killed_infra,
        mail_sink,
        IBOK_RPC_TIMEOUT=str(RPC_TIMEOUT),
        IBOK_SESSION_CACHE_SECONDS="5",
    )
    with running_system(env, tmp_path_factory.mktemp("pg-killed-logs")) as system:
        yield system


async def test_postgres_killed_during_readings_every_accepted_reading_is_stored_and_emitted_once(
    cluster: OwnPostgres, killed_system: System, killed_infra: Infra, mail_sink: MailSink
) -> None:
    system, infra = killed_system, killed_infra
    customer, session = await meter_reader(
        infra, system.url("gateway"), mail_sink, "KP00001", METERS, "kp.killed"
    )
    burst = Burst()

    async def kill_after_a_third() -> tuple[int, float, float, float]:
        while burst.done < N / 3:
            await asyncio.sleep(0.05)
        backends, gone = await asyncio.to_thread(cluster.kill)
        await asyncio.sleep(DOWN_SECONDS)
        recovering = await asyncio.to_thread(cluster.start)
        back = time.monotonic()
        await asyncio.to_thread(system.wait_ready, SERVICE_ORDER, 60)
        return backends, gone, recovering, time.monotonic() - back

    started = time.monotonic()
    killer = asyncio.create_task(kill_after_a_third())
    serials = [m.serial for m in customer.meters]
    await submit_readings(system.url("gateway"), session, serials, burst_days(DAYS), CLIENTS, burst)
    backends, gone, recovering, ready_after = await killer
    took = time.monotonic() - started
    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        await wait_outbox_drained(db, "readings")
        taken = await take_billing_system_queue(infra.amqp_url)
        once = await check_readings_once(db, customer.number, burst, taken)
    finally:
        await db.close()
    depths = await wait_drained(infra, timeout=30)
    dead = await ready_count(infra, topology.DEAD_LETTER_QUEUE)

    print(
        f"{N} readings by {CLIENTS} clients in {took:.1f} s; the postmaster SIGKILLed after a"
        f" third ({backends} backends, all gone in {gone:.2f} s), started again {DOWN_SECONDS:.0f} s"
        f" later (crash recovery until it took connections: {recovering:.1f} s), every service"
        f" ready {ready_after:.1f} s after: accepted {len(burst.accepted)}, failed {burst.failed}"
        f" {dict(burst.failures)}, slowest answer {burst.slowest:.2f} s (RPC timeout"
        f" {RPC_TIMEOUT:.0f} s); stored {once.stored}, emitted {once.emitted}"
        f" ({once.deliveries - once.emitted} relayed again, same message id); {len(depths)} queues"
        f" empty, dead letters {dead}"
    )
    assert len(burst.accepted) + burst.failed == N
    errors = [
        line[:600] for s in SERVICE_ORDER for line in log_lines(system, s, '"level": "error"')
    ]
    assert set(burst.failures) <= {"503", "504"}, (burst.failures, errors[:5])
    assert burst.failed > 0, "the kill was not felt"
    assert once.problems == []
    # The gateway answers within its RPC timeout; the margin is the HTTP round trip on a
    # loaded machine. A hung request would end in the client's 30 s timeout instead.
    assert burst.slowest < 2 * RPC_TIMEOUT
    assert dead == 0
    assert all(p.poll() is None for p in system.processes.values()), "a process died"
