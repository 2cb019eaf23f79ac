"""The authenticated invoice list through the real gateway and billing service, against the
monolith baseline (bench/baseline_app.py) in the same run, at 16 and 64 connections, with wrk.

    .venv/bin/python -m bench.invoices_bench [--customers 200] [--seconds 10] [--profile DIR]
        [--no-report] [--smoke]

The customer measured is the one of the simulated data set (a registrable one: an active
contract, R1) with the most invoices, whatever the date of the run; the page is its 24 newest,
or all of them when it has fewer (``--smoke``'s few customers).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
from tests.support.customers import PASSWORD, registration
from tests.support.infra import free_port
from tests.support.mail import MailSink, link_token
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import build_dataset
from tools.system import System

PAGE = 24


async def wait_for_sync(dsn: str, timeout: float = 300) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while not await conn.fetchval("SELECT count(*) FROM billing.sync_state"):
            if time.monotonic() > deadline:
                raise TimeoutError("billing did not finish the import")
            await asyncio.sleep(0.5)
        return int(await conn.fetchval("SELECT count(*) FROM billing.invoices"))
    finally:
        await conn.close()


async def invoices_per_customer(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT customer_number, count(*) AS n FROM billing.invoices GROUP BY customer_number"
        )
        return {r["customer_number"]: int(r["n"]) for r in rows}
    finally:
        await conn.close()


CACHED = "IBOK gateway, billing's answers kept (repeat views)"
UNCACHED = "IBOK gateway → billing, nothing kept (first views)"


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--profile",
        type=Path,
        help="a directory: py-spy profiles of the gateway and billing during the 64-connection run",
    )
    args = parse(parser, argv, customers=12, seconds=1)
    load_before = machine_load()
    rows: list[tuple[int, str, WrkResult]] = []
    shares: dict[str, tuple[CpuShares, int]] = {}
    with sandbox() as infra, tempfile.TemporaryDirectory() as tmp:
        sink = MailSink(free_port()).start()
        env = system_env(infra, IBOK_SMTP_PORT=str(sink.port))
        with running_system(env, Path(tmp)) as system:
            dataset = build_dataset(args.customers, seed=5)
            asyncio.run(publish(infra.amqp_url, list(dataset.messages(digest_iterations=1_000))))
            invoices = asyncio.run(wait_for_sync(infra.postgres_dsn))
            counts = asyncio.run(invoices_per_customer(infra.postgres_dsn))
            customer = max(
                (c for c in dataset.customers if any(k.status == "active" for k in c.contracts)),
                key=lambda c: counts.get(c.number, 0),
            )
            page = min(PAGE, counts.get(customer.number, 0))
            assert page > 0, "no registrable customer has an invoice"
            gateway = system.url("gateway")
            body = registration(customer, "bench.invoices")
            assert httpx.post(f"{gateway}/api/v1/auth/register", json=body).status_code == 201
            httpx.post(
                f"{gateway}/api/v1/auth/verify-email",
                json={"token": link_token(sink.wait_for(body["email"]))},
            )
            login = httpx.post(
                f"{gateway}/api/v1/auth/login", json={"login": body["login"], "password": PASSWORD}
            )
            cookie = {"Cookie": f"ibok_session={login.cookies['ibok_session']}"}
            api_url = f"{gateway}/api/v1/invoices?limit={PAGE}"
            assert len(httpx.get(api_url, headers=cookie).json()["items"]) == page

            port = free_port()
            baseline = subprocess.Popen(
                [sys.executable, "-m", "bench.baseline_app"],
                env={
                    **os.environ,
                    "IBOK_POSTGRES_DSN": infra.postgres_dsn,
                    "BASELINE_PORT": str(port),
                },
            )
            try:
                base_url = f"http://127.0.0.1:{port}/invoices/{customer.number}?limit={PAGE}"
                deadline = time.monotonic() + 20
                while True:
                    try:
                        if httpx.get(base_url).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, "the baseline did not start"
                    time.sleep(0.2)
                assert len(httpx.get(base_url).json()["items"]) == page
                # A second gateway that keeps nothing: every answer comes from billing.
                uncached = System(
                    {
                        **env,
                        "IBOK_GATEWAY_PORT": str(free_port()),
                        "IBOK_BILLING_CACHE_SECONDS": "0",
                    },
                    log_dir=Path(tmp) / "uncached",
                )
                uncached.start("gateway")
                uncached.wait_ready(("gateway",))
                profiled = {
                    "gateway": uncached.processes["gateway"].pid,
                    "billing": system.processes["billing"].pid,
                }
                uncached_pid = uncached.processes["gateway"].pid
                paths: list[tuple[str, str, dict[str, str], dict[str, int]]] = [
                    ("baseline", base_url, {}, {"baseline": baseline.pid}),
                    (CACHED, api_url, cookie, {}),
                    (
                        UNCACHED,
                        api_url.replace(gateway, uncached.url("gateway")),
                        cookie,
                        {"uncached_gateway": uncached_pid},
                    ),
                ]
                try:
                    for connections in (16, 64):
                        for name, url, headers, pids in paths:
                            if not args.smoke:  # warm up
                                wrk(url, connections=connections, seconds=2, headers=headers)
                            # After the warm-up every pool's connections are open.
                            backends = asyncio.run(database_backends(infra))
                            cpu = CpuShares(
                                None if name == "baseline" else system,
                                groups={"postgres (this database)": backends},
                                **pids,
                            )
                            cpu.start()
                            with profiling(
                                profiled if name == UNCACHED else {},
                                args.profile if connections == 64 else None,
                            ):
                                result = wrk(
                                    url,
                                    connections=connections,
                                    seconds=args.seconds,
                                    headers=headers,
                                )
                            cpu.stop()
                            rows.append((connections, name, result))
                            if connections == 64:
                                shares[name] = (cpu, result.requests)
                finally:
                    uncached.stop_all()
            finally:
                baseline.terminate()
                baseline.wait(10)
        sink.stop()
    table = (
        f"{invoices} invoices of {args.customers} customers; the {page} newest of one customer "
        f"({counts[customer.number]} invoices); {args.seconds} s per run; {load_before} before, "
        f"{machine_load()} at the end\n\n"
        "| connections | path | requests/s | p50 | p99 | errors | non-2xx | ratio to baseline |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    base_rps = {c: r.requests_per_second for c, name, r in rows if name == "baseline"}
    for connections, name, result in rows:
        table += (
            f"| {connections} | {name} | {result.requests_per_second:.0f} | "
            f"{result.p50_ms:.1f} ms | {result.p99_ms:.1f} ms | {result.errors} | "
            f"{result.non_2xx} | {result.requests_per_second / base_rps[connections]:.2f} |\n"
        )
    notes = "Where the cores went at 64 connections:\n\n" + "\n".join(
        f"- {name}: {cpu.line()}; {cpu.per_request(requests)}"
        for name, (cpu, requests) in shares.items()
    )
    report("Invoice list (bench/invoices_bench.py)", table, notes, append=not args.no_report)


if __name__ == "__main__":
    main()
