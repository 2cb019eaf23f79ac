"""Billing's answers kept at the gateway until billing says they changed (R9).

Billing data comes from the billing system (nightly, R9) and changes only when billing applies
the billing system's messages. After every batch it applies, billing announces which customers'
data changed (``billing.data-changed.v1``; every customer when the sync time moved) through its
outbox, and every gateway process drops those customers' answers on hearing it. So a cached
answer is the answer billing would give, exactly; it is late only by the time that event takes
to arrive (milliseconds), as a request racing the commit would be.

Three rules keep it exact:

- An answer fetched while a change to that customer was announced is not kept: the cache keeps a
  counter of changes, and an answer is stored only if no change to its customer (or to everyone)
  was heard since its request left.
- While the gateway's event queue is not listening (broker away, reconnecting), nothing is
  served from the cache or stored in it, and what it held is dropped: a change may have been
  missed.
- Answers depend on the day (settlement's overdue days), so the Warsaw business date is part of
  the key; and every entry also expires after ``ttl`` seconds as a last safety net.

Errors (404 and the like) are never kept.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from prometheus_client import Counter

from contracts.billing import BillingDataChanged
from runtime.clock import business_today

T = TypeVar("T")

LOOKUPS = Counter(
    "ibok_gateway_billing_cache_lookups_total",
    "Billing reads at the gateway: answered from the cache (hit), asked of billing (miss), or "
    "asked of billing because the cache could not be trusted (bypass)",
    ["outcome"],
)
_HIT, _MISS, _BYPASS = (LOOKUPS.labels(outcome) for outcome in ("hit", "miss", "bypass"))


class BillingCache:
    def __init__(self, ttl: float, *, max_entries: int = 20_000) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._entries: dict[str, dict[tuple[object, ...], tuple[float, object]]] = {}
        self._size = 0
        self._clock = 0  # counts the changes heard
        self._changed: dict[str, int] = {}  # customer -> the clock at their latest change
        self._all_changed = 0  # the clock at the latest change to everyone
        self.listening = False  # set by the gateway's event queue

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.listening

    async def through(
        self, customer: str, key: tuple[object, ...], load: Callable[[], Awaitable[T]]
    ) -> T:
        """The answer for ``key`` of ``customer``: kept, or ``load()``-ed and kept if still exact."""
        if not self.enabled:
            _BYPASS.inc()
            return await load()
        full_key = (*key, business_today())
        now = time.monotonic()
        entry = self._entries.get(customer, {}).get(full_key)
        if entry is not None and entry[0] > now:
            _HIT.inc()
            return entry[1]  # type: ignore[return-value]  # stored by this key's own load
        _MISS.inc()
        asked_at = self._clock
        value = await load()
        if self.enabled and max(self._changed.get(customer, 0), self._all_changed) <= asked_at:
            self._store(customer, full_key, value, time.monotonic())
        return value

    def _store(self, customer: str, key: tuple[object, ...], value: object, now: float) -> None:
        if self._size >= self._max:
            self._drop_all()
        mine = self._entries.setdefault(customer, {})
        if key not in mine:
            self._size += 1
        mine[key] = (now + self.ttl, value)

    def changed(self, customers: Iterable[str] | None) -> None:
        """Billing changed these customers' data (None: everyone's)."""
        self._clock += 1
        if customers is None:
            self._all_changed = self._clock
            self._changed.clear()
            self._drop_all()
            return
        for customer in customers:
            self._changed[customer] = self._clock
            self._size -= len(self._entries.pop(customer, {}))

    def on_data_changed(self, body: bytes) -> None:
        event = BillingDataChanged.model_validate_json(body)
        self.changed(event.customer_numbers)

    def on_listening(self, listening: bool) -> None:
        """The event queue started or stopped listening: either way, what was kept may be stale."""
        self.listening = listening
        self.changed(None)

    def _drop_all(self) -> None:
        self._entries.clear()
        self._size = 0
