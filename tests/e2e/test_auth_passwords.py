"""Passwords through the gateway on the real services: the R3 policy, change and reset by link."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg

from tests.support.clients import gateway_client
from tests.support.customers import PASSWORD, registration, with_active_contract
from tests.support.mail import MailSink, link_token
from tools.billing_sim.dataset import Dataset, SimCustomer

LOGIN = "/api/v1/auth/login"
EXACTLY_6 = "wq7zk2"  # not on the list of common passwords (abc123 is)
EXACTLY_20 = "Abcdefghij1234567890"


async def reset_token_of(db: asyncpg.Connection, login: str) -> str:
    """The link's token from the event auth emitted (notify turns it into the email)."""
    body = await db.fetchval(
        """
        SELECT o.body FROM auth.outbox o
        WHERE o.routing_key = 'auth.password-reset-requested.v1'
          AND convert_from(o.body, 'UTF8') LIKE '%' || $1 || '%'
        ORDER BY o.id DESC LIMIT 1
        """,
        f'"login":"{login}"',
    )
    assert body is not None, "no PasswordResetRequested event was emitted"
    return str(json.loads(bytes(body))["token"])


async def test_password_of_exactly_6_registers_and_changes_to_exactly_20_ending_other_sessions(
    gateway: str, billing_data: Dataset, mail_sink: MailSink
) -> None:
    """R3: 6 and 20 characters are both allowed; a change needs the current password and ends
    every other session of the account."""
    customer = with_active_contract(billing_data, 6)
    body = registration(customer, "policy.user", EXACTLY_6)
    async with (
        gateway_client(gateway, timeout=15) as laptop,
        gateway_client(gateway, timeout=15) as phone,
    ):
        assert (await laptop.post("/api/v1/auth/register", json=body)).status_code == 201
        token = await asyncio.to_thread(lambda: link_token(mail_sink.wait_for(body["email"])))
        assert (
            await laptop.post("/api/v1/auth/verify-email", json={"token": token})
        ).status_code == 204
        for client in (laptop, phone):
            answer = await client.post(LOGIN, json={"login": "policy.user", "password": EXACTLY_6})
            assert answer.status_code == 200, answer.text

        too_long = await laptop.post(
            "/api/v1/auth/password",
            json={"current_password": EXACTLY_6, "new_password": EXACTLY_20 + "1"},
        )
        assert too_long.status_code == 422 and too_long.json()["code"] == "password_length"
        wrong_current = await laptop.post(
            "/api/v1/auth/password",
            json={"current_password": "Wrong2026", "new_password": EXACTLY_20},
        )
        assert wrong_current.status_code == 422
        assert wrong_current.json()["code"] == "current_password_invalid"
        assert (await phone.get("/api/v1/me")).status_code == 200

        changed = await laptop.post(
            "/api/v1/auth/password",
            json={"current_password": EXACTLY_6, "new_password": EXACTLY_20},
        )
        assert changed.status_code == 204, changed.text
        assert (await laptop.get("/api/v1/me")).status_code == 200
        assert (await phone.get("/api/v1/me")).status_code == 401

        old = await phone.post(LOGIN, json={"login": "policy.user", "password": EXACTLY_6})
        assert old.status_code == 401

        # Guessing the current password within a session is throttled like logins (R4).
        answers = [
            await laptop.post(
                "/api/v1/auth/password",
                json={"current_password": f"Guess{n}abc", "new_password": EXACTLY_6},
            )
            for n in range(10)
        ]
        assert answers[-1].status_code == 429, [a.status_code for a in answers]
        assert int(answers[-1].headers["retry-after"]) >= 1
        async with gateway_client(gateway, timeout=15) as fresh:
            anonymous = await fresh.post(
                "/api/v1/auth/password",
                json={"current_password": EXACTLY_20, "new_password": EXACTLY_6},
            )
            assert anonymous.status_code == 401


async def test_password_reset_answers_the_same_for_unknown_logins_and_the_link_works_once(
    gateway: str, auth_customers: list[SimCustomer], mail_sink: MailSink, db: asyncpg.Connection
) -> None:
    """R3: "forgot password" by a single-use emailed link valid for 30 minutes."""
    customer = auth_customers[13]
    body = registration(customer, "forgetful")
    async with (
        gateway_client(gateway, timeout=15) as client,
        gateway_client(gateway, timeout=15) as other_device,
    ):
        assert (await client.post("/api/v1/auth/register", json=body)).status_code == 201
        token = await asyncio.to_thread(lambda: link_token(mail_sink.wait_for(body["email"])))
        await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert (
            await other_device.post(LOGIN, json={"login": "forgetful", "password": PASSWORD})
        ).status_code == 200

        known = await client.post("/api/v1/auth/password-reset", json={"login": "FORGETFUL"})
        unknown = await client.post("/api/v1/auth/password-reset", json={"login": "nobody.knows"})
        assert known.status_code == unknown.status_code == 202
        assert known.content == unknown.content

        reset_token = await reset_token_of(db, "forgetful")
        expires_at, created_at = await db.fetchrow(
            "SELECT expires_at, created_at FROM auth.email_tokens WHERE purpose = 'reset_password'"
            " AND account_id = (SELECT id FROM auth.accounts WHERE login_key = 'forgetful')"
        )
        assert abs((expires_at - created_at) - timedelta(minutes=30)) < timedelta(seconds=5)

        weak = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": reset_token, "new_password": "onlyletters"},
        )
        assert weak.status_code == 422 and weak.json()["code"] == "password_composition"
        done = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": reset_token, "new_password": "Nowe2026"},
        )
        assert done.status_code == 204, done.text
        # Every session ends; the new password works, the link does not work twice.
        assert (await other_device.get("/api/v1/me")).status_code == 401
        assert (
            await client.post(LOGIN, json={"login": "forgetful", "password": "Nowe2026"})
        ).status_code == 200
        again = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": reset_token, "new_password": "Inne2026"},
        )
        assert again.status_code == 422 and again.json()["code"] == "token_invalid"

        # A link older than 30 minutes is refused.
        await client.post("/api/v1/auth/password-reset", json={"login": "forgetful"})
        late_token = await reset_token_of(db, "forgetful")
        await db.execute(
            "UPDATE auth.email_tokens SET expires_at = now() - interval '1 second'"
            " WHERE purpose = 'reset_password' AND used_at IS NULL"
        )
        late = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": late_token, "new_password": "Inne2026"},
        )
        assert late.status_code == 422 and late.json()["code"] == "token_invalid"

    actions = await db.fetch(
        "SELECT action FROM auth.audit_trail WHERE account_id ="
        " (SELECT id FROM auth.accounts WHERE login_key = 'forgetful') ORDER BY id"
    )
    assert {"password_reset_requested", "password_reset"} <= {r["action"] for r in actions}
