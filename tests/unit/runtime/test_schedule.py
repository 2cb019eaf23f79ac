"""A repeating job (runtime.schedule): runs at start, again after its interval, and
sooner after a failure."""

from __future__ import annotations

import asyncio
import itertools

from runtime.schedule import Repeating


async def test_job_runs_at_start_and_then_every_interval() -> None:
    runs: list[float] = []
    loop = asyncio.get_running_loop()
    three = asyncio.Event()

    async def job() -> None:
        runs.append(loop.time())
        if len(runs) == 3:
            three.set()

    repeating = Repeating("test", job, interval=0.05)
    await repeating.start()
    await asyncio.wait_for(three.wait(), timeout=5)
    await repeating.stop()
    assert all(b - a >= 0.04 for a, b in itertools.pairwise(runs))


async def test_failed_run_is_retried_after_the_shorter_delay() -> None:
    calls = 0
    done = asyncio.Event()

    async def job() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first run fails")
        done.set()

    repeating = Repeating("test", job, interval=3600, retry_after=0.01)
    await repeating.start()
    await asyncio.wait_for(done.wait(), timeout=5)
    await repeating.stop()
    assert calls == 2
