"""Session cookies under ``__Host-`` where cookies are Secure: set so at login, read only so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from contracts import auth
from contracts.maintenance import GET_MAINTENANCE, MaintenanceState
from services.gateway.app import create_app
from services.gateway.cookie_prefix import incoming, outgoing
from services.gateway.protection import CSRF_HEADER, csrf_token_for
from tests.service.gateway.conftest import CUSTOMER, SETTINGS, FakeRpc, QuietEvents

TOKEN = "t" * 40


@pytest.fixture
async def secure_gateway() -> AsyncIterator[tuple[AsyncTestClient[Any], FakeRpc]]:
    fake = FakeRpc()
    fake.answer(GET_MAINTENANCE, MaintenanceState(on=False))
    app = create_app(
        SETTINGS.model_copy(update={"cookie_secure": True}), rpc_client=fake, events=QuietEvents()
    )
    async with AsyncTestClient(app, base_url="https://127.0.0.1") as client:
        yield client, fake


async def test_login_sets_a_host_prefixed_secure_cookie_and_only_that_name_opens_a_session(
    secure_gateway: tuple[AsyncTestClient[Any], FakeRpc],
) -> None:
    client, fake = secure_gateway
    expires = datetime(2026, 12, 1, 12, tzinfo=UTC)
    fake.answer(
        auth.LOG_IN,
        auth.SessionOpened(token=TOKEN, account_id=CUSTOMER.account_id, expires_at=expires),
    )
    login = await client.post("/api/v1/auth/login", json={"login": "jan", "password": "Tajne123"})
    assert login.status_code == 200, login.text
    set_cookie = login.headers.get_list("set-cookie")
    session = next(c for c in set_cookie if c.startswith("__Host-ibok_session="))
    assert "Secure" in session and "Path=/" in session and "Domain" not in session
    assert not any(c.startswith("ibok_session=") for c in set_cookie)
    assert login.headers[CSRF_HEADER] == csrf_token_for(TOKEN)

    fake.answer(auth.RESOLVE_SESSION, CUSTOMER)
    client.cookies.clear()
    prefixed = await client.get("/api/v1/me", headers={"cookie": f"__Host-ibok_session={TOKEN}"})
    assert prefixed.status_code != 401
    assert [s.token for s in fake.sent(auth.RESOLVE_SESSION)] == [TOKEN]
    # A cookie under the plain name could have been planted without TLS: it opens nothing.
    planted = await client.get("/api/v1/me", headers={"cookie": f"ibok_session={TOKEN}"})
    assert planted.status_code == 401


def test_the_renaming_keeps_other_cookies_and_adds_secure_to_a_deletion() -> None:
    assert incoming("ibok_lang=en; __Host-ibok_staff_session=abc; ibok_session=planted") == (
        "ibok_lang=en; ibok_staff_session=abc"
    )
    assert outgoing('ibok_session=""; Max-Age=0; Path=/') == (
        '__Host-ibok_session=""; Max-Age=0; Path=/; Secure'
    )
    assert outgoing("ibok_lang=en; Path=/") == "ibok_lang=en; Path=/"
