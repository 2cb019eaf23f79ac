"""The soak (bench/soak.py) in its short form, so the script cannot rot between real runs.

About 20 s of every kind of traffic with one fault drawn at random (a broker restart, a
PostgreSQL kill or a half-open broker connection) on servers of its own, then the whole
exactly-once check; the script exits 0 only when it holds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]


def test_soak_smoke_run_ends_exactly_once(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--smoke", "--logs", str(tmp_path / "logs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(run.stdout[-4000:])
    assert run.returncode == 0, f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    assert "exactly once: ok" in run.stdout
    assert "faults (1):" in run.stdout
