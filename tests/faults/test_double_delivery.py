"""Every inbound message of a simulator data set delivered twice: the state equals one delivery.

The simulator's data set of 120 customers (4,731 messages, two years of history each): its
whole message list (customers, contracts, meters, invoices, corrections,
cancellations, payments, control readings, the sync) is built once and published twice, with
the same message ids, as a billing system that resends after a lost confirm would. Between
the deliveries and after the second, every table of every service schema is snapshotted
without its timestamp columns (when a row was written or received legitimately differs; what
it says must not), outboxes included, so a second event emitted for a repeated message counts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from tests.support.infra import Infra
from tests.support.mail import MailSink
from tests.support.queues import ready_count, wait_drained
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import build_dataset
from tools.system import System

pytestmark = pytest.mark.faults

SCHEMAS = ("billing", "readings", "notify", "auth")


@pytest.fixture(scope="module")
def own_system(
    own_infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    from tests.conftest import system_env

    system = System(
        system_env(own_infra, mail_sink, IBOK_LOG_LEVEL="WARNING"),
        log_dir=tmp_path_factory.mktemp("double-logs"),
    )
    system.start_all()
    try:
        system.wait_ready(timeout=60)
        yield system
    finally:
        system.stop_all()


async def snapshot(db: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table in the service schemas, timestamp columns left out, sorted."""
    columns = await db.fetch(
        """
        SELECT c.table_schema, c.table_name, c.column_name
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = ANY($1::text[]) AND t.table_type = 'BASE TABLE'
          AND c.data_type NOT IN ('timestamp with time zone', 'timestamp without time zone')
          AND c.table_name <> 'schema_migrations'
        ORDER BY c.table_schema, c.table_name, c.ordinal_position
        """,
        list(SCHEMAS),
    )
    tables: dict[str, list[str]] = {}
    for row in columns:
        tables.setdefault(f'"{row["table_schema"]}"."{row["table_name"]}"', []).append(
            f'"{row["column_name"]}"::text'
        )
    state = {}
    for table, cols in tables.items():
        rows = await db.fetch(f"SELECT {', '.join(cols)} FROM {table}")
        state[table] = sorted((tuple(r.values()) for r in rows), key=repr)
    return state


async def unpublished(db: asyncpg.Connection) -> int:
    total = 0
    for schema in SCHEMAS:
        total += await db.fetchval(
            f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"
        )
    return total


async def wait_settled(db: asyncpg.Connection, infra: Infra, timeout: float = 90) -> None:
    """Every outbox relayed, then every queue empty (nothing ready or being handled), and still
    nothing new in any outbox: what the consumers did last produced no further event."""
    deadline = time.monotonic() + timeout
    while True:
        if not await unpublished(db):
            await wait_drained(infra, timeout=max(deadline - time.monotonic(), 1))
            if not await unpublished(db):
                return
        assert time.monotonic() < deadline, "outbox rows not relayed"
        await asyncio.sleep(0.3)


async def test_every_inbound_message_delivered_twice_leaves_the_state_of_one_delivery(
    own_system: System, own_infra: Infra
) -> None:
    dataset = build_dataset(120, seed=11)
    messages = list(dataset.messages(digest_iterations=2_000))
    db = await asyncpg.connect(own_infra.postgres_dsn)
    try:
        started = time.monotonic()
        await publish(own_infra.amqp_url, messages)
        deadline = time.monotonic() + 90
        while not await db.fetchval("SELECT count(*) FROM billing.sync_state"):
            assert time.monotonic() < deadline, "billing did not finish the sync"
            await asyncio.sleep(0.2)
        await wait_settled(db, own_infra)
        first_took = time.monotonic() - started
        once = await snapshot(db)

        started = time.monotonic()
        await publish(own_infra.amqp_url, messages)
        await wait_settled(db, own_infra)
        second_took = time.monotonic() - started
        twice = await snapshot(db)
        dead = await ready_count(own_infra, "ibok.dead-letters")
    finally:
        await db.close()

    kinds: dict[str, int] = {}
    for m in messages:
        kinds[m.SCHEMA] = kinds.get(m.SCHEMA, 0) + 1
    rows = sum(len(r) for r in once.values())
    print(
        f"{len(messages)} messages {kinds} delivered twice: first delivery settled in"
        f" {first_took:.1f} s, second in {second_took:.1f} s; {len(once)} tables, {rows} rows"
        f" compared; dead letters {dead}"
    )
    assert rows > len(messages), "the snapshot missed the data"
    assert once.keys() == twice.keys()
    changed = {t: (len(once[t]), len(twice[t])) for t in once if once[t] != twice[t]}
    assert not changed, (
        f"tables that changed on the second delivery (rows before, after): {changed}"
    )
    assert dead == 0
