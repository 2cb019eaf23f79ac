"""Every benchmark in bench/ runs in smoke mode (tiny sizes, a second of load) and prints its
tables: a benchmark broken by a change in the system, or by the date, fails the build.

Each script makes a database and a vhost of its own on the servers the tests use, starts what
it measures on free ports, and leaves docs/performance.md alone (``--smoke`` implies
``--no-report``). What is checked is that it ran and printed what it measures, with no refused
answers where it counts them; the figures themselves are not (the machine's speed is not the
code's).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.infra import Infra

ROOT = Path(__file__).resolve().parents[2]
PERFORMANCE_MD = ROOT / "docs" / "performance.md"

# script: the lines its report must print (a table's title, header and rows)
EXPECTED: dict[str, list[str]] = {
    "invoices_bench": [
        "### Invoice list (bench/invoices_bench.py)",
        "| connections | path | requests/s | p50 | p99 | errors | non-2xx | ratio to baseline |",
        "| 16 | baseline |",
        "| 16 | IBOK gateway, billing's answers kept (repeat views) |",
        "| 64 | IBOK gateway → billing, nothing kept (first views) |",
        "CPU ms per request:",
    ],
    "readings_bench": [
        "### Readings burst (bench/readings_bench.py)",
        "| 16 | baseline (Litestar + asyncpg, readings' submission in process) |",
        "| 16 | IBOK gateway → readings (logged in) |",
        "| 32 | baseline (Litestar + asyncpg, readings' submission in process) |",
        "| 32 | IBOK gateway → readings (logged in) |",
        "readings a second end to end",
    ],
    "login_bench": [
        "### Login (bench/login_bench.py)",
        "| one argon2id hash: CPU time, median |",
        "| logins per second |",
        "| gateway /health/ready while logins run",
        "| auth /health/ready while logins run",
    ],
    "ingest_bench": [
        "### Billing import (bench/ingest_bench.py)",
        "| billing through RabbitMQ, published while it runs (first publish to last commit) |",
        "| billing through RabbitMQ, a queued backlog drained (ready to last commit) |",
        "| baseline: COPY, asyncpg |",
    ],
    "rpc_bench": [
        "### RPC round trip (bench/rpc_bench.py)",
        "sequential p50",
        "32 concurrent",
    ],
    "fanout_bench": [
        "### Terms fan-out (bench/fanout_bench.py, 50 recipients)",
        "| recipients | 50 |",
        "| emails accepted twice | 0 |",
    ],
}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def nothing_refused(script: str, out: str) -> None:
    """The data fits the day of the run: no request refused (4xx), and every reading stored
    has its message. (A 5xx can be an RPC timeout on a crowded machine: the table shows it,
    the test does not judge the machine's speed.)"""
    if script == "readings_bench":
        # | connections | path | rate | p50 | p99 | 201 / 200 / 4xx / 5xx / socket | stored / sent |
        rows = re.findall(
            r"^\| \d+ \| [^|]+ \| \d+ \| [\d.]+ ms \| [\d.]+ ms \| (\d+) / (\d+) / (\d+) / (\d+) "
            r"/ \d+ \| (\d+) / (\d+) \|",
            out,
            re.MULTILINE,
        )
        assert len(rows) == 4, out
        for created, replaced, refused, _failed, stored, sent in rows:
            assert int(created) + int(replaced) > 0, out
            assert refused == "0", out
            # Every stored reading sent; a reading replaced the same day is sent again (its
            # new revision), so there may be more messages than readings.
            assert int(sent) >= int(stored), out
    elif script == "invoices_bench":
        # | connections | path | requests/s | p50 | p99 | errors | non-2xx | ratio |
        non_2xx = re.findall(
            r"^\| \d+ \| [^|]+ \| \d+ \| .+ \| \d+ \| (\d+) \| [\d.]+ \|$", out, re.M
        )
        assert non_2xx == ["0"] * 6, out


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_runs_in_smoke_mode(script: str, infra: Infra) -> None:
    assert shutil.which("wrk"), "wrk is missing: `make install` installs it (apt-get install wrk)"
    before = digest(PERFORMANCE_MD)
    env = {
        **os.environ,
        "IBOK_BENCH_POSTGRES": infra.postgres_base,
        "IBOK_BENCH_AMQP": infra.amqp_base,
    }
    run = subprocess.run(
        [sys.executable, "-m", f"bench.{script}", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for line in EXPECTED[script]:
        assert line in run.stdout, f"{line!r} not printed:\n{run.stdout}"
    nothing_refused(script, run.stdout)
    assert digest(PERFORMANCE_MD) == before, "--smoke appended to docs/performance.md"
