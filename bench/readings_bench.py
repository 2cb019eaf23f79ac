"""A burst of meter readings (`POST /api/v1/readings`) through the real gateway and readings
service, by many logged-in customers at once, with wrk; accepted readings per second at the
gateway and end to end, until the billing system's queue holds every accepted reading.

    .venv/bin/python -m bench.readings_bench [--customers 100] [--meters 5] [--history 12]
        [--seconds 10] [--connections 32] [--profile DIR] [--no-report]

Each meter has a year of history before the burst (``--history`` inspector readings, one a
month, as the billing system sends them), so each request is checked against real
neighbours and a recent daily average (R8). Every request is a valid new reading: request i of
the run goes to meter i mod M (M meters in all) and day i div M of the last 30 days, with a
value on the same steady line as the history (0.5 m³ a day: never flagged), so no two requests
name the same meter and day (a second one would replace the first, R8) and any order of
arrival is monotonic. A 2-second wrk run first warms up (the pools open, the statements are prepared); the
measured run goes on from where it stopped. Past M x 30 requests they become replacements
(answered 200, reported).
``--profile DIR`` records py-spy's collapsed stacks of the gateway and readings during the
measured run (DIR/gateway.txt, DIR/readings.txt).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aio_pika
import asyncpg

from bench.common import (
    CpuShares,
    profiling,
    report,
    running_system,
    sandbox,
    system_env,
    wrk,
)
from contracts import topology
from contracts.billing_system import SyncCompleted
from tests.support.customers import logged_in_client
from tests.support.infra import Infra, free_port
from tests.support.mail import MailSink
from tests.support.readings import TODAY, control_reading, extra_customer, meter_for
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import Dataset, SimCustomer

START = TODAY - timedelta(days=400)  # contracts start and meters are installed then
BURST_DAYS = 30  # the burst's readings are dated in the last 30 days, oldest first
THREADS = 2


def milli_m3(day: date) -> int:
    """The meters' steady line: 100 m³ at START, 0.5 m³ a day (in thousandths of m³)."""
    return 100_000 + 500 * (day - START).days


def customers_with_meters(count: int, meters: int) -> list[SimCustomer]:
    customers = []
    for c in range(count):
        customer = extra_customer(f"RB{c:06d}", contract_start=START)
        customer.meters.extend(
            meter_for(customer, f"RB{c:06d}M{m:02d}", installed_on=START) for m in range(meters)
        )
        customers.append(customer)
    return customers


async def publish_customers(infra: Infra, customers: list[SimCustomer], history: int) -> None:
    """As the billing system sends them, with ``history`` monthly inspector readings per meter
    before the burst's days; wait until billing and readings hold them all, then ANALYZE (the
    statistics a running system has)."""
    messages = [
        m
        for m in Dataset(customers, as_of=datetime.now(UTC)).messages(digest_iterations=2_000)
        if not isinstance(m, SyncCompleted)
    ]
    first_burst_day = TODAY - timedelta(days=BURST_DAYS - 1)
    days = [first_burst_day - timedelta(days=30 * k + 15) for k in range(history)]
    for customer in customers:
        for meter in customer.meters:
            messages.extend(
                control_reading(meter.serial, f"{milli_m3(day) / 1000:.3f}", day) for day in days
            )
    await publish(infra.amqp_url, messages)
    meters = sum(len(c.meters) for c in customers)
    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        deadline = time.monotonic() + 300
        while (
            await db.fetchval("SELECT count(*) FROM billing.contracts") < len(customers)
            or await db.fetchval("SELECT count(*) FROM readings.contracts") < len(customers)
            or await db.fetchval("SELECT count(*) FROM readings.meters") < meters
            or await db.fetchval("SELECT count(*) FROM readings.readings") < meters * history
        ):
            assert time.monotonic() < deadline, "the customers did not arrive"
            await asyncio.sleep(0.2)
        await db.execute("ANALYZE")
    finally:
        await db.close()


async def log_in_all(
    gateway: str, sink: MailSink, customers: list[SimCustomer]
) -> list[tuple[str, str]]:
    """Register and log in every customer (a few at a time): (session cookie, CSRF token)."""
    limit = asyncio.Semaphore(4)

    async def one(customer: SimCustomer) -> tuple[str, str]:
        async with limit:
            client = await logged_in_client(gateway, sink, customer, customer.number.lower())
            try:
                return client.cookies["ibok_session"], client.cookies["ibok_csrf"]
            finally:
                await client.aclose()

    return list(await asyncio.gather(*(one(c) for c in customers)))


def lua_script(customers: list[SimCustomer], sessions: list[tuple[str, str]], first: int) -> str:
    """wrk's request generator: request i (over all threads, counted from ``first``) is meter
    i mod M, day i div M."""
    first_day = TODAY - timedelta(days=BURST_DAYS - 1)
    session_rows = ",\n".join(
        f'  {{"ibok_session={cookie}", "{token}"}}' for cookie, token in sessions
    )
    meter_rows = ",\n".join(
        f'  {{"{m.serial}", {c + 1}}}'
        for c, customer in enumerate(customers)
        for m in customer.meters
    )
    day_rows = ",\n".join(
        f'  {{"{first_day + timedelta(days=d)}", {milli_m3(first_day + timedelta(days=d))}}}'
        for d in range(BURST_DAYS)
    )
    return f"""
local sessions = {{
{session_rows}
}}
local meters = {{
{meter_rows}
}}
local days = {{
{day_rows}
}}
local M = #meters
local threads = {{}}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  created, replaced, refused, failed = 0, 0, 0, 0
end

function request()
  local i = {first} + counter * {THREADS} + id
  counter = counter + 1
  local m = meters[(i % M) + 1]
  local d = days[math.min(math.floor(i / M), #days - 1) + 1]
  local body = string.format('{{"serial":"%s","value":"%d.%03d","read_on":"%s"}}',
    m[1], math.floor(d[2] / 1000), d[2] % 1000, d[1])
  local s = sessions[m[2]]
  return wrk.format("POST", "/api/v1/readings", {{
    ["Cookie"] = s[1], ["X-CSRF-Token"] = s[2], ["Content-Type"] = "application/json"
  }}, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status < 300 then replaced = replaced + 1
  elseif status < 500 then refused = refused + 1
  else failed = failed + 1 end
end

function done(summary, latency, requests)
  local a, b, c, e = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("created")
    b = b + t:get("replaced")
    c = c + t:get("refused")
    e = e + t:get("failed")
  end
  io.write(string.format("STATUSES 201=%d 2xx_other=%d 4xx=%d 5xx=%d\\n", a, b, c, e))
  -- The highest request number any thread made (threads do not run evenly): the next run
  -- starts after it, so none of its readings repeats a meter and day of this one.
  local last = {first} - 1
  for _, t in ipairs(threads) do
    local made = t:get("counter")
    if made > 0 then last = math.max(last, {first} + (made - 1) * {THREADS} + t:get("id")) end
  end
  io.write(string.format("LAST %d\\n", last))
end
"""


async def billing_queue_count(channel: aio_pika.abc.AbstractChannel) -> int:
    queue = await channel.declare_queue(topology.BILLING_SYSTEM_QUEUE, passive=True)
    return int(queue.declaration_result.message_count or 0)


async def queued_now(url: str) -> int:
    async with await aio_pika.connect(url) as connection:
        return await billing_queue_count(await connection.channel())


async def wait_for_queue(url: str, target: int, timeout: float = 300) -> float:
    """Poll until the billing system's queue holds ``target`` messages; when it did."""
    deadline = time.monotonic() + timeout
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        while (count := await billing_queue_count(channel)) < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} of {target} messages in the queue")
            await asyncio.sleep(0.02)
        return time.monotonic()


async def settled(infra: Infra) -> tuple[int, int]:
    """Once the readings outbox is drained: customer readings stored, messages in the queue."""
    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        deadline = time.monotonic() + 60
        while await db.fetchval("SELECT count(*) FROM readings.outbox WHERE published_at IS NULL"):
            assert time.monotonic() < deadline, "the readings outbox did not drain"
            await asyncio.sleep(0.1)
        stored = await db.fetchval(
            "SELECT count(*) FROM readings.readings WHERE source = 'customer'"
        )
    finally:
        await db.close()
    await asyncio.sleep(0.5)  # the last confirmed messages are counted by the queue
    return int(stored), await queued_now(infra.amqp_url)


async def database_backends(infra: Infra) -> list[int]:
    """The PostgreSQL processes serving the services' connections to the benchmark's database."""
    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        rows = await db.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return [r["pid"] for r in rows]
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--meters", type=int, default=5, help="meters per customer")
    parser.add_argument("--history", type=int, default=12, help="monthly readings per meter")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    customers = customers_with_meters(args.customers, args.meters)
    meters = args.customers * args.meters
    with sandbox() as infra, tempfile.TemporaryDirectory() as tmp:
        sink = MailSink(free_port()).start()
        env = system_env(infra, IBOK_SMTP_PORT=str(sink.port))
        with running_system(env, Path(tmp)) as system:
            asyncio.run(publish_customers(infra, customers, args.history))
            gateway = system.url("gateway")
            sessions = asyncio.run(log_in_all(gateway, sink, customers))
            url = f"{gateway}/api/v1/readings"
            warm_up = Path(tmp) / "warm-up.lua"
            warm_up.write_text(lua_script(customers, sessions, 0))
            # Opens the pools and prepares the statements; the run goes on with the next days.
            warm = wrk(
                url, connections=args.connections, seconds=2, script=warm_up, threads=THREADS
            )
            script = Path(tmp) / "readings.lua"
            last = re.search(r"LAST (-?\d+)", warm.output)
            assert last, warm.output
            script.write_text(lua_script(customers, sessions, int(last.group(1)) + 1))
            stored_before, before = asyncio.run(settled(infra))
            backends = asyncio.run(database_backends(infra))
            cpu = CpuShares(system, groups={"postgres (this database)": backends})
            profiled = {name: system.processes[name].pid for name in ("gateway", "readings")}
            cpu.start()
            started = time.monotonic()
            with profiling(profiled, args.profile, output="raw"):
                result = wrk(
                    url,
                    connections=args.connections,
                    seconds=args.seconds,
                    script=script,
                    threads=THREADS,
                    timeout_seconds=10,
                )
            ended = time.monotonic()
            statuses = re.search(
                r"STATUSES 201=(\d+) 2xx_other=(\d+) 4xx=(\d+) 5xx=(\d+)", result.output
            )
            assert statuses, result.output
            created, replaced, refused, failed = map(int, statuses.groups())
            accepted = created + replaced
            queued = asyncio.run(wait_for_queue(infra.amqp_url, before + accepted))
            cpu.stop()
            stored_after, queued_after = asyncio.run(settled(infra))
            stored, emitted = stored_after - stored_before, queued_after - before
            load = os.getloadavg()[0]
        sink.stop()
    in_queue = queued - started
    table = (
        f"{args.customers} customers, {meters} meters with {args.history} monthly readings "
        f"each, every customer logged in (session cookie + CSRF token); wrk {THREADS} threads, "
        f"{args.connections} connections, {args.seconds} s; load average {load:.1f} at the end\n\n"
        "| measure | value |\n| --- | --- |\n"
        f"| requests answered | {result.requests} |\n"
        f"| accepted: 201 new / 200 replaced | {created} / {replaced} |\n"
        f"| refused 4xx / failed 5xx / socket errors | {refused} / {failed} / {result.errors} |\n"
        f"| accepted readings per second at the gateway | {accepted / (ended - started):.0f} |\n"
        f"| latency p50 / p99 | {result.p50_ms:.1f} ms / {result.p99_ms:.1f} ms |\n"
        f"| first request until `{topology.BILLING_SYSTEM_QUEUE}` held every accepted reading "
        f"| {in_queue:.2f} s ({queued - ended:.2f} s after wrk stopped) |\n"
        f"| accepted readings per second end to end | {accepted / in_queue:.0f} |\n"
        f"| stored / messages in the queue (answers cut off when wrk stopped included) "
        f"| {stored} / {emitted} |\n"
        "| CPU per accepted reading: gateway / readings / PostgreSQL (this database's "
        "connections) / RabbitMQ / wrk | "
        + " / ".join(
            f"{cpu.seconds.get(name, 0.0) / max(accepted, 1) * 1000:.2f} ms"
            for name in ("gateway", "readings", "postgres (this database)", "rabbitmq", "wrk")
        )
        + " |\n"
    )
    notes = (
        f"{cpu.line()} (first request until the queue held every reading; `postgres` and "
        "`rabbitmq` are the machine's, other work on them included)."
    )
    report("Readings burst (bench/readings_bench.py)", table, notes, append=not args.no_report)


if __name__ == "__main__":
    main()
