"""The foundation flow through real HTTP, RabbitMQ, PostgreSQL and SMTP: register, verify, log in, /me, log out."""

from __future__ import annotations

import httpx
import pytest

from tests.support.customers import registration
from tests.support.customers import with_active_contract as customer_with_active_contract
from tests.support.mail import MailSink, link_token
from tools.billing_sim.dataset import Dataset


async def test_customer_registers_verifies_logs_in_reads_me_and_logs_out(
    gateway: str, billing_data: Dataset, mail_sink: MailSink
) -> None:
    customer = customer_with_active_contract(billing_data, 0)
    async with httpx.AsyncClient(base_url=gateway) as client:
        answer = await client.post(
            "/api/v1/auth/register", json=registration(customer, "Anna.Flow")
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["email_verification_required"] is True

        # Not usable before the email is verified (R17).
        refused = await client.post(
            "/api/v1/auth/login", json={"login": "anna.flow", "password": "Woda2026"}
        )
        assert refused.status_code == 403
        assert refused.json()["code"] == "email_not_verified"

        mail = mail_sink.wait_for("anna.flow@example.com")
        assert "potwierdź" in str(mail["Subject"])
        verified = await client.post("/api/v1/auth/verify-email", json={"token": link_token(mail)})
        assert verified.status_code == 204

        login = await client.post(
            "/api/v1/auth/login", json={"login": "ANNA.FLOW", "password": "Woda2026"}
        )
        assert login.status_code == 200, login.text
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie

        me = await client.get("/api/v1/me")
        assert me.status_code == 200
        assert me.json()["customer_number"] == customer.number
        assert me.json()["customer_name"] == customer.name
        assert me.json()["login"] == "Anna.Flow"

        token = client.cookies["ibok_session"]
        # A state change with the session cookie but without its CSRF token is refused.
        forged = await client.post("/api/v1/auth/logout")
        assert forged.status_code == 403
        assert forged.json()["code"] == "csrf_token_invalid"
        assert (await client.get("/api/v1/me")).status_code == 200
        assert client.cookies["ibok_csrf"] == login.headers["x-csrf-token"]
        out = await client.post(
            "/api/v1/auth/logout", headers={"X-CSRF-Token": login.headers["x-csrf-token"]}
        )
        assert out.status_code == 204
        assert "ibok_session" not in client.cookies

        # The session is gone on the server, not only in this browser (R13).
        client.cookies.set("ibok_session", token)
        again = await client.get("/api/v1/me")
        assert again.status_code == 401


async def test_used_verification_link_cannot_be_used_again(
    gateway: str, billing_data: Dataset, mail_sink: MailSink
) -> None:
    customer = customer_with_active_contract(billing_data, 1)
    async with httpx.AsyncClient(base_url=gateway) as client:
        assert (
            await client.post("/api/v1/auth/register", json=registration(customer, "twice"))
        ).status_code == 201
        token = link_token(mail_sink.wait_for("twice@example.com"))
        assert (
            await client.post("/api/v1/auth/verify-email", json={"token": token})
        ).status_code == 204
        second = await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert second.status_code == 422
        assert second.json()["code"] == "token_invalid"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"identity_number": "00000000000"}, "registration_not_eligible"),
        ({"contract_number": "U/1999/999999/1"}, "registration_not_eligible"),
        ({"password": "short1"[:5]}, "password_length"),
        ({"password": "onlyletters"}, "password_composition"),
        ({"password": "spaces 123"}, "password_charset"),
    ],
)
async def test_registration_is_refused_with_a_problem_and_creates_nothing(
    gateway: str, billing_data: Dataset, db: object, change: dict[str, str], code: str
) -> None:
    customer = customer_with_active_contract(billing_data, 2)
    body = registration(customer, "refused") | change
    async with httpx.AsyncClient(base_url=gateway) as client:
        answer = await client.post("/api/v1/auth/register", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code
    assert (
        await db.fetchval(
            "SELECT count(*) FROM auth.accounts WHERE customer_number = $1", customer.number
        )
        == 0
    )  # type: ignore[attr-defined]


async def test_customer_with_only_an_ended_contract_cannot_register(
    gateway: str, billing_data: Dataset
) -> None:
    ended = next(c for c in billing_data.customers if all(k.status == "ended" for k in c.contracts))
    body = {
        "customer_number": ended.number,
        "contract_number": ended.contracts[0].contract_number,
        "identity_kind": ended.identity_kind,
        "identity_number": ended.identity_number,
        "login": "ended",
        "password": "Woda2026",
        "email": "ended@example.com",
    }
    async with httpx.AsyncClient(base_url=gateway) as client:
        answer = await client.post("/api/v1/auth/register", json=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "registration_not_eligible"


async def test_login_is_unique_without_regard_to_case_and_one_account_per_customer(
    gateway: str, billing_data: Dataset
) -> None:
    first = customer_with_active_contract(billing_data, 3)
    second = customer_with_active_contract(billing_data, 4)
    async with httpx.AsyncClient(base_url=gateway) as client:
        assert (
            await client.post("/api/v1/auth/register", json=registration(first, "Unique"))
        ).status_code == 201
        taken = await client.post("/api/v1/auth/register", json=registration(second, "uNIQUE"))
        assert taken.status_code == 409
        assert taken.json()["code"] == "login_taken"
        # One account per customer: a second registration answers as for a mismatch
        # (test_edge_hardening.py shows the owner's email).
        again = await client.post("/api/v1/auth/register", json=registration(first, "another"))
        assert again.status_code == 422
        assert again.json()["code"] == "registration_not_eligible"


async def test_unknown_login_and_wrong_password_get_the_same_answer(
    gateway: str, billing_data: Dataset, mail_sink: MailSink
) -> None:
    customer = customer_with_active_contract(billing_data, 5)
    async with httpx.AsyncClient(base_url=gateway) as client:
        await client.post("/api/v1/auth/register", json=registration(customer, "same.answer"))
        token = link_token(mail_sink.wait_for("same.answer@example.com"))
        await client.post("/api/v1/auth/verify-email", json={"token": token})
        wrong = await client.post(
            "/api/v1/auth/login", json={"login": "same.answer", "password": "Wrong1234"}
        )
        unknown = await client.post(
            "/api/v1/auth/login", json={"login": "nobody.here", "password": "Wrong1234"}
        )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_me_without_a_session_is_refused(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        answer = await client.get("/api/v1/me")
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"


async def test_openapi_document_lists_the_api(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        spec = (await client.get("/schema/openapi.json")).json()
    assert {"/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/me"} <= set(spec["paths"])
