"""A broker connection that goes silent without closing, and one that is slow.

The five services reach RabbitMQ through a TCP proxy (tests/support/tcp_proxy.py) with an AMQP
heartbeat of ``HEARTBEAT`` seconds (the URL's ``?heartbeat=``, which aio-pika and aiormq take);
the billing system's publisher reaches it directly.

1. Half-open: the proxy stops forwarding in both directions and closes nothing, as a network
   that drops the packets does; no error reaches anyone, only silence. Half of 3,000 invoices
   are published before, half during the silence. Expected: each service notices by the
   missing heartbeats (aiormq gives up on a connection after ``(heartbeat + 1) * 3`` seconds
   without a frame) and answers ``/health/ready`` 503; once the proxy forwards again each
   reconnects and is ready; every invoice is applied once by billing and settled once by
   readings, the dead-letter queue empty.
2. Latency: 50 ms added each way. RPC through the gateway still answers (slower by a few round
   trips), and 1,000 invoices published meanwhile are all applied once.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from contracts import topology
from contracts.billing_system import ContractUpserted, CustomerUpserted
from tests.faults.test_outages import _via, ready_status
from tests.support.bulk import copied_invoices
from tests.support.infra import Infra, free_port
from tests.support.mail import MailSink
from tests.support.own_servers import running_system, wait_until
from tests.support.queues import ready_count, wait_drained
from tests.support.readings import TODAY, extra_customer
from tests.support.tcp_proxy import TcpProxy
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import Dataset
from tools.system import SERVICE_ORDER, System

pytestmark = pytest.mark.faults

HEARTBEAT = 2
CUSTOMERS = 5
LATENCY = 0.05


@pytest.fixture(scope="module")
def silent_broker(
    own_infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[System, TcpProxy]]:
    from tests.conftest import system_env

    amqp = urlsplit(own_infra.amqp_url)
    proxy = TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672, free_port()).start()
    env = system_env(
        own_infra,
        mail_sink,
        IBOK_AMQP_URL=f"{_via(own_infra.amqp_url, proxy)}?heartbeat={HEARTBEAT}",
    )
    try:
        with running_system(env, tmp_path_factory.mktemp("half-open-logs")) as system:
            yield system, proxy
    finally:
        proxy.stop()


async def _customers(infra: Infra, db: asyncpg.Connection, prefix: str) -> list[tuple[str, str]]:
    """CUSTOMERS customers and contracts published and taken in by billing and readings."""
    sim = [
        extra_customer(f"{prefix}{i:05d}", contract_start=TODAY - timedelta(days=800))
        for i in range(CUSTOMERS)
    ]
    await publish(
        infra.amqp_url,
        [
            m
            for m in Dataset(sim, as_of=datetime.now(UTC)).messages(digest_iterations=1_000)
            if isinstance(m, CustomerUpserted | ContractUpserted)
        ],
    )
    numbers = [c.contracts[0].contract_number for c in sim]
    for schema in ("billing", "readings"):
        for _ in range(300):
            if await db.fetchval(
                f"SELECT count(*) FROM {schema}.contracts WHERE contract_number = ANY($1)", numbers
            ) == len(numbers):
                break
            await asyncio.sleep(0.1)
    return [(c.number, c.contracts[0].contract_number) for c in sim]


async def _applied_once(db: asyncpg.Connection, prefix: str, count: int) -> tuple[int, int]:
    """Wait until billing and readings have every invoice ``prefix/...``; (billing rows,
    readings settled)."""
    deadline = time.monotonic() + 60
    while True:
        billing = await db.fetchval(
            "SELECT count(DISTINCT number) FROM billing.invoices WHERE number LIKE $1",
            f"{prefix}/%",
        )
        settled = await db.fetchval(
            "SELECT count(*) FROM readings.settled_invoices WHERE invoice_number LIKE $1",
            f"{prefix}/%",
        )
        if (billing, settled) == (count, count) or time.monotonic() > deadline:
            return billing, settled
        await asyncio.sleep(0.2)


async def test_half_open_broker_connection_is_noticed_and_recovered_nothing_lost(
    silent_broker: tuple[System, TcpProxy], own_infra: Infra
) -> None:
    system, proxy = silent_broker
    infra = own_infra
    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        invoices = copied_invoices(await _customers(infra, db, "KH"), 3_000, "FV/HO")
        await publish(infra.amqp_url, invoices[:1_500])
        proxy.stall()
        stalled = time.monotonic()
        await publish(infra.amqp_url, invoices[1_500:])
        # Every service in turn: the time from the silence to its first 503.
        noticed = {}
        for service in SERVICE_ORDER:
            await asyncio.to_thread(
                wait_until, lambda s=service: ready_status(system, s) == 503, 60, "503"
            )
            noticed[service] = time.monotonic() - stalled
        proxy.resume()
        resumed = time.monotonic()
        await asyncio.to_thread(system.wait_ready, SERVICE_ORDER, 60)
        recovered = time.monotonic() - resumed
        billing, settled = await _applied_once(db, "FV/HO", len(invoices))
        in_inbox = await db.fetchval(
            "SELECT count(*) FROM billing.inbox WHERE message_id = ANY($1::uuid[])",
            [m.message_id for m in invoices],
        )
        rows = await db.fetchval(
            "SELECT count(*) FROM billing.invoices WHERE number LIKE 'FV/HO/%'"
        )
    finally:
        await db.close()
    await wait_drained(infra, timeout=60)
    dead = await ready_count(infra, topology.DEAD_LETTER_QUEUE)

    print(
        f"heartbeat {HEARTBEAT} s; the proxy silent: /health/ready 503 after"
        f" {', '.join(f'{s} {t:.1f} s' for s, t in noticed.items())}; forwarding again:"
        f" every service ready {recovered:.1f} s later; {len(invoices)} invoices (half published"
        f" during the silence): billing {billing} numbers in {rows} rows, {in_inbox} message ids"
        f" in its inbox, readings settled {settled}; dead letters {dead}"
    )
    assert billing == rows == in_inbox == settled == len(invoices)
    assert dead == 0
    assert all(p.poll() is None for p in system.processes.values()), "a process died"


async def test_added_latency_rpc_answers_and_nothing_is_lost(
    silent_broker: tuple[System, TcpProxy], own_infra: Infra
) -> None:
    system, proxy = silent_broker
    infra = own_infra

    async def rpc_times(client: httpx.AsyncClient) -> list[float]:
        times = []
        for _ in range(20):
            started = time.monotonic()
            answer = await client.get("/api/v1/auth/captcha")
            assert answer.status_code == 200, answer.text
            times.append(time.monotonic() - started)
        return times

    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        async with httpx.AsyncClient(base_url=system.url("gateway"), timeout=30) as client:
            before = await rpc_times(client)
            customers = await _customers(infra, db, "KL")
            proxy.latency = LATENCY
            try:
                invoices = copied_invoices(customers, 1_000, "FV/LT")
                published = asyncio.create_task(publish(infra.amqp_url, invoices))
                slow = await rpc_times(client)
                await published
                billing, settled = await _applied_once(db, "FV/LT", len(invoices))
                in_inbox = await db.fetchval(
                    "SELECT count(*) FROM billing.inbox WHERE message_id = ANY($1::uuid[])",
                    [m.message_id for m in invoices],
                )
                ready = [ready_status(system, s) for s in SERVICE_ORDER]
            finally:
                proxy.latency = 0.0
    finally:
        await db.close()
    dead = await ready_count(infra, topology.DEAD_LETTER_QUEUE)

    print(
        f"{LATENCY * 1000:.0f} ms added each way: the captcha RPC through the gateway median"
        f" {statistics.median(before) * 1000:.0f} ms before, {statistics.median(slow) * 1000:.0f}"
        f" ms with it (slowest {max(slow) * 1000:.0f} ms); {len(invoices)} invoices: billing"
        f" {billing}, {in_inbox} in its inbox, readings settled {settled}; dead letters {dead}"
    )
    assert billing == in_inbox == settled == len(invoices)
    assert ready == [200] * len(SERVICE_ORDER)
    assert statistics.median(slow) > statistics.median(before), "the latency was not felt"
    assert dead == 0
