"""A job a service runs at start and then at a fixed interval (daily sweeps, retention)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from runtime.db import TRANSIENT_DB_ERRORS
from runtime.logs import get_logger
from runtime.worker import cancel_and_wait

log = get_logger(__name__)


class Repeating:
    """Runs ``job`` now and then every ``interval`` seconds; a failed run is retried sooner.

    The job must be idempotent: several processes of the service each run it.
    """

    def __init__(
        self,
        name: str,
        job: Callable[[], Awaitable[object]],
        interval: float,
        retry_after: float = 60.0,
    ) -> None:
        self._name = name
        self._job = job
        self._interval = interval
        self._retry_after = min(retry_after, interval)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            wait = self._interval
            try:
                await self._job()
            except TRANSIENT_DB_ERRORS as exc:
                log.warning("job.unavailable", job=self._name, error=type(exc).__name__)
                wait = self._retry_after
            except Exception:
                log.exception("job.failed", job=self._name)
                wait = self._retry_after
            await asyncio.sleep(wait)
