"""Rate limits: how many requests a client, an account or a customer number may make per window."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection


@dataclass(frozen=True)
class Limit:
    requests: int
    per_seconds: float


@dataclass
class SlidingWindowLimiter:
    """Approximate sliding window: the previous window's count weighted by how much of it overlaps.

    Memory is two counters per key; keys of windows long gone are dropped as the clock moves.
    Counts live in one gateway process: behind several processes each enforces its own share,
    and the auth service enforces the hard login limits in its database.
    """

    limit: Limit
    _windows: dict[str, tuple[int, int, int]] = field(
        default_factory=dict
    )  # key -> (window, prev, cur)

    def hit(self, key: str, now: float) -> float:
        """Count one request; 0 when allowed, else seconds until a retry may be allowed."""
        size = self.limit.per_seconds
        window = int(now // size)
        start, previous, current = self._windows.get(key, (window, 0, 0))
        if window == start + 1:
            previous, current = current, 0
        elif window > start + 1:
            previous, current = 0, 0
        elapsed = (now - window * size) / size
        estimate = previous * (1 - elapsed) + current
        if estimate + 1 > self.limit.requests:
            self._windows[key] = (window, previous, current)
            # When will the weighted previous count have fallen enough to admit one more?
            if previous and current + 1 <= self.limit.requests:
                needed = 1 - (self.limit.requests - current - 1) / previous
                return max(math.ceil((needed - elapsed) * size), 1)
            return max(math.ceil((1 - elapsed) * size), 1)
        self._windows[key] = (window, previous, current + 1)
        if len(self._windows) > 100_000:
            self._forget_before(window - 1)
        return 0.0

    def _forget_before(self, window: int) -> None:
        for key in [k for k, (w, _, _) in self._windows.items() if w < window]:
            del self._windows[key]


def registration_retry_after(
    connection: ASGIConnection[Any, Any, Any, Any], customer: str
) -> float:
    """Count one registration attempt for a customer number (API and portal alike), on top of
    the per-address limit: 0 when allowed, else seconds until the next may be."""
    limiter: SlidingWindowLimiter = connection.app.state.registrations
    return limiter.hit(customer.strip().upper(), time.monotonic())
