"""The outbox relay against the real broker: a row no queue takes stays unpublished and counted, a
row for an exchange that does not exist is parked after its tries while the others are published
exactly once, and the operator lists and releases parked rows and unrouted messages."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from contracts import topology
from runtime import db
from runtime.outbox import OutboxRelay, enqueue, outbox_census
from tests.support.cli import ibok
from tests.support.infra import Infra
from tests.support.probes import Probe, declare_probe_queue
from tools import ops

SCHEMA = "notify"  # a service's schema in the module's own database, with the runtime's tables
PROBES = "ibok.test.relay"


@pytest.fixture
async def outbox(own_infra: Infra, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    """A service schema with only the runtime's migrations (outbox, inbox), emptied per test,
    and the topology plus a probe queue declared on the module's own vhost."""
    await db.migrate(own_infra.postgres_dsn, SCHEMA, tmp_path)
    await declare_probe_queue(own_infra.amqp_url, PROBES)
    pool = await db.create_pool(own_infra.postgres_dsn, SCHEMA, max_size=2)
    await pool.execute("TRUNCATE outbox")
    try:
        yield pool
    finally:
        await pool.close()


def relay_of(pool: asyncpg.Pool, infra: Infra, registry: CollectorRegistry) -> OutboxRelay:
    # Tried again at once (no backoff), parked at the third failure: the test needs no clock.
    return OutboxRelay(
        pool,
        infra.amqp_url,
        max_attempts=3,
        first_backoff=0.0,
        registry=registry,
        known_exchanges=[e.name for e in topology.TOPOLOGY.exchanges],
    )


async def drain(queue_name: str, infra: Infra) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message in ``queue_name``, taken off it."""
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        taken = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            taken.append(message)
        return taken


async def test_a_returned_publish_leaves_its_row_unpublished_and_counted(
    outbox: asyncpg.Pool, own_infra: Infra
) -> None:
    """An exchange without an alternate exchange and no binding for the key: the broker returns
    the mandatory publish (with a confirm all the same) and the row must stay."""
    connection = await aio_pika.connect(own_infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        bare = await channel.declare_exchange("test.no-alternate", "topic", auto_delete=True)
        registry = CollectorRegistry()
        relay = relay_of(outbox, own_infra, registry)
        await relay.connect()
        try:
            async with outbox.acquire() as conn:
                await enqueue(conn, bare.name, Probe.SCHEMA, Probe(n=1))
            assert await relay.publish_pending() == 1
            row = await outbox.fetchrow("SELECT * FROM outbox")
            assert row["published_at"] is None
            assert row["parked_at"] is None
            assert row["attempts"] == 1
            assert row["last_error"].startswith("returned: no queue took it")
            assert registry.get_sample_value("ibok_outbox_failed_total", {"cause": "returned"}) == 1
            assert registry.get_sample_value("ibok_outbox_published_total") == 0
            # Tried again (no backoff here): returned again, and parked at the third failure.
            await relay.publish_pending()
            await relay.publish_pending()
            row = await outbox.fetchrow("SELECT * FROM outbox")
            assert (row["attempts"], row["published_at"]) == (3, None)
            assert row["parked_at"] is not None
            assert (await outbox_census(outbox)).parked == 1
        finally:
            await relay.stop()
        await bare.delete()


async def test_an_unroutable_event_goes_to_ibok_unrouted_and_the_operator_replays_it(
    outbox: asyncpg.Pool, own_infra: Infra
) -> None:
    """With the alternate exchange in place the broker routes what no binding takes to
    ``ibok.unrouted`` (no return): the row is published, the message is kept and counted, and
    ``ibok unrouted replay`` sends it on once a queue is bound for it."""
    registry = CollectorRegistry()
    relay = relay_of(outbox, own_infra, registry)
    await relay.connect()
    lost = Probe(n=42)
    try:
        async with outbox.acquire() as conn:
            await enqueue(conn, topology.EVENTS_EXCHANGE, "nobody.listens.v1", lost)
        assert await relay.publish_pending() == 1
        assert await outbox.fetchval("SELECT published_at IS NOT NULL FROM outbox")
        await relay.take_census()
        assert relay.unrouted == 1
        assert registry.get_sample_value("ibok_unrouted_messages") == 1
    finally:
        await relay.stop()
    listed = ibok(own_infra, "unrouted", "list").stdout.splitlines()
    assert [json.loads(line)["message_id"] for line in listed] == [str(lost.message_id)]
    assert json.loads(listed[0])["from"] == f"{topology.EVENTS_EXCHANGE} / nobody.listens.v1"
    connection = await aio_pika.connect(own_infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        watch = await channel.declare_queue(exclusive=True)
        await watch.bind(topology.EVENTS_EXCHANGE, routing_key="nobody.listens.v1")
        ibok(own_infra, "unrouted", "replay")
        replayed = await watch.get(no_ack=True, timeout=10)
        assert replayed.message_id == str(lost.message_id)
        assert json.loads(replayed.body)["n"] == 42
    assert ibok(own_infra, "unrouted", "list").stdout == ""


async def test_a_row_for_a_missing_exchange_is_parked_while_the_others_are_published_once(
    outbox: asyncpg.Pool, own_infra: Infra
) -> None:
    """Before, such a row closed the channel and rolled back its whole batch on every poll (the
    other rows published again and again). Now it fails alone, is parked with its reason after
    its tries, and each other row reaches the bound queue exactly once."""
    registry = CollectorRegistry()
    relay = relay_of(outbox, own_infra, registry)
    await relay.connect()
    good = [Probe(n=n) for n in range(40)]
    bad = Probe(n=-1)
    try:
        async with outbox.acquire() as conn:
            for probe in good[:20]:
                await enqueue(conn, topology.EVENTS_EXCHANGE, Probe.SCHEMA, probe)
            await enqueue(conn, "ibok.no-such-exchange", Probe.SCHEMA, bad)
            for probe in good[20:]:
                await enqueue(conn, topology.EVENTS_EXCHANGE, Probe.SCHEMA, probe)
        rounds = 0
        while await outbox.fetchval(
            "SELECT parked_at IS NULL FROM outbox WHERE message_id = $1", bad.message_id
        ):
            rounds += 1
            assert rounds <= 5, "the bad row was never parked"
            await relay.publish_pending()
        row = await outbox.fetchrow("SELECT * FROM outbox WHERE message_id = $1", bad.message_id)
        assert row["attempts"] == 3 and row["published_at"] is None
        assert (
            row["last_error"] == "missing_exchange: exchange 'ibok.no-such-exchange' does not exist"
        )
        assert (
            await outbox.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
            == 40
        )
        assert registry.get_sample_value("ibok_outbox_parked_total") == 1
        assert registry.get_sample_value("ibok_outbox_published_total") == 40
        # Parked rows are left alone: another round publishes nothing.
        assert await relay.publish_pending() == 0
    finally:
        await relay.stop()
    delivered = Counter(m.message_id for m in await drain(PROBES, own_infra))
    assert delivered == Counter({str(p.message_id): 1 for p in good})

    env = {"IBOK_POSTGRES_DSN": own_infra.postgres_dsn}
    parked = [
        json.loads(line) for line in ibok(own_infra, "outbox", "list", **env).stdout.splitlines()
    ]
    assert [(p["service"], p["message_id"], p["attempts"]) for p in parked] == [
        (SCHEMA, str(bad.message_id), "3")
    ]
    assert "missing_exchange" in parked[0]["last_error"]
    assert await ops.release_rows(own_infra.postgres_dsn, SCHEMA, [int(parked[0]["id"])]) == 1
    row = await outbox.fetchrow("SELECT * FROM outbox WHERE message_id = $1", bad.message_id)
    assert (row["parked_at"], row["attempts"], row["next_attempt_at"]) == (None, 0, None)
