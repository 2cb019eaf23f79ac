"""Terms change to N customers: fan-out rate, emails per second into a local SMTP sink, peak memory.

Runs on a database and vhost of its own (removed afterwards): loads N recipients straight into
notify's projection (COPY; the contact events that build it in production are not what this
measures), starts notify as a process with an SMTP sink in another process, publishes a new
version of the terms over RPC and watches until every email is accepted by the sink. Prints a
table and appends it to docs/performance.md.

    .venv/bin/python -m bench.fanout_bench [--recipients 100000] [--connections 1] [--batch 1000]
        [--no-report] [--smoke]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import arguments, machine_load, parse, report, sandbox
from contracts import notify
from runtime import db
from runtime.clock import business_today
from runtime.rpc_client import RpcClient
from tests.support.infra import Infra, free_port
from tools.system import System

ROOT = Path(__file__).resolve().parent.parent
NOTIFY_MIGRATIONS = ROOT / "services" / "notify" / "migrations"


# --- the SMTP sink, in a process of its own so it does not share a GIL with what it measures --


def _serve_sink(port: int, accepted: Synchronized[int], ready: Any) -> None:
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with accepted.get_lock():
                accepted.value += 1
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


@contextmanager
def counting_sink(port: int) -> Iterator[Synchronized[int]]:
    accepted: Synchronized[int] = multiprocessing.Value("q", 0)  # type: ignore[assignment]
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=_serve_sink, args=(port, accepted, ready), daemon=True)
    process.start()
    ready.wait(10)
    try:
        yield accepted
    finally:
        process.terminate()
        process.join(5)


# --- measuring ------------------------------------------------------------------------------


def memory_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of a process, from /proc (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


async def load_recipients(dsn: str, count: int, consent_every: int = 10) -> None:
    await db.migrate(dsn, "notify", NOTIFY_MIGRATIONS)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "recipients",
            schema_name="notify",
            columns=[
                "customer_number",
                "account_id",
                "email",
                "language",
                "marketing_consent",
                "revision",
            ],
            records=(
                (
                    f"K{i:07d}",
                    uuid.uuid4(),
                    f"k{i:07d}@example.com",
                    "en" if i % 10 == 0 else "pl",
                    i % consent_every == 0,
                    1,
                )
                for i in range(count)
            ),
        )
        await conn.execute("ANALYZE notify.recipients")
    finally:
        await conn.close()


async def measure(
    infra: Infra, system: System, accepted: Synchronized[int], count: int
) -> dict[str, Any]:
    pid = system.processes["notify"].pid
    rss_idle, _ = memory_kib(pid)
    rpc = RpcClient(infra.amqp_url, timeout=30)
    await rpc.start()
    conn = await asyncpg.connect(infra.postgres_dsn)
    try:
        started = time.monotonic()
        published = await rpc.call(
            notify.PUBLISH_TERMS,
            notify.PublishTerms(
                text="Regulamin (benchmark).\n" * 200,
                effective_on=business_today(),
                published_by="bench",
            ),
        )
        fanned_out_at = None
        peak_kib = 0
        last_print = 0.0
        while True:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            _, peak_kib = memory_kib(pid)
            if fanned_out_at is None:
                status = await rpc.call(
                    notify.FANOUT_STATUS, notify.FanoutStatusQuery(job_id=published.fanout_job_id)
                )
                if status.status == "done":
                    fanned_out_at = now
            if now - last_print >= 5:
                last_print = now
                print(
                    f"  {now - started:6.1f} s: sink accepted {accepted.value} of {count}",
                    flush=True,
                )
            if accepted.value >= count:
                break
            if now - started > 3600:
                raise SystemExit("not finished within an hour")
        delivered_at = time.monotonic()
        outbox_bytes = await conn.fetchval("SELECT pg_total_relation_size('notify.emails')")
        inbox_bytes = await conn.fetchval("SELECT pg_total_relation_size('notify.inbox_messages')")
        duplicates = accepted.value - count
    finally:
        await conn.close()
        await rpc.stop()
    assert fanned_out_at is not None
    return {
        "fanout_s": fanned_out_at - started,
        "delivery_s": delivered_at - started,
        "rss_idle_kib": rss_idle,
        "peak_kib": peak_kib,
        "outbox_mib": outbox_bytes / 2**20,
        "inbox_mib": inbox_bytes / 2**20,
        "duplicates": duplicates,
    }


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=2, help="IBOK_SMTP_CONNECTIONS")
    parser.add_argument("--batch", type=int, default=1000, help="IBOK_FANOUT_BATCH")
    args = parse(parser, argv, recipients=50)
    load_before = machine_load()

    smtp_port = free_port()
    with sandbox() as infra, counting_sink(smtp_port) as accepted:
        print(f"loading {args.recipients} recipients ...", flush=True)
        asyncio.run(load_recipients(infra.postgres_dsn, args.recipients))
        env = {
            "IBOK_POSTGRES_DSN": infra.postgres_dsn,
            "IBOK_AMQP_URL": infra.amqp_url,
            "IBOK_SMTP_HOST": "127.0.0.1",
            "IBOK_SMTP_PORT": str(smtp_port),
            "IBOK_NOTIFY_PORT": str(free_port()),
            "IBOK_LOG_LEVEL": "WARNING",
            "IBOK_SMTP_CONNECTIONS": str(args.connections),
            "IBOK_FANOUT_BATCH": str(args.batch),
        }
        with tempfile.TemporaryDirectory() as logs:
            system = System(env, log_dir=Path(logs))
            system.start("notify")
            try:
                system.wait_ready(("notify",), timeout=60)
                print("publishing a new version of the terms ...", flush=True)
                result = asyncio.run(measure(infra, system, accepted, args.recipients))
            finally:
                system.stop_all()

    n = args.recipients
    table = "\n".join(
        [
            "| measure | value |",
            "| --- | --- |",
            f"| recipients | {n:,} |",
            f"| fan-out (inbox message + queued email each) | {result['fanout_s']:.1f} s, {n / result['fanout_s']:,.0f} recipients/s |",
            f"| all emails accepted by the sink | {result['delivery_s']:.1f} s, {n / result['delivery_s']:,.0f} emails/s |",
            f"| notify peak RSS (idle before publishing) | {result['peak_kib'] / 1024:.0f} MiB ({result['rss_idle_kib'] / 1024:.0f} MiB) |",
            f"| emails accepted twice | {result['duplicates']} |",
            f"| notify.emails / notify.inbox_messages on disk | {result['outbox_mib']:.0f} MiB / {result['inbox_mib']:.0f} MiB |",
        ]
    )
    notes = (
        f"IBOK_FANOUT_BATCH={args.batch}, IBOK_SMTP_CONNECTIONS={args.connections}, "
        "IBOK_MAIL_BATCH=50; sink: aiosmtpd counting messages in its own process; PostgreSQL, "
        f"RabbitMQ, notify and the sink on the same machine; {load_before} before, "
        f"{machine_load()} at the end."
    )
    report(
        f"Terms fan-out (bench/fanout_bench.py, {n:,} recipients)",
        table,
        notes,
        append=not args.no_report,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
