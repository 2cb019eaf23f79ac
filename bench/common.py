"""What every benchmark needs: a sandbox database and vhost, the system, wrk, and the report."""

from __future__ import annotations

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

from tests.support.infra import Infra, create_database, drop_database, free_port, unique, vhost
from tools.system import System

ROOT = Path(__file__).resolve().parent.parent
PERFORMANCE_MD = ROOT / "docs" / "performance.md"
PG_BASE = os.environ.get("IBOK_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
AMQP_BASE = os.environ.get("IBOK_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672")


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
