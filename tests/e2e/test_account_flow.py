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


async def test_me_without_a_session_is_refused(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        answer = await client.get("/api/v1/me")
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"


async def test_openapi_document_lists_the_api(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        spec = (await client.get("/schema/openapi.json")).json()
    assert {"/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/me"} <= set(spec["paths"])
