"""Logins per second with argon2id at the configured parameters, and health latency while they run.

.venv/bin/python -m bench.login_bench [--seconds 10] [--connections 8] [--no-report] [--smoke]

Also measured: one argon2id hash at the configured parameters in this process (the cost a
login pays, and an attacker per guess), and auth's CPU per login while they run.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from bench.common import (
    CpuShares,
    arguments,
    machine_load,
    parse,
    report,
    running_system,
    sandbox,
    system_env,
    wrk,
)
from runtime.settings import Settings
from tests.support.customers import PASSWORD, registration
from tests.support.infra import free_port
from tests.support.mail import MailSink, link_token
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import build_dataset


def health_latencies(url: str, stop: threading.Event) -> list[float]:
    samples = []
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)
    return samples


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * p / 100), len(ordered) - 1)] if ordered else 0.0


def hash_ms(settings: Settings, times: int = 10) -> float:
    """Median CPU milliseconds of one argon2id hash at the configured parameters (this
    process's CPU time: on a busy machine the wall time also counts the wait for a core)."""
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    samples = []
    for _ in range(times):
        started = time.process_time()
        hasher.hash(PASSWORD)
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parse(parser, argv, seconds=1, connections=2)
    load_before = machine_load()
    defaults = Settings()
    one_hash = hash_ms(defaults, 3 if args.smoke else 10)
    with sandbox() as infra, tempfile.TemporaryDirectory() as tmp:
        sink = MailSink(free_port()).start()
        env = system_env(infra, IBOK_SMTP_PORT=str(sink.port))
        with running_system(env, Path(tmp)) as system:
            dataset = build_dataset(3, seed=11)
            asyncio.run(publish(infra.amqp_url, list(dataset.messages(digest_iterations=2_000))))
            gateway = system.url("gateway")
            customer = dataset.customers[0]
            body = registration(customer, "bench.login")
            deadline = time.monotonic() + 30
            while (
                answer := httpx.post(f"{gateway}/api/v1/auth/register", json=body)
            ).status_code != 201:
                assert time.monotonic() < deadline, answer.text
                time.sleep(0.3)
            httpx.post(
                f"{gateway}/api/v1/auth/verify-email",
                json={"token": link_token(sink.wait_for(body["email"]))},
            )
            script = Path(tmp) / "login.lua"
            script.write_text(
                'wrk.method = "POST"\n'
                f'wrk.body = \'{{"login": "bench.login", "password": "{PASSWORD}"}}\'\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            rows = []
            for target in ("gateway", "auth"):
                stop = threading.Event()
                samples: list[float] = []
                probe = threading.Thread(
                    target=lambda t=target, out=samples, flag=stop: out.extend(
                        health_latencies(f"{system.url(t)}/health/ready", flag)
                    )
                )
                idle = health_latencies_once(f"{system.url(target)}/health/ready")
                cpu = CpuShares(system)
                probe.start()
                cpu.start()
                result = wrk(
                    f"{gateway}/api/v1/auth/login",
                    connections=args.connections,
                    seconds=args.seconds,
                    script=script,
                )
                cpu.stop()
                stop.set()
                probe.join()
                rows.append((target, result, idle, samples, cpu))
        sink.stop()
    login, login_cpu = rows[0][1], rows[0][4]
    auth_cpu = login_cpu.seconds.get("auth", 0.0) / max(login.requests, 1) * 1000
    table = (
        f"argon2id time_cost={defaults.argon2_time_cost}, memory={defaults.argon2_memory_kib} KiB, "
        f"parallelism={defaults.argon2_parallelism}; {args.connections} connections, "
        f"{args.seconds} s; {load_before} before, {machine_load()} at the end\n\n"
        "| measure | value |\n| --- | --- |\n"
        f"| one argon2id hash: CPU time, median | {one_hash:.0f} ms |\n"
        f"| auth CPU per login (hash and the rest) | {auth_cpu:.0f} ms |\n"
        f"| logins per second | {login.requests_per_second:.1f} |\n"
        f"| login p50 / p99 | {login.p50_ms:.0f} ms / {login.p99_ms:.0f} ms |\n"
        f"| errors / non-2xx | {login.errors} / {login.non_2xx} |\n"
    )
    for target, _, idle, samples, _ in rows:
        table += (
            f"| {target} /health/ready while logins run: p50 / p99 / max (idle p50) | "
            f"{statistics.median(samples):.1f} / {percentile(samples, 99):.1f} / {max(samples):.1f} ms "
            f"({idle:.1f} ms) |\n"
        )
    report("Login (bench/login_bench.py)", table, append=not args.no_report)


def health_latencies_once(url: str) -> float:
    samples = []
    with httpx.Client(timeout=10) as client:
        for _ in range(20):
            started = time.perf_counter()
            client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


if __name__ == "__main__":
    main()
