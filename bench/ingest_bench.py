"""Billing import: 100,000 invoices through RabbitMQ into a running billing service, beside a
plain batched insert of the same rows through asyncpg (issue "Billing"; issue "Performance" 3).

    .venv/bin/python -m bench.ingest_bench [--invoices 100000] [--batch-size 1000]
        [--skip-live] [--profile FILE.svg|FILE.txt] [--no-report] [--smoke]

The invoices come from the billing-system simulator (``tools.billing_sim``): customers and
contracts are loaded first (not timed), then the invoices are published persistently with
publisher confirms to ``billing.in``, as the billing system would. Measured:

- live: publishing while billing runs, from the first publish to the last invoice committed;
- backlog: the same number of new invoices queued while billing is stopped, drained after it
  starts (from ready to the last invoice committed): the service's own ingest rate;
- baselines in the same run and database: the same rows written by the service's batched
  ``INSERT ... SELECT FROM unnest`` (500 rows a statement), and by ``COPY``, through asyncpg.

``--skip-live`` measures the backlog and the baselines only; ``--profile`` records billing with
py-spy (installed by ``make install``) while it drains the backlog; ``--no-report`` prints the table
without appending it to docs/performance.md (for runs while developing); ``--smoke`` runs
every path with 300 invoices and reports nothing (``make test``).
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import aio_pika
import asyncpg

from bench.common import arguments, machine_load, parse, report, sandbox, system_env
from contracts import topology
from contracts.base import Envelope
from contracts.billing_system import ContractUpserted, CustomerUpserted, InvoiceIssued
from runtime.broker_topology import ensure_exchange
from runtime.settings import Settings
from services.billing.ingest import store
from tools.billing_sim.dataset import build_dataset
from tools.system import System

Wire = tuple[bytes, str, str]  # body, routing key, message id


def wire(messages: Sequence[Envelope]) -> list[Wire]:
    return [(m.to_wire(), m.SCHEMA, str(m.message_id)) for m in messages]


def simulated(invoices: int, seed: int = 11) -> tuple[list[Envelope], list[InvoiceIssued]]:
    """Customers and contracts, and ``invoices`` invoices of theirs, from the simulator."""
    customers = math.ceil(invoices / 11)
    while True:
        dataset = build_dataset(customers, seed, months=24)
        issued = [m for c in dataset.customers for m in c.history if isinstance(m, InvoiceIssued)]
        if len(issued) >= invoices:
            break
        customers = math.ceil(customers * 1.2)
    issued = issued[:invoices]
    wanted = {i.customer_number for i in issued}
    setup: list[Envelope] = [
        m
        for m in dataset.messages(digest_iterations=1_000)
        if isinstance(m, CustomerUpserted | ContractUpserted) and m.customer_number in wanted
    ]
    return setup, issued


def renumbered(invoices: Sequence[InvoiceIssued], prefix: str) -> list[InvoiceIssued]:
    """The same invoices under other numbers (and new message ids): new rows, not no-ops."""
    return [
        i.model_copy(update={"number": prefix + i.number[2:], "message_id": uuid.uuid4()})
        for i in invoices
    ]


async def publish(amqp_url: str, messages: Sequence[Wire], window: int = 2_000) -> float:
    """Publish persistently with confirms, ``window`` in flight; the seconds it took."""
    started = time.perf_counter()
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await ensure_exchange(channel, topology.BILLING_IN_EXCHANGE)
        for start in range(0, len(messages), window):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            body,
                            content_type="application/json",
                            message_id=message_id,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=key,
                    )
                    for body, key, message_id in messages[start : start + window]
                )
            )
    return time.perf_counter() - started


async def wait_for_queue(amqp_url: str, queue: str, timeout: float = 30) -> None:
    """Billing declares its queue just after it reports ready: publish only once it is bound."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        deadline = time.monotonic() + timeout
        while True:
            channel = await connection.channel()
            try:
                await channel.declare_queue(queue, passive=True)
                return
            except aio_pika.exceptions.AMQPError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


async def wait_count(dsn: str, sql: str, target: int, timeout: float = 600) -> float:
    """Poll until ``sql`` counts ``target``; the monotonic time it first did."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while (count := await conn.fetchval(sql)) < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} of {target} after {timeout} s: {sql}")
            await asyncio.sleep(0.05)
        return time.perf_counter()
    finally:
        await conn.close()


async def live(
    amqp_url: str, dsn: str, invoices: Sequence[Wire], count_sql: str
) -> dict[str, float]:
    started = time.perf_counter()
    publishing = asyncio.create_task(publish(amqp_url, invoices))
    done = await wait_count(dsn, count_sql, len(invoices))
    return {"total": done - started, "publish": await publishing}


async def baselines(dsn: str, invoices: Sequence[InvoiceIssued]) -> dict[str, float]:
    """The same rows, written straight through asyncpg into copies of billing's table."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE SCHEMA bench_baseline;"
            " CREATE TABLE bench_baseline.invoices (LIKE billing.invoices INCLUDING ALL);"
            " CREATE TABLE bench_baseline.invoices_copy (LIKE billing.invoices INCLUDING ALL);"
            " SET search_path TO bench_baseline"
        )
        started = time.perf_counter()
        for start in range(0, len(invoices), 500):
            chunk = invoices[start : start + 500]
            async with conn.transaction():
                await store.upsert_invoices(conn, chunk, [None] * len(chunk), [None] * len(chunk))
        inserted = time.perf_counter() - started

        started = time.perf_counter()
        columns = (
            "number customer_number contract_number issued_on sale_date due_date period_from"
            " period_to lines net_grosze vat_grosze gross_grosze revision"
        ).split()
        records = [
            (
                i.number,
                i.customer_number,
                i.contract_number,
                i.issued_on,
                i.sale_date,
                i.due_date,
                i.period_from,
                i.period_to,
                "[" + ",".join(line.model_dump_json() for line in i.lines) + "]",
                i.net_grosze,
                i.vat_grosze,
                i.gross_grosze,
                i.revision,
            )
            for i in invoices
        ]
        # COPY speaks binary; jsonb's binary form is a version byte, then the JSON text.
        await conn.set_type_codec(
            "jsonb",
            encoder=lambda text: b"\x01" + text.encode(),
            decoder=lambda data: data[1:].decode(),
            schema="pg_catalog",
            format="binary",
        )
        await conn.copy_records_to_table("invoices_copy", records=records, columns=columns)
        copied = time.perf_counter() - started
    finally:
        await conn.close()
    return {"insert": inserted, "copy": copied}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backends_cpu(dsn: str, application: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving ``application`` (same machine)."""
    conn = await asyncpg.connect(dsn)
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1", application
        )
    finally:
        await conn.close()
    found = {}
    for row in pids:
        try:
            found[row["pid"]] = cpu_seconds(row["pid"])
        except OSError:
            pass  # a server elsewhere, or the backend just ended
    return found


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy recording ``pid`` until interrupted: a flame graph (``.svg``) or collapsed stacks."""
    spy = Path(sys.executable).with_name("py-spy")
    kind = "flamegraph" if out.suffix == ".svg" else "raw"
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--output", str(out), "--format", kind],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run(
    invoices: int,
    batch_size: int,
    prefetch: int,
    *,
    skip_live: bool = False,
    profile: Path | None = None,
    no_report: bool = False,
) -> None:
    load_before = machine_load()
    print(f"simulating {invoices} invoices ...", flush=True)
    setup, issued = simulated(invoices)
    backlog = renumbered(issued, "FB")
    setup_wire, issued_wire, backlog_wire = wire(setup), wire(issued), wire(backlog)
    customers = sum(1 for m in setup if isinstance(m, CustomerUpserted))

    with sandbox() as infra, tempfile.TemporaryDirectory() as logs:
        env = system_env(
            infra,
            IBOK_BATCH_SIZE=str(batch_size),
            IBOK_BATCH_PREFETCH=str(prefetch),
        )
        system = System(env, log_dir=Path(logs))
        dsn = infra.postgres_dsn
        try:
            system.start("billing")
            system.wait_ready(("billing",), timeout=60)
            asyncio.run(wait_for_queue(infra.amqp_url, topology.billing_in_queue("billing")))
            asyncio.run(publish(infra.amqp_url, setup_wire))
            asyncio.run(wait_count(dsn, "SELECT count(*) FROM billing.customers", customers))
            asyncio.run(wait_count(dsn, "SELECT count(*) FROM billing.inbox", len(setup)))

            if skip_live:
                live_times = {"total": math.nan}
            else:
                print("live: publishing while billing runs ...", flush=True)
                count_fv = "SELECT count(*) FROM billing.invoices WHERE number LIKE 'FV/%'"
                live_times = asyncio.run(live(infra.amqp_url, dsn, issued_wire, count_fv))

            print("backlog: queued while billing is stopped ...", flush=True)
            system.kill("billing", signal.SIGTERM)
            queued = asyncio.run(publish(infra.amqp_url, backlog_wire))
            system.start("billing")
            started = time.perf_counter()
            system.wait_ready(("billing",), timeout=60)
            ready = time.perf_counter()
            pid = system.processes["billing"].pid
            cpu_at_ready = cpu_seconds(pid)
            backends_at_ready = asyncio.run(backends_cpu(dsn, "ibok-billing"))
            spy = py_spy(pid, profile) if profile else None
            count_fb = "SELECT count(*) FROM billing.invoices WHERE number LIKE 'FB/%'"
            done = asyncio.run(wait_count(dsn, count_fb, len(backlog)))
            # At least one clock tick: a smoke run's backlog may take less.
            cpu = max(cpu_seconds(pid) - cpu_at_ready, 1 / os.sysconf("SC_CLK_TCK"))
            backends = asyncio.run(backends_cpu(dsn, "ibok-billing"))
            pg_cpu = sum(t - backends_at_ready.get(p, 0.0) for p, t in backends.items())
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            rss = peak_rss_mib(pid)
            load = machine_load()

            print("baselines: the same rows straight through asyncpg ...", flush=True)
            base = asyncio.run(baselines(dsn, issued))
        finally:
            system.stop_all()

    n = len(issued)

    def row(what: str, seconds: float) -> str:
        return f"| {what} | {n:,} | {seconds:.1f} | {n / seconds:,.0f} |"

    measured = [
        (
            "billing through RabbitMQ, published while it runs (first publish to last commit)",
            live_times["total"],
        ),
        (
            "billing through RabbitMQ, a queued backlog drained (ready to last commit)",
            done - ready,
        ),
        ("publishing alone (aio-pika, persistent, publisher confirms)", queued),
        ("baseline: batched INSERT ... SELECT FROM unnest, 500 rows, asyncpg", base["insert"]),
        ("baseline: COPY, asyncpg", base["copy"]),
    ]
    # A path not measured in this run (--skip-live) has no row rather than a row of nan.
    table = "\n".join(
        [
            "| path | invoices | seconds | invoices per second |",
            "| --- | --- | --- | --- |",
            *(row(what, seconds) for what, seconds in measured if not math.isnan(seconds)),
        ]
    )
    notes = (
        f"Billing used {cpu:.1f} CPU seconds for the backlog: {n / cpu:,.0f} invoices per CPU "
        f"second of the billing process; its PostgreSQL backends used {pg_cpu:.1f} CPU seconds "
        f"(RabbitMQ not counted: shared with other vhosts). {load_before} before the run, "
        f"{load} at the end of the backlog (other work on the machine slows every row). "
        f"{customers:,} customers; billing batch size {batch_size}, prefetch {prefetch}; "
        f"billing's peak resident memory {rss:.0f} MiB; billing took {ready - started:.1f} s "
        "from start to ready in the backlog run. Each invoice has three lines (water, sewage, "
        "subscription fee). The live figure includes publishing on the same 2 cores."
    )
    report("Billing import (bench/ingest_bench.py)", table, notes, append=not no_report)


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__)
    parser.add_argument("--invoices", type=int, default=100_000)
    defaults = Settings.model_fields
    parser.add_argument("--batch-size", type=int, default=defaults["batch_size"].default)
    parser.add_argument("--prefetch", type=int, default=defaults["batch_prefetch"].default)
    parser.add_argument("--skip-live", action="store_true", help="the backlog and baselines only")
    parser.add_argument("--profile", type=Path, help="py-spy of the backlog drain (.svg or stacks)")
    args = parse(parser, argv, invoices=300)
    run(
        args.invoices,
        args.batch_size,
        args.prefetch,
        skip_live=args.skip_live,
        profile=args.profile,
        no_report=args.no_report,
    )


if __name__ == "__main__":
    main()
