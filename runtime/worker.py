"""The loop every background worker runs: work while there is a full batch, then wait to be woken."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

from runtime.db import TRANSIENT_DB_ERRORS
from runtime.logs import get_logger

log = get_logger(__name__)


async def keep_draining(
    step: Callable[[], Awaitable[int]],
    *,
    wake: asyncio.Event,
    poll_seconds: float,
    full_batch: int | None,
    name: str,
) -> None:
    """Call ``step`` (it returns how much it did) again at once after a full batch; otherwise
    wait for ``wake`` or ``poll_seconds``. The wake-up is cleared before each step, so one that
    arrives while a step runs is not lost. A database outage or a failure is logged and waited
    out, never ends the loop."""
    while True:
        wake.clear()
        try:
            done = await step()
        except TRANSIENT_DB_ERRORS as exc:
            log.warning(f"{name}.db_unavailable", error=type(exc).__name__)
            done = 0
        except Exception:
            log.exception(f"{name}.failed")
            done = 0
        if full_batch is not None and done >= full_batch:
            continue
        try:
            await asyncio.wait_for(wake.wait(), timeout=poll_seconds)
        except TimeoutError:
            pass


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Stop a background loop: cancel it and wait until it has ended."""
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
