"""Login through the gateway on the real services: case, captcha (R4), one answer, throttling."""

from __future__ import annotations

import asyncio
import base64

import asyncpg
import httpx

from tests.conftest import solve_captcha, solve_captcha_answer
from tests.support.clients import gateway_client
from tests.support.customers import PASSWORD, registration, with_active_contract
from tests.support.mail import MailSink, link_token
from tools.billing_sim.dataset import Dataset, SimCustomer

LOGIN = "/api/v1/auth/login"


def from_address(address: str) -> dict[str, str]:
    """Requests seen as coming from ``address`` (the gateway trusts X-Forwarded-For from 127.0.0.1),
    so each test's failures count against its own client address only."""
    return {"X-Forwarded-For": address}


async def registered_and_verified(
    client: httpx.AsyncClient, mail_sink: MailSink, customer: SimCustomer, login: str
) -> None:
    body = registration(customer, login)
    answer = await client.post("/api/v1/auth/register", json=body)
    assert answer.status_code == 201, answer.text
    token = await asyncio.to_thread(lambda: link_token(mail_sink.wait_for(body["email"])))
    assert (
        await client.post("/api/v1/auth/verify-email", json={"token": token})
    ).status_code == 204


async def test_login_differing_only_in_case_is_the_same_login(
    gateway: str, billing_data: Dataset, auth_customers: list[SimCustomer], mail_sink: MailSink
) -> None:
    """R2: the login is chosen with its case, matched without regard to it, unique without it."""
    customer = with_active_contract(billing_data, 7)
    async with gateway_client(gateway, timeout=15) as client:
        await registered_and_verified(client, mail_sink, customer, "Mixed.Case")
        login = await client.post(LOGIN, json={"login": "mIXED.cASE", "password": PASSWORD})
        assert login.status_code == 200, login.text
        me = await client.get("/api/v1/me")
        assert me.json()["login"] == "Mixed.Case"
        taken = await client.post(
            "/api/v1/auth/register", json=registration(auth_customers[5], "MIXED.case")
        )
    assert taken.status_code == 409
    assert taken.json()["code"] == "login_taken"


async def test_registration_with_an_ended_contract_is_refused_even_with_an_active_one(
    gateway: str, auth_customers: list[SimCustomer], db: asyncpg.Connection
) -> None:
    """R1: only a current contract qualifies; the customer's ended contract does not."""
    customer = auth_customers[0]
    ended = customer.contracts[1]
    assert ended.status == "ended"
    body = registration(customer, "ended.contract") | {"contract_number": ended.contract_number}
    async with gateway_client(gateway, timeout=15) as client:
        answer = await client.post("/api/v1/auth/register", json=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "registration_not_eligible"
    assert (
        await db.fetchval(
            "SELECT count(*) FROM auth.accounts WHERE customer_number = $1", customer.number
        )
        == 0
    )


async def test_captcha_is_demanded_after_one_wrong_password_refused_when_wrong_or_reused_and_accepted_when_right(
    gateway: str, billing_data: Dataset, mail_sink: MailSink, db: asyncpg.Connection
) -> None:
    customer = with_active_contract(billing_data, 8)
    headers = from_address("198.51.100.8")
    async with gateway_client(gateway, timeout=15, headers=headers) as client:
        await registered_and_verified(client, mail_sink, customer, "captcha.user")
        right = {"login": "captcha.user", "password": PASSWORD}

        wrong = await client.post(LOGIN, json=right | {"password": "Wrong2026"})
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "invalid_credentials"
        assert wrong.json()["captcha_required"] is True

        # The right password alone is no longer enough.
        bare = await client.post(LOGIN, json=right)
        assert bare.status_code == 401
        assert bare.json()["code"] == "captcha_required"
        assert bare.json()["captcha_required"] is True

        challenge = await client.get("/api/v1/auth/captcha")
        assert challenge.status_code == 200
        assert challenge.headers["cache-control"] == "no-store"
        image = challenge.json()["image"]
        assert image.startswith("data:image/png;base64,")
        assert base64.b64decode(image.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        captcha_id = challenge.json()["id"]
        answer = solve_captcha_answer(captcha_id)

        mistyped = await client.post(
            LOGIN, json=right | {"captcha_id": captcha_id, "captcha_answer": "XXXXX"}
        )
        assert mistyped.status_code == 401
        assert mistyped.json()["code"] == "captcha_invalid"

        # Single use: the right answer to a spent challenge is refused.
        reused = await client.post(
            LOGIN, json=right | {"captcha_id": captcha_id, "captcha_answer": answer}
        )
        assert reused.status_code == 401
        assert reused.json()["code"] == "captcha_invalid"

        # Expired: a challenge older than its life is refused.
        old = await solve_captcha(client)
        await db.execute(
            "UPDATE auth.captcha_challenges SET expires_at = now() - interval '1 second'"
            " WHERE id = $1::uuid",
            old["captcha_id"],
        )
        expired = await client.post(LOGIN, json=right | old)
        assert expired.json()["code"] == "captcha_invalid"

        # The answer is stored only as a digest.
        stored = await db.fetchval(
            "SELECT answer_digest FROM auth.captcha_challenges WHERE id = $1::uuid", captcha_id
        )
        assert answer.encode() not in stored and answer.lower().encode() not in stored

        fresh = await solve_captcha(client)
        accepted = await client.post(
            LOGIN, json=right | fresh | {"captcha_answer": fresh["captcha_answer"].lower()}
        )
        assert accepted.status_code == 200, accepted.text

        # A correct password releases the login: the next attempt needs no captcha.
        again = await client.post(LOGIN, json=right)
        assert again.status_code == 200, again.text


async def test_audio_captcha_is_offered_on_request(gateway: str) -> None:
    async with gateway_client(gateway, timeout=15) as client:
        plain = await client.get("/api/v1/auth/captcha")
        spoken = await client.get("/api/v1/auth/captcha", params={"audio": "true"})
    assert plain.json()["audio"] is None
    assert spoken.json()["audio"].startswith("data:audio/wav;base64,")
    assert base64.b64decode(spoken.json()["audio"].split(",", 1)[1])[:4] == b"RIFF"


async def test_unknown_login_and_wrong_password_get_the_same_answers_with_and_without_captcha(
    gateway: str, auth_customers: list[SimCustomer], mail_sink: MailSink
) -> None:
    """R4: nothing in the answers tells whether a login exists."""
    customer = auth_customers[8]
    async with httpx.AsyncClient(
        base_url=gateway, timeout=15, headers=from_address("198.51.100.9")
    ) as client:
        await registered_and_verified(client, mail_sink, customer, "exists.here")

        async def attempts(login: str) -> list[httpx.Response]:
            first = await client.post(LOGIN, json={"login": login, "password": "Wrong2026"})
            second = await client.post(LOGIN, json={"login": login, "password": "Wrong2026"})
            solved = await client.post(
                LOGIN,
                json={"login": login, "password": "Wrong2026"} | await solve_captcha(client),
            )
            return [first, second, solved]

        known = await attempts("exists.here")
        unknown = await attempts("does.not.exist")
    for k, u in zip(known, unknown, strict=True):
        assert k.status_code == u.status_code == 401
        assert k.json() == u.json()
        assert k.headers.get("content-type") == u.headers.get("content-type")
    assert [r.json()["code"] for r in known] == [
        "invalid_credentials",
        "captcha_required",
        "invalid_credentials",
    ]


async def test_wrong_passwords_for_one_login_are_throttled_with_retry_after_until_they_age(
    gateway: str, auth_customers: list[SimCustomer], mail_sink: MailSink, db: asyncpg.Connection
) -> None:
    """R4: beyond the captcha, 10 wrong passwords in 15 minutes stop that login for a while."""
    customer = auth_customers[6]
    async with httpx.AsyncClient(
        base_url=gateway, timeout=15, headers=from_address("198.51.100.10")
    ) as client:
        await registered_and_verified(client, mail_sink, customer, "throttled.login")
        wrong = {"login": "throttled.login", "password": "Wrong2026"}
        for attempt in range(10):
            captcha = await solve_captcha(client) if attempt else {}
            answer = await client.post(LOGIN, json=wrong | captcha)
            assert answer.json()["code"] == "invalid_credentials", answer.text

        right = {"login": "throttled.login", "password": PASSWORD}
        stopped = await client.post(LOGIN, json=right | await solve_captcha(client))
        assert stopped.status_code == 429
        assert stopped.json()["code"] == "too_many_attempts"
        assert 1 <= int(stopped.headers["retry-after"]) <= 15 * 60

        # Another address is stopped too: the count is per login.
        elsewhere = await client.post(LOGIN, json=right, headers=from_address("198.51.100.11"))
        assert elsewhere.status_code == 429

        # The clock moves on (in the database): the failures leave the window.
        await db.execute(
            "UPDATE auth.login_failures SET at = at - interval '16 minutes'"
            " WHERE login_key = 'throttled.login'"
        )
        allowed = await client.post(LOGIN, json=right | await solve_captcha(client))
        assert allowed.status_code == 200, allowed.text


async def test_many_failures_from_one_address_are_throttled_for_any_login_from_it(
    gateway: str,
) -> None:
    """R4: 50 failed attempts from one client address in 15 minutes stop that address."""
    stopped_address = from_address("203.0.113.50")
    async with gateway_client(gateway, timeout=30) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    LOGIN,
                    json={"login": f"nobody.{n}", "password": "Wrong2026"},
                    headers=stopped_address,
                )
                for n in range(50)
            )
        )
        assert [a.status_code for a in answers] == [401] * 50
        stopped = await client.post(
            LOGIN, json={"login": "someone.new", "password": "Wrong2026"}, headers=stopped_address
        )
        other = await client.post(
            LOGIN,
            json={"login": "someone.new", "password": "Wrong2026"},
            headers=from_address("203.0.113.51"),
        )
    assert stopped.status_code == 429
    assert int(stopped.headers["retry-after"]) >= 1
    assert other.status_code == 401
