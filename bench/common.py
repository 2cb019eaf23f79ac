"""What every benchmark needs: a sandbox database and vhost, the system, wrk, and the report."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from tests.support.infra import Infra, create_database, drop_database, free_port, unique, vhost
from tools.system import System

ROOT = Path(__file__).resolve().parent.parent
PERFORMANCE_MD = ROOT / "docs" / "performance.md"
PG_BASE = os.environ.get("IBOK_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
AMQP_BASE = os.environ.get("IBOK_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672")


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """A script's parser with the options every benchmark has: ``--no-report`` (print the tables,
    leave docs/performance.md alone) and ``--smoke`` (tiny sizes and a second or two of load,
    every table still printed, nothing appended: what ``make test`` runs, so a broken
    benchmark fails the build)."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-report", action="store_true", help="print only; docs untouched")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, a second of load; implies --no-report"
    )
    return parser


def parse(
    parser: argparse.ArgumentParser, argv: list[str] | None, **smoke: object
) -> argparse.Namespace:
    """The options, with ``--smoke`` replacing the sizes given in ``smoke`` (option name to value)
    and implying ``--no-report``."""
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in smoke.items():
            setattr(args, name, value)
        args.no_report = True
    return args


def machine_load() -> str:
    """The 1-, 5- and 15-minute load averages, for every figure: the machine is shared."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min)"


@contextmanager
def sandbox() -> Iterator[Infra]:
    """A database and a vhost of the benchmark's own, removed afterwards."""
    database = unique("ibok_bench")
    asyncio.run(create_database(PG_BASE, database))
    try:
        with vhost(unique("ibok-bench")) as name:
            yield Infra(PG_BASE, AMQP_BASE, database, name)
    finally:
        asyncio.run(drop_database(PG_BASE, database))


async def database_backends(infra: Infra) -> list[int]:
    """The PostgreSQL processes serving connections to the benchmark's database (the machine's
    ``postgres`` processes also serve whatever else runs on it)."""
    db = await asyncpg.connect(infra.postgres_dsn)
    try:
        rows = await db.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return [r["pid"] for r in rows]
    finally:
        await db.close()


def serve_baseline(app: Any) -> None:
    """Serve a baseline app (bench/*baseline*.py) as the services are served: uvicorn, uvloop,
    no access log, on ``BASELINE_PORT``."""
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ["BASELINE_PORT"]),
        log_level="warning",
        access_log=False,
        loop="uvloop",
    )


def system_env(infra: Infra, **overrides: str) -> dict[str, str]:
    env = {
        "IBOK_POSTGRES_DSN": infra.postgres_dsn,
        "IBOK_AMQP_URL": infra.amqp_url,
        "IBOK_SMTP_PORT": str(free_port()),  # nobody listens: mail waits in the outbox
        "IBOK_COOKIE_SECURE": "false",
        "IBOK_LOG_LEVEL": "WARNING",
        "IBOK_RATE_LIMIT_SENSITIVE_PER_MINUTE": "1000000",
        "IBOK_RATE_LIMIT_EXPENSIVE_PER_MINUTE": "1000000",
        "IBOK_RATE_LIMIT_GENERAL_PER_MINUTE": "100000000",
    }
    for service in ("gateway", "auth", "readings", "billing", "notify"):
        env[f"IBOK_{service.upper()}_PORT"] = str(free_port())
    env.update(overrides)
    return env


@contextmanager
def running_system(env: dict[str, str], log_dir: Path) -> Iterator[System]:
    system = System(env, log_dir=log_dir)
    system.start_all()
    try:
        system.wait_ready(timeout=60)
        yield system
    finally:
        system.stop_all()


@contextmanager
def profiling(
    pids: dict[str, int], directory: Path | None, *, output: str = "speedscope"
) -> Iterator[None]:
    """py-spy records these processes while the block runs, one file each, by name:
    ``NAME.speedscope.json`` (speedscope.app), or with ``output="raw"`` ``NAME.txt``
    (collapsed stacks, one a line with its sample count: grep and sum them)."""
    if not pids or directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    suffix = "speedscope.json" if output == "speedscope" else "txt"
    recorders = [
        subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--nonblocking",
                "--format",
                output,
                "--output",
                str(directory / f"{name}.{suffix}"),
                "--pid",
                str(pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)
            recorder.wait(30)


@dataclass(frozen=True)
class WrkResult:
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    requests: int = 0
    output: str = ""  # what wrk printed, with anything the script's done() wrote


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(
    url: str,
    *,
    connections: int,
    seconds: int = 10,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
    threads: int | None = None,
    timeout_seconds: int = 2,
) -> WrkResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    command = [
        "wrk",
        f"-t{threads or min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        f"--timeout={timeout_seconds}s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    percentiles = {p: _ms(v, u) for p, v, u in re.findall(r"\s(\d+)%\s+([\d.]+)(us|ms|s|m)\b", out)}
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    requests = int(m.group(1)) if (m := re.search(r"(\d+) requests in", out)) else 0
    return WrkResult(
        connections,
        rps,
        percentiles.get("50", 0.0),
        percentiles.get("99", 0.0),
        errors,
        non_2xx,
        requests,
        out,
    )


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def report(title: str, table: str, notes: str = "", *, append: bool = True) -> None:
    """Print the table and append it, dated, with the machine and commit, to docs/performance.md
    (``append=False``: print only, for a script's ``--no-report``)."""
    heading = (
        f"\n### {title}: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores "
        f"({platform.machine()}), commit {commit()}\n\n"
    )
    text = heading + table.rstrip() + "\n" + (f"\n{notes.strip()}\n" if notes else "")
    print(text)
    if not append:
        return
    PERFORMANCE_MD.parent.mkdir(exist_ok=True)
    if not PERFORMANCE_MD.exists():
        PERFORMANCE_MD.write_text(
            "# Performance\n\nFigures appended by the scripts in bench/ (see bench/README.md).\n"
        )
    with PERFORMANCE_MD.open("a") as out:
        out.write(text)


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def _pids_named(*names: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm in names:
                pids.append(int(entry.name))
    return pids


class CpuShares:
    """CPU seconds each process (or group of processes) used between ``start`` and ``stop``:
    where a run's two cores went (the services, PostgreSQL, RabbitMQ, the load generator)."""

    def __init__(
        self,
        system: System | None = None,
        groups: dict[str, list[int]] | None = None,
        **extra_pids: int,
    ) -> None:
        self._groups: dict[str, list[int]] = {}
        if system is not None:
            for service, process in system.processes.items():
                self._groups[service] = [process.pid]
        for name, pid in extra_pids.items():
            self._groups[name] = [pid]
        self._groups.update(groups or {})
        self._before: dict[str, dict[int, int]] = {}
        self.seconds: dict[str, float] = {}

    def _sample(self) -> dict[str, dict[int, int]]:
        """Ticks per process of each group (processes come and go: each is counted apart)."""
        groups = {
            **self._groups,
            "postgres": _pids_named("postgres"),
            "rabbitmq": _pids_named("beam.smp"),
        }
        ticks = {name: {pid: _cpu_ticks(pid) for pid in pids} for name, pids in groups.items()}
        # Finished children (the load generator): their CPU time, in ticks as well.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        ticks["wrk"] = {
            0: round((children.ru_utime + children.ru_stime) * os.sysconf("SC_CLK_TCK"))
        }
        return ticks

    def start(self) -> None:
        self._before = self._sample()
        self._started = time.monotonic()

    def stop(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        after = self._sample()
        self.wall = time.monotonic() - self._started
        # A process that ended meanwhile is not counted; one that started is, from its start.
        self.seconds = {
            name: sum(
                max(used - self._before.get(name, {}).get(pid, 0), 0) for pid, used in pids.items()
            )
            / ticks
            for name, pids in after.items()
        }

    def line(self) -> str:
        busy = {name: s for name, s in self.seconds.items() if s >= 0.05}
        parts = ", ".join(
            f"{name} {s:.1f}" for name, s in sorted(busy.items(), key=lambda item: -item[1])
        )
        return f"CPU seconds in {self.wall:.0f} s of wall time: {parts}"

    def per_request(self, requests: int) -> str:
        """Milliseconds of CPU per request (or reading) by process, largest first, and their sum
        without the load generator."""
        busy = {n: s for n, s in self.seconds.items() if s >= 0.05 and n != "wrk"}
        if "postgres (this database)" in busy:
            busy.pop("postgres", None)  # the machine's: the database's own backends are counted
        parts = ", ".join(
            f"{name} {s / max(requests, 1) * 1000:.2f}"
            for name, s in sorted(busy.items(), key=lambda item: -item[1])
        )
        # RabbitMQ serves every vhost on the machine: listed, not added up.
        left_out = {"wrk", "postgres", "rabbitmq"}
        total = sum(s for n, s in busy.items() if n not in left_out) / max(requests, 1) * 1000
        return f"CPU ms per request: {parts} (together {total:.2f} without the machine's postgres and rabbitmq, and wrk)"
