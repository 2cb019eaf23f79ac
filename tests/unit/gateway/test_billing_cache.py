"""The gateway's cache of billing's answers: exact while billing's change events are heard."""

from __future__ import annotations

import asyncio

from contracts.billing import BillingDataChanged
from services.gateway.billing_cache import BillingCache


class Billing:
    """Stands for the billing service: answers with its current version of each customer."""

    def __init__(self) -> None:
        self.version = {"K1": 1, "K2": 1}
        self.asked = 0

    def loader(self, customer: str, gate: asyncio.Event | None = None):  # type: ignore[no-untyped-def]
        async def load() -> int:
            self.asked += 1
            answer = self.version[customer]
            if gate is not None:
                await gate.wait()
            return answer

        return load


def listening_cache(ttl: float = 300) -> BillingCache:
    cache = BillingCache(ttl)
    cache.on_listening(True)
    return cache


async def test_a_kept_answer_is_served_until_its_customer_changes() -> None:
    billing, cache = Billing(), listening_cache()
    assert await cache.through("K1", ("list",), billing.loader("K1")) == 1
    assert await cache.through("K1", ("list",), billing.loader("K1")) == 1
    assert billing.asked == 1

    billing.version["K1"] = 2
    cache.on_data_changed(BillingDataChanged(customer_numbers=["K1"]).to_wire())
    assert await cache.through("K1", ("list",), billing.loader("K1")) == 2
    assert billing.asked == 2


async def test_a_change_to_another_customer_keeps_the_answer() -> None:
    billing, cache = Billing(), listening_cache()
    await cache.through("K1", ("list",), billing.loader("K1"))
    cache.changed(["K2"])
    await cache.through("K1", ("list",), billing.loader("K1"))
    assert billing.asked == 1


async def test_a_change_to_everyone_drops_every_answer() -> None:
    billing, cache = Billing(), listening_cache()
    await cache.through("K1", ("list",), billing.loader("K1"))
    await cache.through("K2", ("list",), billing.loader("K2"))
    cache.on_data_changed(BillingDataChanged(customer_numbers=None).to_wire())
    await cache.through("K1", ("list",), billing.loader("K1"))
    await cache.through("K2", ("list",), billing.loader("K2"))
    assert billing.asked == 4


async def test_an_answer_fetched_across_a_change_is_not_kept() -> None:
    """Billing read version 1, then committed version 2 and announced it before the reply
    arrived: keeping the reply would serve version 1 until the next change."""
    billing, cache = Billing(), listening_cache()
    gate = asyncio.Event()
    slow = asyncio.create_task(cache.through("K1", ("list",), billing.loader("K1", gate)))
    await asyncio.sleep(0)
    billing.version["K1"] = 2
    cache.changed(["K1"])
    gate.set()
    assert await slow == 1  # that request raced the change; it may see the old answer once
    assert await cache.through("K1", ("list",), billing.loader("K1")) == 2


async def test_nothing_is_kept_or_served_while_the_events_are_not_heard() -> None:
    billing, cache = Billing(), listening_cache()
    await cache.through("K1", ("list",), billing.loader("K1"))
    cache.on_listening(False)  # broker lost: a change may go unheard
    billing.version["K1"] = 2
    assert await cache.through("K1", ("list",), billing.loader("K1")) == 2
    assert await cache.through("K1", ("list",), billing.loader("K1")) == 2
    assert billing.asked == 3
    cache.on_listening(True)  # back: nothing from before the loss is served
    assert await cache.through("K1", ("list",), billing.loader("K1")) == 2
    assert billing.asked == 4


async def test_keys_are_separate_and_errors_are_not_kept() -> None:
    billing, cache = Billing(), listening_cache()
    await cache.through("K1", ("list", "page 1"), billing.loader("K1"))
    await cache.through("K1", ("list", "page 2"), billing.loader("K1"))
    assert billing.asked == 2

    async def failing() -> int:
        billing.asked += 1
        raise LookupError("not found")

    for _ in range(2):
        try:
            await cache.through("K1", ("detail",), failing)
        except LookupError:
            pass
    assert billing.asked == 4


async def test_entries_expire_and_a_zero_ttl_keeps_nothing() -> None:
    billing = Billing()
    short = listening_cache(ttl=0.05)
    await short.through("K1", ("list",), billing.loader("K1"))
    await asyncio.sleep(0.08)
    await short.through("K1", ("list",), billing.loader("K1"))
    assert billing.asked == 2

    off = listening_cache(ttl=0)
    await off.through("K1", ("list",), billing.loader("K1"))
    await off.through("K1", ("list",), billing.loader("K1"))
    assert billing.asked == 4


async def test_the_cache_is_bounded() -> None:
    billing, cache = Billing(), BillingCache(300, max_entries=3)
    cache.on_listening(True)
    for page in range(5):
        await cache.through("K1", ("list", page), billing.loader("K1"))
    assert sum(len(entries) for entries in cache._entries.values()) <= 3
