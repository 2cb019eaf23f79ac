"""A bulk billing import while billing's RabbitMQ connection is cut twice through a TCP proxy.

M = 20,000 invoices, not the issue's 100,000: on this loaded 2-core machine billing applies
about 30,000 in 90 s, but readings (which also reads invoices from ``billing.in``, for what is
settled) needs as long again to drain its queue, and the test must stay near 90 s. The billing system's side publishes straight to the broker, so every
message is on the broker before or while billing loses it; only billing's connection is cut.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from contracts import topology
from tests.support.billing import invoice
from tests.support.infra import Infra, free_port
from tests.support.mail import MailSink
from tests.support.queues import ready_count, wait_drained
from tests.support.readings import TODAY, add_customer, extra_customer
from tests.support.tcp_proxy import TcpProxy
from tools.billing_sim.cli import publish
from tools.system import SERVICE_ORDER, System

pytestmark = pytest.mark.faults

CUSTOMERS = 10
M = 20_000
CUTS = 2
CUT_SECONDS = 3.0


def _via(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}"))


@pytest.fixture(scope="module")
def billing_behind_proxy(
    own_infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[System, TcpProxy]]:
    """The five services on their own database and vhost; billing reaches RabbitMQ through a proxy."""
    from tests.conftest import system_env

    amqp = urlsplit(own_infra.amqp_url)
    proxy = TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672, free_port()).start()
    env = system_env(own_infra, mail_sink, IBOK_LOG_LEVEL="WARNING")
    log_dir = tmp_path_factory.mktemp("broker-cut-logs")
    others = System(env, log_dir=log_dir)
    billing = System({**env, "IBOK_AMQP_URL": _via(own_infra.amqp_url, proxy)}, log_dir=log_dir)
    try:
        billing.start("billing")
        for service in SERVICE_ORDER[1:]:
            others.start(service)
        billing.wait_ready(("billing",), timeout=60)
        others.wait_ready(SERVICE_ORDER[1:], timeout=60)
        yield billing, proxy
    finally:
        others.stop_all()
        billing.stop_all()
        proxy.stop()


async def test_billing_import_with_broker_cut_twice_applies_every_invoice_exactly_once(
    billing_behind_proxy: tuple[System, TcpProxy], own_infra: Infra
) -> None:
    billing, proxy = billing_behind_proxy
    customers = [
        extra_customer(f"KB{i:05d}", contract_start=TODAY - timedelta(days=800))
        for i in range(CUSTOMERS)
    ]
    db = await asyncpg.connect(own_infra.postgres_dsn)
    try:
        for customer in customers:
            await add_customer(own_infra, db, customer)
        invoices = [
            invoice(
                c.number,
                c.contracts[0].contract_number,
                f"FV/BC/{i:06d}",
                issued_on=TODAY - timedelta(days=3 + i % 400),
            )
            for i in range(M)
            for c in [customers[i % CUSTOMERS]]
        ]

        async def applied() -> int:
            return int(
                await db.fetchval(
                    "SELECT count(*) FROM billing.invoices WHERE number LIKE 'FV/BC/%'"
                )
            )

        async def cut_twice() -> list[int]:
            at = []
            for share in (0.25, 0.6)[:CUTS]:
                while (n := await applied()) < M * share:
                    await asyncio.sleep(0.1)
                at.append(n)
                proxy.cut()
                await asyncio.sleep(CUT_SECONDS)
                proxy.restore()
            return at

        started = time.monotonic()
        published, cut_at = await asyncio.gather(
            publish(own_infra.amqp_url, list(invoices)), asyncio.wait_for(cut_twice(), 120)
        )
        deadline = time.monotonic() + 90
        while (n := await applied()) < M:
            assert time.monotonic() < deadline, f"{n} of {M} invoices applied"
            await asyncio.sleep(0.2)
        took = time.monotonic() - started

        numbers = await db.fetchval(
            "SELECT count(DISTINCT number) FROM billing.invoices WHERE number LIKE 'FV/BC/%'"
        )
        in_inbox = await db.fetchval(
            "SELECT count(*) FROM billing.inbox WHERE message_id = ANY($1::uuid[])",
            [m.message_id for m in invoices],
        )
        parked = await db.fetchval("SELECT count(*) FROM billing.parked_messages")
        depths = await wait_drained(own_infra, timeout=90)
        drained = time.monotonic() - started
        dead = await ready_count(own_infra, topology.DEAD_LETTER_QUEUE)
        billing_in = await ready_count(own_infra, topology.billing_in_queue("billing"))
    finally:
        await db.close()

    print(
        f"{published} invoices published, billing's broker connection cut {len(cut_at)} times"
        f" for {CUT_SECONDS:.0f} s (at {cut_at} applied): {M} applied in {took:.1f} s,"
        f" {numbers} distinct numbers, {in_inbox} message ids in the inbox, {parked} parked;"
        f" all {len(depths)} queues empty after {drained:.1f} s, dead letters {dead}"
    )
    assert len(cut_at) == CUTS
    assert numbers == M
    assert in_inbox == M
    assert parked == 0
    assert topology.DEAD_LETTER_QUEUE in depths
    assert dead == 0 and billing_in == 0
    assert billing.processes["billing"].poll() is None, "billing died"
