"""Staff through the gateway on the real services: roles, separate sessions, blocks (R5), audit."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from contracts import auth
from runtime.clock import business_today
from runtime.rpc_client import RpcClient
from tests.conftest import STAFF_PASSWORD, solve_captcha, staff_client
from tests.support.clients import gateway_client
from tests.support.customers import PASSWORD, logged_in_client, registration, with_active_contract
from tests.support.infra import Infra
from tests.support.mail import MailSink
from tests.support.mfa import staff_login
from tools.billing_sim.dataset import Dataset, SimCustomer
from tools.system import System

LOGIN = "/api/v1/auth/login"
PESEL_CHECK = {"identity_check_used": "pesel", "identity_verified": True}


@pytest.fixture
async def care(
    gateway: str, staff_logins: dict[str, tuple[str, str]]
) -> AsyncIterator[httpx.AsyncClient]:
    client = await staff_client(gateway, *staff_logins["care"])
    yield client
    await client.aclose()


@pytest.fixture
async def admin(
    gateway: str, staff_logins: dict[str, tuple[str, str]]
) -> AsyncIterator[httpx.AsyncClient]:
    client = await staff_client(gateway, *staff_logins["admin"])
    yield client
    await client.aclose()


async def test_block_ends_a_live_session_within_one_request_and_login_then_says_blocked(
    gateway: str,
    billing_data: Dataset,
    mail_sink: MailSink,
    care: httpx.AsyncClient,
    staff_logins: dict[str, tuple[str, str]],
    db: asyncpg.Connection,
) -> None:
    """R5: a block ends every session at once; only a correct password learns of the block."""
    customer = await logged_in_client(
        gateway, mail_sink, with_active_contract(billing_data, 9), "blocked.user"
    )
    second_device = gateway_client(gateway, timeout=15)
    try:
        assert (
            await second_device.post(LOGIN, json={"login": "blocked.user", "password": PASSWORD})
        ).status_code == 200
        assert (await customer.get("/api/v1/me")).status_code == 200

        blocked = await care.post(
            "/api/v1/staff/accounts/BLOCKED.user/block",
            json={"reason": "Klient zgubił telefon", "permanent": True} | PESEL_CHECK,
        )
        assert blocked.status_code == 200, blocked.text
        assert blocked.json()["blocked"] is True and blocked.json()["permanent"] is True

        # The very next request of either device is refused.
        assert (await customer.get("/api/v1/me")).status_code == 401
        assert (await second_device.get("/api/v1/me")).status_code == 401
        assert (
            await db.fetchval(
                "SELECT count(*) FROM auth.sessions s JOIN auth.accounts a ON a.id = s.account_id"
                " WHERE a.login_key = 'blocked.user'"
            )
            == 0
        )

        # A wrong password reveals nothing; the right one (with the captcha it now needs) does.
        wrong = await customer.post(LOGIN, json={"login": "blocked.user", "password": "Wrong2026"})
        assert wrong.json()["code"] == "invalid_credentials"
        told = await customer.post(
            LOGIN,
            json={"login": "blocked.user", "password": PASSWORD} | await solve_captcha(customer),
        )
        assert told.status_code == 403
        assert told.json()["code"] == "account_blocked"
        assert "bezterminowo" in told.json()["detail"]
        assert "Biurem Obsługi Klienta" in told.json()["detail"]
        english = await customer.post(
            LOGIN,
            json={"login": "blocked.user", "password": PASSWORD},
            headers={"Accept-Language": "en"},
        )
        assert "customer service office" in english.json()["detail"]

        # The identity check is recorded by kind; no number is stored anywhere in the block.
        block = await db.fetchrow(
            "SELECT b.* FROM auth.blocks b JOIN auth.accounts a ON a.id = b.account_id"
            " WHERE a.login_key = 'blocked.user'"
        )
        assert block["identity_check"] == "pesel" and block["identity_verified"] is True
        assert with_active_contract(billing_data, 9).identity_number not in json.dumps(
            dict(block), default=str
        )

        unblocked = await care.post(
            "/api/v1/staff/accounts/blocked.user/unblock", json={"reason": "Telefon odzyskany"}
        )
        assert unblocked.status_code == 200 and unblocked.json()["blocked"] is False
        again = await customer.post(LOGIN, json={"login": "blocked.user", "password": PASSWORD})
        assert again.status_code == 200, again.text
        assert (await customer.get("/api/v1/me")).status_code == 200

        not_blocked = await care.post("/api/v1/staff/accounts/blocked.user/unblock", json={})
        assert not_blocked.status_code == 409 and not_blocked.json()["code"] == "not_blocked"
    finally:
        await customer.aclose()
        await second_device.aclose()

    audit = await care.get("/api/v1/staff/accounts/blocked.user/audit", params={"limit": 100})
    assert audit.status_code == 200, audit.text
    entries = audit.json()["items"]
    actions = [e["action"] for e in entries]
    for expected in (
        "registered",
        "email_verified",
        "login",
        "account_blocked",
        "login_failed",
        "captcha_demanded",
        "login_refused_blocked",
        "account_unblocked",
    ):
        assert expected in actions, f"{expected} missing from {actions}"
    block_entry = next(e for e in entries if e["action"] == "account_blocked")
    assert block_entry["actor_kind"] == "staff"
    assert block_entry["actor_login"] == staff_logins["care"][0]
    assert block_entry["detail"]["identity_check"] == "pesel"
    assert block_entry["detail"]["sessions_ended"] == 2
    assert block_entry["client_address"] == "127.0.0.1"
    # Never a password, a token or an identity number.
    text = audit.text
    assert PASSWORD not in text and "Wrong2026" not in text
    assert with_active_contract(billing_data, 9).identity_number not in text
    assert "token" not in text and "password_hash" not in text


async def test_temporary_block_holds_through_its_last_day_and_lifts_itself_after(
    gateway: str,
    auth_customers: list[SimCustomer],
    mail_sink: MailSink,
    care: httpx.AsyncClient,
    db: asyncpg.Connection,
) -> None:
    customer = await logged_in_client(gateway, mail_sink, auth_customers[1], "until.today")
    try:
        today = business_today()
        answer = await care.post(
            "/api/v1/staff/accounts/until.today/block",
            json={"reason": "Na prośbę klienta", "until": today.isoformat()} | PESEL_CHECK,
        )
        assert answer.status_code == 200, answer.text
        told = await customer.post(LOGIN, json={"login": "until.today", "password": PASSWORD})
        assert told.status_code == 403
        assert today.strftime("%d.%m.%Y") in told.json()["detail"]

        # The Warsaw calendar moves on a day (in the database): the block has lifted itself.
        await db.execute(
            "UPDATE auth.blocks SET blocked_until = blocked_until - 1 WHERE account_id ="
            " (SELECT id FROM auth.accounts WHERE login_key = 'until.today')"
        )
        lifted = await customer.post(LOGIN, json={"login": "until.today", "password": PASSWORD})
        assert lifted.status_code == 200, lifted.text
    finally:
        await customer.aclose()

    past = await care.post(
        "/api/v1/staff/accounts/until.today/block",
        json={"reason": "x", "until": (today - timedelta(days=1)).isoformat()} | PESEL_CHECK,
    )
    assert past.status_code == 422 and past.json()["code"] == "block_period_invalid"
    unverified = await care.post(
        "/api/v1/staff/accounts/until.today/block",
        json={
            "reason": "x",
            "permanent": True,
            "identity_check_used": "pesel",
            "identity_verified": False,
        },
    )
    assert unverified.status_code == 400
    with_number = await care.post(
        "/api/v1/staff/accounts/until.today/block",
        json={"reason": "x", "permanent": True, "identity_number": "44051401359"} | PESEL_CHECK,
    )
    assert with_number.status_code == 400
    unknown = await care.post(
        "/api/v1/staff/accounts/nobody.at.all/block",
        json={"reason": "x", "permanent": True} | PESEL_CHECK,
    )
    assert unknown.status_code == 404


async def test_customer_session_does_not_open_staff_routes_and_staff_session_does_not_open_customer_routes(
    gateway: str,
    auth_customers: list[SimCustomer],
    mail_sink: MailSink,
    care: httpx.AsyncClient,
) -> None:
    customer = await logged_in_client(gateway, mail_sink, auth_customers[2], "not.staff")
    try:
        customer_token = customer.cookies["ibok_session"]
        staff_token = care.cookies["ibok_staff_session"]
        assert (await customer.get("/api/v1/me")).status_code == 200
        assert (await care.get("/api/v1/staff/auth/me")).status_code == 200

        # The customer's cookie on a staff route.
        refused = await customer.post(
            "/api/v1/staff/accounts/not.staff/block",
            json={"reason": "x", "permanent": True} | PESEL_CHECK,
        )
        assert refused.status_code == 401
        assert (await customer.get("/api/v1/staff/accounts/not.staff/audit")).status_code == 401
        # The customer's token under the staff cookie's name.
        async with httpx.AsyncClient(
            base_url=gateway, cookies={"ibok_staff_session": customer_token}
        ) as forged:
            assert (await forged.get("/api/v1/staff/auth/me")).status_code == 401
        # The staff token under the customer cookie's name, and the staff cookie on /me.
        async with httpx.AsyncClient(
            base_url=gateway, cookies={"ibok_session": staff_token}
        ) as forged:
            assert (await forged.get("/api/v1/me")).status_code == 401
        assert (await care.get("/api/v1/me")).status_code == 401
    finally:
        await customer.aclose()


async def test_care_blocks_but_only_admin_manages_staff(
    gateway: str, care: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    new_user = {"login": "care.two", "name": "Care Two", "role": "care", "password": STAFF_PASSWORD}
    forbidden = await care.post("/api/v1/staff/staff-users", json=new_user)
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
    assert (await care.get("/api/v1/staff/staff-users")).status_code == 403

    short = await admin.post("/api/v1/staff/staff-users", json=new_user | {"password": "Short1"})
    assert short.status_code == 422 and short.json()["code"] == "password_length"
    created = await admin.post("/api/v1/staff/staff-users", json=new_user)
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "care" and "password" not in created.text
    duplicate = await admin.post("/api/v1/staff/staff-users", json=new_user | {"login": "CARE.two"})
    assert duplicate.status_code == 409

    listed = await admin.get("/api/v1/staff/staff-users", params={"limit": 2})
    assert listed.status_code == 200
    first = listed.json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    logins = [u["login"] for u in first["items"]]
    cursor = first["next_cursor"]
    while cursor:  # other tests make staff users too: follow every page
        page = (
            await admin.get("/api/v1/staff/staff-users", params={"limit": 2, "cursor": cursor})
        ).json()
        logins += [u["login"] for u in page["items"]]
        cursor = page["next_cursor"]
    assert {"admin.one", "care.one", "care.two"} <= set(logins)
    assert "hash" not in listed.text

    async with gateway_client(gateway, timeout=15) as two:
        login = await staff_login(two, "Care.Two", STAFF_PASSWORD)
        assert login.status_code == 200 and login.json()["role"] == "care"
        assert "ibok_staff_session" in login.headers["set-cookie"]
        assert "HttpOnly" in login.headers["set-cookie"]
        out = await two.post("/api/v1/staff/auth/logout")
        assert out.status_code == 204
        assert (await two.get("/api/v1/staff/auth/me")).status_code == 401


def test_create_admin_refuses_a_weak_password_and_a_taken_login(
    system: System, infra: Infra, staff_logins: dict[str, tuple[str, str]]
) -> None:
    env = {**system.env, "IBOK_POSTGRES_DSN": infra.postgres_dsn}

    def create(login: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.ops",
                "create-admin",
                "--login",
                login,
                "--password-stdin",
            ],
            input=password + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    weak = create("admin.weak", "short1")
    assert weak.returncode == 2 and "12 to 128" in weak.stderr
    taken = create(staff_logins["admin"][0].upper(), STAFF_PASSWORD)
    assert taken.returncode == 1 and "exists already" in taken.stderr


async def test_staff_wrong_password_demands_a_captcha_too(
    gateway: str, admin: httpx.AsyncClient
) -> None:
    await admin.post(
        "/api/v1/staff/staff-users",
        json={
            "login": "care.three",
            "name": "Care Three",
            "role": "care",
            "password": STAFF_PASSWORD,
        },
    )
    headers = {"X-Forwarded-For": "198.51.100.30"}
    async with gateway_client(gateway, timeout=15, headers=headers) as client:
        wrong = await client.post(
            "/api/v1/staff/auth/login", json={"login": "care.three", "password": "Wrong2026wrong"}
        )
        assert wrong.status_code == 401 and wrong.json()["captcha_required"] is True
        bare = await client.post(
            "/api/v1/staff/auth/login", json={"login": "care.three", "password": STAFF_PASSWORD}
        )
        assert bare.json()["code"] == "captcha_required"
        solved = await staff_login(
            client, "care.three", STAFF_PASSWORD, **await solve_captcha(client)
        )
        assert solved.status_code == 200, solved.text


async def test_accounts_of_customers_tell_login_and_status_for_the_staff_view(
    gateway: str,
    infra: Infra,
    auth_customers: list[SimCustomer],
    mail_sink: MailSink,
    care: httpx.AsyncClient,
) -> None:
    active, blocked, pending, none = (
        auth_customers[3],
        auth_customers[4],
        auth_customers[7],
        auth_customers[11],
    )
    for customer, login in ((active, "status.active"), (blocked, "status.blocked")):
        client = await logged_in_client(gateway, mail_sink, customer, login)
        await client.aclose()
    async with gateway_client(gateway, timeout=15) as client:
        registered = await client.post(
            "/api/v1/auth/register", json=registration(pending, "status.pending")
        )
        assert registered.status_code == 201
    until = business_today() + timedelta(days=3)
    assert (
        await care.post(
            "/api/v1/staff/accounts/status.blocked/block",
            json={"reason": "x", "until": until.isoformat()} | PESEL_CHECK,
        )
    ).status_code == 200

    rpc = RpcClient(infra.amqp_url, timeout=10, name="ibok-test-accounts")
    await rpc.start()
    try:
        reply = await rpc.call(
            auth.ACCOUNTS_OF_CUSTOMERS,
            auth.AccountsOfCustomersQuery(
                customer_numbers=[active.number, blocked.number, pending.number, none.number]
            ),
        )
    finally:
        await rpc.stop()
    by_number = {a.customer_number: a for a in reply.accounts}
    assert set(by_number) == {active.number, blocked.number, pending.number}
    assert by_number[active.number].status == "active"
    assert by_number[active.number].login == "status.active"
    assert by_number[blocked.number].status == "blocked"
    assert by_number[blocked.number].blocked_until == until
    assert by_number[pending.number].status == "pending"
    assert by_number[pending.number].email_verified is False
