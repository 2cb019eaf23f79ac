"""The gateway keeps many requests in flight: 50 requests against a slow service take far less than 50 times one."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from contracts import auth
from runtime.rpc_server import RpcServer
from tests.support.infra import Infra
from tests.support.mail import MailSink
from tools.system import System

SLOW = 0.5


@pytest.fixture
async def slow_auth(own_vhost: Infra) -> AsyncIterator[None]:
    """A stand-in for auth whose session check takes SLOW seconds."""
    server = RpcServer(
        own_vhost.amqp_url, service="slow-auth", prefetch=64, registry=CollectorRegistry()
    )

    async def resolve(ref: auth.SessionRef) -> auth.SessionInfo:
        await asyncio.sleep(SLOW)
        return auth.SessionInfo(account_id=uuid.uuid4(), login="slow", customer_number="K1")

    async def profile(query: auth.ProfileQuery) -> auth.Profile:
        return auth.Profile(
            account_id=query.account_id,
            login="slow",
            customer_number="K1",
            customer_name="Slow",
            email="slow@example.com",
            email_verified=True,
            language="pl",
            created_at="2026-01-01T00:00:00Z",
        )

    server.answer(auth.RESOLVE_SESSION, resolve)
    server.answer(auth.PROFILE, profile)
    await server.start()
    try:
        yield
    finally:
        await server.stop()


@pytest.fixture
def lone_gateway(
    own_vhost: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    from tests.conftest import system_env

    system = System(system_env(own_vhost, mail_sink), log_dir=tmp_path_factory.mktemp("slow-logs"))
    system.start("gateway")
    try:
        system.wait_ready(("gateway",), timeout=30)
        yield system.url("gateway")
    finally:
        system.stop_all()


async def test_fifty_concurrent_requests_are_served_concurrently(
    slow_auth: None, lone_gateway: str
) -> None:
    cookies = {"ibok_session": "x" * 43}
    async with httpx.AsyncClient(base_url=lone_gateway, cookies=cookies, timeout=30) as client:
        started = time.perf_counter()
        one = await client.get("/api/v1/me")
        single = time.perf_counter() - started
        assert one.status_code == 200, one.text

        started = time.perf_counter()
        answers = await asyncio.gather(*(client.get("/api/v1/me") for _ in range(50)))
        total = time.perf_counter() - started
    assert all(a.status_code == 200 for a in answers)
    # Serially this would take 50 x SLOW = 25 s; concurrently about one request's time.
    assert single >= SLOW
    assert total < 10 * single, f"50 requests took {total:.2f} s, one took {single:.2f} s"
