"""Readings submitted through the gateway while the readings service is SIGKILLed twice.

N = 10,000 readings, as the issue asks: 250 meters of one customer, 40 days each (one reading
per meter and day, values rising), sent by 20 concurrent clients, each owning 12 or 13 meters
and walking their days in order, so no two requests ever touch the same meter and day (a
second one would replace the first, R8). Each outage lasts longer than the gateway's RPC
timeout (5 s here), so some requests are answered 504: any of them the restarted service still
applied must be stored and emitted once too.

The clients are keep-alive connections of tests/support/load.py (httpx spent more CPU per
request than the gateway did on this 2-core machine), the gateway keeps sessions for 5 s as
deployed (this test does not move the session clock), and the tap on ``ibok.out`` takes its
10,000 messages as they are pushed. On the shared 2-core machine the 10,000 took 65 s and the
whole test 78 s at load average 3 from other work, 107 s and 124 s at load average 4.5; the
submissions are bound by the system's CPU per reading (bench/readings_bench.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from contracts import topology
from contracts.billing_system import ReadingSubmitted
from tests.support.customers import logged_in_client
from tests.support.infra import Infra
from tests.support.load import ConnectionLost, KeepAliveClient
from tests.support.mail import MailSink
from tests.support.readings import TODAY, add_customer, extra_customer, meter_for, tap
from tools.system import System

pytestmark = pytest.mark.faults

METERS = 250
DAYS = 40
CLIENTS = 20
N = METERS * DAYS


@pytest.fixture(scope="module")
def own_system(
    own_infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    from tests.conftest import system_env

    system = System(
        system_env(
            own_infra,
            mail_sink,
            IBOK_RPC_TIMEOUT="5",
            IBOK_LOG_LEVEL="WARNING",
            IBOK_SESSION_CACHE_SECONDS="5",
        ),
        log_dir=tmp_path_factory.mktemp("killed-logs"),
    )
    system.start_all()
    try:
        system.wait_ready(timeout=60)
        yield system
    finally:
        system.stop_all()


async def test_readings_killed_twice_every_accepted_reading_is_stored_and_emitted_once(
    own_system: System, own_infra: Infra, mail_sink: MailSink
) -> None:
    system = own_system
    customer = extra_customer("KF00001", contract_start=TODAY - timedelta(days=400))
    customer.meters.extend(meter_for(customer, f"KF{i:06d}") for i in range(METERS))
    db = await asyncpg.connect(own_infra.postgres_dsn)
    try:
        await add_customer(own_infra, db, customer)
        login = await logged_in_client(system.url("gateway"), mail_sink, customer, "kf.killed")
        session = {
            "Cookie": f"ibok_session={login.cookies['ibok_session']}",
            "X-CSRF-Token": login.cookies["ibok_csrf"],
        }
        await login.aclose()
        serials = [m.serial for m in customer.meters]
        days = [TODAY - timedelta(days=DAYS - 1 - d) for d in range(DAYS)]
        accepted: dict[tuple[str, str], tuple[str, int]] = {}
        failures: Counter[str] = Counter()
        done = 0

        async def submit_all(mine: list[str]) -> None:
            nonlocal done
            client = KeepAliveClient(system.url("gateway"), session, timeout=30)
            for d, day in enumerate(days):
                for s, serial in enumerate(mine):
                    value = Decimal(100 + s) + Decimal("0.5") * d
                    try:
                        answer = await client.post_json(
                            "/api/v1/readings",
                            {"serial": serial, "value": str(value), "read_on": str(day)},
                        )
                        if answer.is_success:
                            reading = answer.json()["reading"]
                            accepted[(serial, str(day))] = (
                                reading["reading_id"],
                                reading["revision"],
                            )
                        else:
                            failures[str(answer.status)] += 1
                    except (OSError, TimeoutError, ConnectionLost) as error:
                        failures[type(error).__name__] += 1
                    done += 1
            await client.close()

        async def kill_twice() -> list[float]:
            outages = []
            for share in (1 / 3, 2 / 3):
                while done < N * share:
                    await asyncio.sleep(0.05)
                started = time.monotonic()
                await asyncio.to_thread(system.kill, "readings")
                await asyncio.sleep(4)
                system.start("readings")
                await asyncio.to_thread(system.wait_ready, ("readings",), 60)
                outages.append(time.monotonic() - started)
            return outages

        async with tap(own_infra, topology.IBOK_OUT_EXCHANGE, ReadingSubmitted.SCHEMA) as out:
            await out.follow()
            started = time.monotonic()
            killer = asyncio.create_task(kill_twice())
            await asyncio.gather(*(submit_all(serials[i::CLIENTS]) for i in range(CLIENTS)))
            outages = await killer
            took = time.monotonic() - started

            # Everything that was stored reaches the outbox's relay: wait until it is drained.
            deadline = time.monotonic() + 60
            while await db.fetchval(
                "SELECT count(*) FROM readings.outbox WHERE published_at IS NULL"
            ):
                assert time.monotonic() < deadline, "the readings outbox did not drain"
                await asyncio.sleep(0.2)
            rows = await db.fetch(
                "SELECT id::text AS id, revision, serial, read_on::text AS read_on"
                " FROM readings.readings WHERE source = 'customer' AND customer_number = $1",
                customer.number,
            )
            stored = {(r["serial"], r["read_on"]): (r["id"], r["revision"]) for r in rows}
            deadline = time.monotonic() + 30
            while len(await out.collect()) < len(rows) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)  # a duplicate would arrive right behind
            deliveries = [m for m in await out.collect() if m["customer_number"] == customer.number]
            # Per reading and revision, the distinct messages sent (a message relayed again
            # keeps its message_id: the billing system takes it once).
            messages: dict[tuple[str, int], set[str]] = {}
            for m in deliveries:
                messages.setdefault((m["reading_id"], m["revision"]), set()).add(m["message_id"])
            emitted = Counter({key: len(ids) for key, ids in messages.items()})
    finally:
        await db.close()

    failed = sum(failures.values())
    print(
        f"{N} readings in {took:.1f} s, readings SIGKILLed twice (down {outages[0]:.1f} s and"
        f" {outages[1]:.1f} s until ready): accepted {len(accepted)}, failed {failed}"
        f" {dict(failures)}, stored {len(rows)}, emitted {sum(emitted.values())} messages"
        f" ({len(deliveries) - sum(emitted.values())} of them relayed twice, same message_id)"
    )
    assert len(accepted) + failed == N
    assert set(failures) <= {"503", "504"}, failures
    # One row per meter and day, and every accepted reading is one of them, as answered.
    assert len(stored) == len(rows)
    for key, reading in accepted.items():
        assert stored.get(key) == reading, key
    # A stored reading nobody was told about can only be one answered 504 (it was applied late).
    assert len(rows) - len(accepted) <= failures["504"]
    # Every stored reading emitted once, as one message, nothing else emitted. The outbox is
    # at least once: a relay killed between the broker's confirm and marking the row sends the
    # row again after the restart, with the same message_id.
    assert set(emitted) == set(stored.values())
    assert all(count == 1 for count in emitted.values()), emitted.most_common(3)
    # At most one relay batch (200 rows) in flight per kill can be sent again.
    assert len(deliveries) - len(rows) <= 2 * 200, "more sent again than two kills explain"
    assert all(p.poll() is None for p in system.processes.values()), "a process died"
