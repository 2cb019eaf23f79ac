"""Sessions through the gateway on the real services: timeouts (R13), the customer's list, load."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg
import httpx
from argon2 import PasswordHasher

from tests.support.clients import gateway_client
from tests.support.customers import PASSWORD, logged_in_client, with_active_contract
from tests.support.mail import MailSink
from tools.billing_sim.dataset import Dataset, SimCustomer
from tools.system import System

LOGIN = "/api/v1/auth/login"


async def age_sessions(db: asyncpg.Connection, login: str, column: str, age: timedelta) -> None:
    """The controllable clock: the login's sessions were last used (or made) ``age`` ago."""
    assert column in ("last_seen_at", "created_at")
    await db.execute(
        f"UPDATE auth.sessions SET {column} = now() - $2::interval WHERE account_id ="
        " (SELECT id FROM auth.accounts WHERE login_key = $1)",
        login,
        age,
    )


async def test_session_ends_after_15_idle_minutes_and_12_hours_after_login(
    gateway: str, billing_data: Dataset, mail_sink: MailSink, db: asyncpg.Connection
) -> None:
    """R13: idle and absolute timeouts, with the clock moved in the database (no sleeping)."""
    client = await logged_in_client(
        gateway, mail_sink, with_active_contract(billing_data, 10), "timeout.user"
    )
    try:
        await age_sessions(db, "timeout.user", "last_seen_at", timedelta(minutes=14, seconds=50))
        assert (await client.get("/api/v1/me")).status_code == 200  # and this use renews it
        await age_sessions(db, "timeout.user", "last_seen_at", timedelta(minutes=15, seconds=1))
        idle = await client.get("/api/v1/me")
        assert idle.status_code == 401 and idle.json()["code"] == "session_invalid"

        login = await client.post(LOGIN, json={"login": "timeout.user", "password": PASSWORD})
        assert login.status_code == 200
        await age_sessions(db, "timeout.user", "created_at", timedelta(hours=11, minutes=59))
        assert (await client.get("/api/v1/me")).status_code == 200
        await age_sessions(db, "timeout.user", "created_at", timedelta(hours=12, seconds=1))
        # Used a moment ago, yet past the absolute timeout.
        absolute = await client.get("/api/v1/me")
        assert absolute.status_code == 401
        assert (
            await db.fetchval(
                "SELECT count(*) FROM auth.sessions WHERE account_id ="
                " (SELECT id FROM auth.accounts WHERE login_key = 'timeout.user')"
            )
            == 0
        )
    finally:
        await client.aclose()


async def test_login_gives_a_new_session_id_and_ends_the_browsers_earlier_session(
    gateway: str, auth_customers: list[SimCustomer], mail_sink: MailSink
) -> None:
    """R13: the session id changes at login (no fixation)."""
    client = await logged_in_client(gateway, mail_sink, auth_customers[10], "fixation.user")
    try:
        before = client.cookies["ibok_session"]
        again = await client.post(LOGIN, json={"login": "fixation.user", "password": PASSWORD})
        assert again.status_code == 200
        assert client.cookies["ibok_session"] != before
        async with gateway_client(gateway, cookies={"ibok_session": before}) as old:
            assert (await old.get("/api/v1/me")).status_code == 401
    finally:
        await client.aclose()


async def test_twenty_concurrent_logins_do_not_stall_health_requests(
    gateway: str,
    billing_data: Dataset,
    mail_sink: MailSink,
    system: System,
    db: asyncpg.Connection,
) -> None:
    """Hashing runs outside the event loop: auth and the gateway answer health while 20 log in.

    The account's hash is made with heavier parameters than the suite's (32 MiB: about 50 ms a
    check on an idle machine of this kind), so 20 checks on the event loop would stall it for
    about a second; the health requests must not wait for them.
    """
    setup = await logged_in_client(
        gateway, mail_sink, with_active_contract(billing_data, 11), "busy.user"
    )
    await setup.aclose()
    heavy = PasswordHasher(time_cost=1, memory_cost=32_768, parallelism=1)
    await db.execute(
        "UPDATE auth.accounts SET password_hash = $1 WHERE login_key = 'busy.user'",
        await asyncio.to_thread(heavy.hash, PASSWORD),
    )
    auth_url, body = system.url("auth"), {"login": "busy.user", "password": PASSWORD}
    health_latencies: dict[str, list[float]] = {"auth": [], "gateway": []}

    async with httpx.AsyncClient(timeout=30) as client:

        async def log_in() -> httpx.Response:
            return await client.post(f"{gateway}{LOGIN}", json=body)

        async def health_while(logins: asyncio.Future[list[httpx.Response]]) -> None:
            while not logins.done():
                for name, base in (("auth", auth_url), ("gateway", gateway)):
                    started = time.perf_counter()
                    answer = await client.get(f"{base}/health/live")
                    health_latencies[name].append(time.perf_counter() - started)
                    assert answer.status_code == 200

        started = time.perf_counter()
        logins = asyncio.gather(*(log_in() for _ in range(20)))
        await health_while(logins)
        answers = await logins
        total = time.perf_counter() - started

    assert [a.status_code for a in answers] == [200] * 20
    worst = {name: max(values) for name, values in health_latencies.items()}
    print(
        f"20 concurrent logins: {total * 1000:.0f} ms; health during them: "
        + ", ".join(
            f"{name} {len(health_latencies[name])} requests, worst {worst[name] * 1000:.0f} ms"
            for name in worst
        )
    )
    assert all(len(v) >= 3 for v in health_latencies.values()), "too few health requests ran"
    # Generous for a shared 2-core machine; hashing on the event loop would stall it for seconds.
    # Generous for a loaded 2-core machine: a blocked event loop would stall for the whole burst.
    assert worst["auth"] < 2.0 and worst["gateway"] < 2.0
