"""A burst of meter readings (`POST /api/v1/readings`) through the real gateway and readings
service, by many logged-in customers at once, with wrk, against the monolith baseline
(bench/readings_baseline.py: readings' own submission in one Litestar + asyncpg process) in the
same run, on the same data, at each of ``--connections``.

    .venv/bin/python -m bench.readings_bench [--customers 50] [--meters 10] [--history 12]
        [--seconds 10] [--connections 16 32] [--profile DIR] [--no-report] [--smoke]

Every run (the baseline and IBOK at each number of connections) has customers and meters of
its own, made alike: the same number, each meter with a year of history before the burst
(``--history`` inspector readings, one a month, as the billing system sends them), so each
request is checked against real neighbours and a recent daily average (R8), and every run
starts from the same state. Every request is a valid new reading: request i of a run goes to
meter i mod M of its group (M meters) and day i div M of the last 60 days, with a value on the
same steady line as the history (0.5 m³ a day: never flagged), so no two requests name the
same meter and day (a second one would replace the first, R8) and any order of arrival is
monotonic; past M x 60 requests they become replacements (answered 200, reported). A 2-second
wrk run first warms up (the pools open, the statements are prepared); the measured run goes on
from where it stopped. The dates are relative to the day of the run.

The baseline runs while the readings service is stopped (its outbox relay would otherwise
publish the baseline's outbox rows, in the same table, on the same cores); the service is
started again, and its outbox drained, before IBOK's run. ``--profile DIR`` records py-spy's
collapsed stacks of each run's processes (DIR/<connections>-<process>.txt).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aio_pika
import asyncpg
import httpx

from bench.common import (
    CpuShares,
    WrkResult,
    arguments,
    database_backends,
    machine_load,
    parse,
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
from tools.system import System

BURST_DAYS = 60  # the burst's readings are dated in the last 60 days, oldest first
START = TODAY - timedelta(days=BURST_DAYS + 400)  # contracts start, meters are installed
THREADS = 2
BASELINE = "baseline (Litestar + asyncpg, readings' submission in process)"
IBOK = "IBOK gateway → readings (logged in)"


def milli_m3(day: date) -> int:
    """The meters' steady line: 100 m³ at START, 0.5 m³ a day (in thousandths of m³)."""
    return 100_000 + 500 * (day - START).days


def customers_with_meters(group: str, count: int, meters: int) -> list[SimCustomer]:
    customers = []
    for c in range(count):
        number = f"R{group}{c:05d}"
        customer = extra_customer(number, contract_start=START)
        customer.meters.extend(
            meter_for(customer, f"{number}M{m:02d}", installed_on=START) for m in range(meters)
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


Sender = tuple[str, str, str]  # per customer: the path, the Cookie header, the CSRF token


def lua_script(customers: list[SimCustomer], senders: list[Sender], first: int) -> str:
    """wrk's request generator: request i (over all threads, counted from ``first``) is meter
    i mod M, day i div M, sent as its customer."""
    first_day = TODAY - timedelta(days=BURST_DAYS - 1)
    session_rows = ",\n".join(
        f'  {{"{path}", "{cookie}", "{token}"}}' for path, cookie, token in senders
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
  return wrk.format("POST", s[1], {{
    ["Cookie"] = s[2], ["X-CSRF-Token"] = s[3], ["Content-Type"] = "application/json"
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


COUNTS = """
    SELECT (SELECT count(*) FROM readings.readings WHERE source = 'customer') AS stored,
           (SELECT count(*) FROM readings.outbox WHERE published_at IS NULL) AS pending
"""  # one statement, one snapshot: a reading and its outbox row are committed together


async def written(infra: Infra) -> tuple[int, int]:
    """Customer readings stored, outbox rows not yet published (while readings is stopped)."""
    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        row = await db.fetchrow(COUNTS)
        return int(row["stored"]), int(row["pending"])
    finally:
        await db.close()


async def written_when_quiet(infra: Infra) -> tuple[int, int]:
    """``written`` once the baseline's requests still running when wrk stopped are done."""
    last = await written(infra)
    while True:
        await asyncio.sleep(0.3)
        if (now := await written(infra)) == last:
            return now
        last = now


async def settled(infra: Infra) -> tuple[int, int]:
    """Once the readings outbox is drained and nothing more arrives: customer readings stored,
    messages in the billing system's queue."""
    deadline = time.monotonic() + 60
    while True:
        stored, pending = await written(infra)
        if not pending:
            await asyncio.sleep(0.5)  # the last confirmed messages are counted by the queue
            queued = await queued_now(infra.amqp_url)
            if await written(infra) == (stored, 0):
                return stored, queued
        assert time.monotonic() < deadline, "the readings outbox did not drain"
        await asyncio.sleep(0.1)


@dataclass
class Burst:
    """One measured run: wrk's figures, the answers by status, what was written and sent."""

    connections: int
    path: str
    result: WrkResult
    seconds: float
    created: int
    replaced: int
    refused: int
    failed: int
    stored: int
    sent: int  # IBOK: messages the billing system's queue gained; baseline: outbox rows written
    cpu: CpuShares
    in_queue: float | None = None  # IBOK: first request until the queue held every reading
    after_wrk: float | None = None

    @property
    def accepted(self) -> int:
        return self.created + self.replaced

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds


def burst(
    url: str,
    customers: list[SimCustomer],
    senders: list[Sender],
    *,
    path: str,
    connections: int,
    seconds: int,
    warm_up: bool,
    infra: Infra,
    system: System | None,
    pids: dict[str, int],
    profile: Path | None,
    tmp: Path,
) -> Burst:
    """A warm-up, then the measured run, going on with the next requests; ``system`` is IBOK's
    (its outbox relayed: the run lasts until the billing system's queue holds every reading),
    ``None`` for the baseline (its outbox rows counted in the table)."""
    first = 0
    if warm_up:
        script = tmp / f"warm-up-{connections}-{len(pids)}.lua"
        script.write_text(lua_script(customers, senders, 0))
        warm = wrk(url, connections=connections, seconds=2, script=script, threads=THREADS)
        last = re.search(r"LAST (-?\d+)", warm.output)
        assert last, warm.output
        first = int(last.group(1)) + 1
    script = tmp / f"run-{connections}-{len(pids)}.lua"
    script.write_text(lua_script(customers, senders, first))
    if system is not None:
        stored_before, sent_before = asyncio.run(settled(infra))
    else:
        stored_before, sent_before = asyncio.run(written(infra))
    cpu = CpuShares(
        system, groups={"postgres (this database)": asyncio.run(database_backends(infra))}, **pids
    )
    cpu.start()
    started = time.monotonic()
    recorded = dict(pids) | (
        {name: system.processes[name].pid for name in ("gateway", "readings")} if system else {}
    )
    with profiling(
        {f"{connections}-{name}": pid for name, pid in recorded.items()},
        profile,
        output="raw",
    ):
        result = wrk(
            url,
            connections=connections,
            seconds=seconds,
            script=script,
            threads=THREADS,
            timeout_seconds=10,
        )
    ended = time.monotonic()
    statuses = re.search(r"STATUSES 201=(\d+) 2xx_other=(\d+) 4xx=(\d+) 5xx=(\d+)", result.output)
    assert statuses, result.output
    created, replaced, refused, failed = map(int, statuses.groups())
    in_queue = after_wrk = None
    if system is not None:
        queued = asyncio.run(wait_for_queue(infra.amqp_url, sent_before + created + replaced))
        cpu.stop()
        stored_after, sent_after = asyncio.run(settled(infra))
        in_queue, after_wrk = queued - started, queued - ended
    else:
        cpu.stop()
        stored_after, sent_after = asyncio.run(written_when_quiet(infra))
    return Burst(
        connections,
        path,
        result,
        ended - started,
        created,
        replaced,
        refused,
        failed,
        stored_after - stored_before,
        sent_after - sent_before,
        cpu,
        in_queue,
        after_wrk,
    )


def start_baseline(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.readings_baseline"],
        env={**os.environ, **env, "BASELINE_PORT": str(port)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:  # an empty body is refused (400) once the app serves
            if httpx.post(f"{url}/readings/R0", json={}).status_code == 400:
                return process, url
        except httpx.HTTPError:
            pass
        assert process.poll() is None, "the baseline stopped"
        assert time.monotonic() < deadline, "the baseline did not start"
        time.sleep(0.2)


def table_of(runs: list[Burst], args: argparse.Namespace, loads: tuple[str, str]) -> str:
    meters = args.customers * args.meters
    base = {b.connections: b.rate for b in runs if b.path == BASELINE}
    text = (
        f"Each run: {args.customers} customers of its own, {meters} meters with "
        f"{args.history} monthly readings each (the same for every run), every reading new; "
        f"IBOK's customers logged in (session cookie + CSRF token); wrk {THREADS} threads, "
        f"{args.seconds} s; {loads[0]} before, {loads[1]} at the end\n\n"
        "| connections | path | accepted per second | p50 | p99 | 201 / 200 / 4xx / 5xx / "
        "socket errors | stored / sent | ratio to baseline |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    for b in runs:
        text += (
            f"| {b.connections} | {b.path} | {b.rate:.0f} | {b.result.p50_ms:.1f} ms | "
            f"{b.result.p99_ms:.1f} ms | {b.created} / {b.replaced} / {b.refused} / "
            f"{b.failed} / {b.result.errors} | {b.stored} / {b.sent} | "
            f"{b.rate / base[b.connections]:.2f} |\n"
        )
    return text


def notes_of(runs: list[Burst]) -> str:
    lines = [
        "Stored: customer readings written; sent: for IBOK the messages the billing system's "
        f"queue (`{topology.BILLING_SYSTEM_QUEUE}`) gained once the outbox was drained (answers "
        "cut off when wrk stopped included), for the baseline the outbox rows it wrote (it "
        "publishes nothing). Where the cores went (`postgres` and `rabbitmq` are the "
        "machine's, other work on them included):",
        "",
    ]
    for b in runs:
        line = f"- {b.connections} connections, {b.path}: {b.cpu.line()}; "
        line += b.cpu.per_request(b.accepted).replace("per request", "per accepted reading")
        if b.in_queue is not None:
            line += (
                f"; first request until the queue held every accepted reading {b.in_queue:.2f} s "
                f"({b.after_wrk:.2f} s after wrk stopped), {b.accepted / b.in_queue:.0f} "
                "readings a second end to end"
            )
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__)
    parser.add_argument("--customers", type=int, default=50, help="customers per run")
    parser.add_argument("--meters", type=int, default=10, help="meters per customer")
    parser.add_argument("--history", type=int, default=12, help="monthly readings per meter")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--profile", type=Path, default=None)
    args = parse(parser, argv, customers=3, meters=4, history=2, seconds=1)
    load_before = machine_load()
    groups = {
        (path, c): customers_with_meters(f"{g:02d}", args.customers, args.meters)
        for g, (c, path) in enumerate(
            (c, path) for c in args.connections for path in (BASELINE, IBOK)
        )
    }
    runs: list[Burst] = []
    with sandbox() as infra, tempfile.TemporaryDirectory() as tmp:
        sink = MailSink(free_port()).start()
        env = system_env(infra, IBOK_SMTP_PORT=str(sink.port))
        with running_system(env, Path(tmp)) as system:
            everyone = [c for customers in groups.values() for c in customers]
            asyncio.run(publish_customers(infra, everyone, args.history))
            gateway = system.url("gateway")
            senders: dict[tuple[str, int], list[Sender]] = {}
            for (path, c), customers in groups.items():
                if path == IBOK:
                    sessions = asyncio.run(log_in_all(gateway, sink, customers))
                    senders[path, c] = [
                        ("/api/v1/readings", f"ibok_session={cookie}", token)
                        for cookie, token in sessions
                    ]
                else:
                    senders[path, c] = [(f"/readings/{x.number}", "", "") for x in customers]
            baseline, baseline_url = start_baseline(env)
            try:
                for connections in args.connections:
                    for path in (BASELINE, IBOK):
                        if path == BASELINE:
                            system.kill("readings", signal.SIGTERM)  # its relay: see above
                        else:
                            system.start("readings")
                            system.wait_ready(("readings",))
                        runs.append(
                            burst(
                                f"{baseline_url}/readings" if path == BASELINE else gateway,
                                groups[path, connections],
                                senders[path, connections],
                                path=path,
                                connections=connections,
                                seconds=args.seconds,
                                warm_up=not args.smoke,
                                infra=infra,
                                system=system if path == IBOK else None,
                                pids={"baseline": baseline.pid} if path == BASELINE else {},
                                profile=args.profile,
                                tmp=Path(tmp),
                            )
                        )
            finally:
                baseline.terminate()
                baseline.wait(10)
        sink.stop()
    table = table_of(runs, args, (load_before, machine_load()))
    report(
        "Readings burst (bench/readings_bench.py)",
        table,
        notes_of(runs),
        append=not args.no_report,
    )


if __name__ == "__main__":
    main()
