"""The gateway's short session cache: hits, expiry, and forgetting on ended sessions."""

from __future__ import annotations

import asyncio
import uuid

from contracts import auth
from services.gateway.sessions import SessionCache


def info(account: uuid.UUID, login: str = "jan") -> auth.SessionInfo:
    return auth.SessionInfo(account_id=account, login=login, customer_number="K1")


def test_a_session_is_remembered_for_the_ttl_only() -> None:
    cache, account = SessionCache(5), uuid.uuid4()
    cache.put("t1", info(account), now=100.0)
    assert cache.get("t1", now=104.9) == info(account)
    assert cache.get("t1", now=105.0) is None


def test_sessions_ended_event_forgets_every_session_of_the_account() -> None:
    cache, account, other = SessionCache(5), uuid.uuid4(), uuid.uuid4()
    cache.put("a1", info(account), now=0)
    cache.put("a2", info(account), now=0)
    cache.put("b1", info(other, "ewa"), now=0)
    cache.on_sessions_ended(auth.SessionsEnded(account_id=account, reason="blocked").to_wire())
    assert cache.get("a1", now=1) is None and cache.get("a2", now=1) is None
    assert cache.get("b1", now=1) is not None


def test_forget_by_login_ignores_case_and_a_zero_ttl_caches_nothing() -> None:
    cache = SessionCache(5)
    cache.put("a1", info(uuid.uuid4(), "Jan.K"), now=0)
    cache.forget_login("jan.k")
    assert cache.get("a1", now=1) is None
    off = SessionCache(0)
    off.put("x", info(uuid.uuid4()), now=0)
    assert off.get("x", now=0) is None


def test_the_cache_stays_bounded() -> None:
    cache = SessionCache(5, max_entries=3)
    for n in range(10):
        cache.put(f"t{n}", info(uuid.uuid4()), now=float(n) * 10)
    assert sum(cache.get(f"t{n}", now=90.0) is not None for n in range(10)) <= 3


async def test_requests_waiting_for_one_session_ask_auth_once() -> None:
    cache, account = SessionCache(5), uuid.uuid4()
    asked = 0
    release = asyncio.Event()

    async def ask() -> auth.SessionInfo:
        nonlocal asked
        asked += 1
        await release.wait()
        return info(account)

    waiting = [asyncio.create_task(cache.resolve("t1", ask)) for _ in range(64)]
    await asyncio.sleep(0)
    release.set()
    assert {r.login for r in await asyncio.gather(*waiting)} == {"jan"} and asked == 1
    await cache.resolve("t1", ask)  # the answer came: the next miss asks again
    assert asked == 2


async def test_a_failed_question_fails_every_waiter_and_is_not_kept() -> None:
    cache = SessionCache(5)

    async def ask() -> auth.SessionInfo:
        await asyncio.sleep(0)
        raise LookupError("auth unreachable")

    results = await asyncio.gather(
        *(cache.resolve("t1", ask) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, LookupError) for r in results)
    assert cache.get("t1", now=0) is None
