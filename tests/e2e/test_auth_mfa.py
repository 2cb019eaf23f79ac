"""The second factor end to end: TOTP for staff (mandatory) and customers (optional), recovery
codes, the admin's reset of a staff member's factor, and removal by the customer."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from datetime import UTC, datetime

import asyncpg
import httpx
import pyotp

from runtime.settings import Settings
from services.auth.mfa.domain import totp_code
from tests.conftest import STAFF_PASSWORD, staff_client
from tests.support.clients import gateway_client
from tests.support.customers import PASSWORD, logged_in_client, with_active_contract
from tests.support.infra import Infra
from tests.support.mail import MailSink, text_part
from tests.support.mfa import AUTHENTICATORS, Authenticator, staff_login
from tools.billing_sim.dataset import Dataset, SimCustomer
from tools.demo_totp import ensure_demo_totp
from tools.ops import create_admin
from tools.system import System


def no_session_cookie(answer: httpx.Response) -> bool:
    return "session=" not in answer.headers.get("set-cookie", "")


async def new_care_user(admin: httpx.AsyncClient, login: str) -> None:
    made = await admin.post(
        "/api/v1/staff/staff-users",
        json={"login": login, "name": login, "role": "care", "password": STAFF_PASSWORD},
    )
    assert made.status_code == 201, made.text


async def test_a_staff_login_without_its_second_factor_yields_no_staff_session(
    gateway: str, staff_logins: dict[str, tuple[str, str]]
) -> None:
    login, password = staff_logins["care"]
    async with gateway_client(gateway, headers={"X-Forwarded-For": "198.51.100.70"}) as client:
        first = await client.post(
            "/api/v1/staff/auth/login", json={"login": login, "password": password}
        )
        assert first.status_code == 401, first.text
        body = first.json()
        assert body["code"] == "mfa_required" and body["captcha_required"] is False
        assert body["methods"] == "totp,recovery_code" and len(body["challenge"]) >= 20
        assert no_session_cookie(first)
        assert (await client.get("/api/v1/staff/auth/me")).status_code == 401

        wrong = await client.post(
            "/api/v1/staff/auth/mfa", json={"challenge": body["challenge"], "code": "000000"}
        )
        assert wrong.status_code == 401 and wrong.json()["code"] == "mfa_code_invalid"
        assert wrong.json()["fields"]["attempts_left"] == "4"
        assert no_session_cookie(wrong)
        assert (await client.get("/api/v1/staff/auth/me")).status_code == 401
        # A made-up challenge opens nothing either.
        forged = await client.post(
            "/api/v1/staff/auth/mfa", json={"challenge": "x" * 43, "code": "123456"}
        )
        assert forged.status_code == 401 and forged.json()["code"] == "mfa_challenge_invalid"

        code = AUTHENTICATORS[login.casefold()].code()
        done = await client.post(
            "/api/v1/staff/auth/mfa", json={"challenge": body["challenge"], "code": code}
        )
        assert done.status_code == 200, done.text
        assert "ibok_staff_session" in done.headers["set-cookie"]
        assert done.json()["recovery_codes"] is None
        assert (await client.get("/api/v1/staff/auth/me")).status_code == 200
        # The challenge is spent, and the code is too (RFC 6238 5.2: accepted once).
        again = await client.post(
            "/api/v1/staff/auth/mfa", json={"challenge": body["challenge"], "code": code}
        )
        assert again.json()["code"] == "mfa_challenge_invalid"
        second = await client.post(
            "/api/v1/staff/auth/login", json={"login": login, "password": password}
        )
        replay = await client.post(
            "/api/v1/staff/auth/mfa", json={"challenge": second.json()["challenge"], "code": code}
        )
        assert replay.status_code == 401 and replay.json()["code"] == "mfa_code_invalid"


async def test_a_new_staff_member_enrols_at_the_first_login_and_a_recovery_code_works_once(
    gateway: str, staff_logins: dict[str, tuple[str, str]], db: asyncpg.Connection
) -> None:
    admin = await staff_client(gateway, *staff_logins["admin"])
    try:
        await new_care_user(admin, "care.mfa")
    finally:
        await admin.aclose()
    async with gateway_client(gateway, headers={"X-Forwarded-For": "198.51.100.71"}) as client:
        first = await client.post(
            "/api/v1/staff/auth/login", json={"login": "care.mfa", "password": STAFF_PASSWORD}
        )
        body = first.json()
        assert first.status_code == 401 and body["code"] == "mfa_enrolment_required"
        assert no_session_cookie(first)
        assert body["otpauth_uri"].startswith("otpauth://totp/IBOK:care.mfa?")
        assert pyotp.parse_uri(body["otpauth_uri"]).secret == body["secret"]
        assert body["qr_svg"].lstrip().startswith("<?xml") and "<svg" in body["qr_svg"]
        # A code of another key does not enrol.
        other = totp_code(pyotp.random_base32(), datetime.now(UTC))
        refused = await client.post(
            "/api/v1/staff/auth/mfa", json={"challenge": body["challenge"], "code": other}
        )
        assert refused.json()["code"] == "mfa_code_invalid" and no_session_cookie(refused)

        app = Authenticator(body["secret"])
        done = await client.post(
            "/api/v1/staff/auth/mfa", json={"challenge": body["challenge"], "code": app.code()}
        )
        assert done.status_code == 200, done.text
        codes = done.json()["recovery_codes"]
        assert len(codes) == 10 and len(set(codes)) == 10
        stored = await db.fetch(
            "SELECT r.digest FROM auth.recovery_codes r"
            " JOIN auth.totp_factors f ON f.id = r.factor_id"
            " JOIN auth.staff_users s ON s.id = f.staff_id WHERE s.login = 'care.mfa'"
        )
        assert len(stored) == 10
        assert all(len(r["digest"]) == 32 for r in stored)  # SHA-256 digests, never the codes

        for expected in (200, 401):
            step = await client.post(
                "/api/v1/staff/auth/login", json={"login": "care.mfa", "password": STAFF_PASSWORD}
            )
            assert step.json()["code"] == "mfa_required"
            used = await client.post(
                "/api/v1/staff/auth/mfa",
                json={"challenge": step.json()["challenge"], "code": codes[0].upper()},
            )
            assert used.status_code == expected, used.text


async def test_an_admin_resets_a_lost_factor_audited_and_the_next_login_enrols_anew(
    gateway: str, staff_logins: dict[str, tuple[str, str]], db: asyncpg.Connection
) -> None:
    admin = await staff_client(gateway, *staff_logins["admin"])
    try:
        await new_care_user(admin, "care.lost")
        care = gateway_client(gateway)
        assert (await staff_login(care, "care.lost", STAFF_PASSWORD)).status_code == 200
        assert (await care.get("/api/v1/staff/auth/me")).status_code == 200

        forbidden = await care.post("/api/v1/staff/staff-users/care.lost/mfa-reset")
        assert forbidden.status_code == 403
        missing = await admin.post("/api/v1/staff/staff-users/nobody.here/mfa-reset")
        assert missing.status_code == 404
        reset = await admin.post("/api/v1/staff/staff-users/care.lost/mfa-reset")
        assert reset.status_code == 204, reset.text
        # The member's sessions end with the factor.
        assert (await care.get("/api/v1/staff/auth/me")).status_code == 401
        await care.aclose()

        trail = await db.fetchrow(
            "SELECT t.actor_kind, t.detail, actor.login AS actor_login FROM auth.audit_trail t"
            " JOIN auth.staff_users s ON s.id = t.staff_id"
            " JOIN auth.staff_users actor ON actor.id = t.actor_id"
            " WHERE t.action = 'staff_mfa_reset' AND s.login = 'care.lost'"
        )
        assert trail is not None and trail["actor_kind"] == "staff"
        assert trail["actor_login"] == staff_logins["admin"][0]
        assert '"factor_removed": true' in trail["detail"]
    finally:
        await admin.aclose()
    async with gateway_client(gateway) as client:
        again = await client.post(
            "/api/v1/staff/auth/login", json={"login": "care.lost", "password": STAFF_PASSWORD}
        )
        assert again.json()["code"] == "mfa_enrolment_required"


async def test_a_customer_turns_the_second_factor_on_logs_in_with_it_and_turns_it_off(
    gateway: str, auth_customers: list[SimCustomer], mail_sink: MailSink
) -> None:
    client = await logged_in_client(gateway, mail_sink, auth_customers[9], "with.totp")
    try:
        assert (await client.get("/api/v1/me/mfa")).json() == {
            "totp": False,
            "recovery_codes_left": 0,
        }
        begun = await client.post("/api/v1/me/mfa/totp")
        assert begun.status_code == 201 and begun.headers["cache-control"] == "no-store"
        secret = begun.json()["secret"]
        assert "otpauth://totp/IBOK:with.totp" in begun.json()["otpauth_uri"]
        # Still off until confirmed: the login needs no code yet.
        assert (await client.get("/api/v1/me/mfa")).json()["totp"] is False
        wrong = await client.post("/api/v1/me/mfa/totp/confirm", json={"code": "12345x"})
        assert wrong.status_code == 422 and wrong.json()["code"] == "mfa_code_invalid"
        app = Authenticator(secret)
        confirmed = await client.post("/api/v1/me/mfa/totp/confirm", json={"code": app.code()})
        assert confirmed.status_code == 200, confirmed.text
        codes = confirmed.json()["codes"]
        # Codes beyond three in 30 s come from the recovery codes, as for a person in a hurry.
        app.recovery_codes = codes[2:]
        assert (await client.get("/api/v1/me/mfa")).json() == {
            "totp": True,
            "recovery_codes_left": 10,
        }
        assert (await client.post("/api/v1/me/mfa/totp")).status_code == 409
    finally:
        await client.aclose()

    async with gateway_client(gateway, headers={"X-Forwarded-For": "198.51.100.72"}) as client:
        first = await client.post(
            "/api/v1/auth/login", json={"login": "with.totp", "password": PASSWORD}
        )
        assert first.status_code == 401 and first.json()["code"] == "mfa_required"
        assert no_session_cookie(first)
        assert (await client.get("/api/v1/me")).status_code == 401
        done = await client.post(
            "/api/v1/auth/mfa", json={"challenge": first.json()["challenge"], "code": app.code()}
        )
        assert done.status_code == 200, done.text
        assert done.json()["login"] == "with.totp"
        assert (await client.get("/api/v1/me")).status_code == 200

        # A recovery code in place of the app, once.
        for expected in (200, 401):
            step = await client.post(
                "/api/v1/auth/login", json={"login": "with.totp", "password": PASSWORD}
            )
            used = await client.post(
                "/api/v1/auth/mfa", json={"challenge": step.json()["challenge"], "code": codes[1]}
            )
            assert used.status_code == expected, used.text
        assert (await client.get("/api/v1/me/mfa")).json()["recovery_codes_left"] == 9

        bad_password = await client.post(
            "/api/v1/me/mfa/totp/remove", json={"password": "Zle2026zle", "code": "000000"}
        )
        assert bad_password.status_code == 422
        assert bad_password.json()["code"] == "current_password_invalid"
        no_code = await client.post(
            "/api/v1/me/mfa/totp/remove", json={"password": PASSWORD, "code": "000000"}
        )
        assert no_code.status_code == 422 and no_code.json()["code"] == "mfa_code_invalid"
        removed = await client.post(
            "/api/v1/me/mfa/totp/remove", json={"password": PASSWORD, "code": app.code()}
        )
        assert removed.status_code == 204, removed.text
        plain = await client.post(
            "/api/v1/auth/login", json={"login": "with.totp", "password": PASSWORD}
        )
        assert plain.status_code == 200, plain.text


async def test_five_wrong_codes_end_the_challenge(
    gateway: str, auth_customers: list[SimCustomer], mail_sink: MailSink
) -> None:
    client = await logged_in_client(gateway, mail_sink, auth_customers[12], "five.wrong")
    try:
        secret = (await client.post("/api/v1/me/mfa/totp")).json()["secret"]
        app = Authenticator(secret)
        assert (
            await client.post("/api/v1/me/mfa/totp/confirm", json={"code": app.code()})
        ).status_code == 200
    finally:
        await client.aclose()
    async with gateway_client(gateway, headers={"X-Forwarded-For": "198.51.100.73"}) as client:
        first = await client.post(
            "/api/v1/auth/login", json={"login": "five.wrong", "password": PASSWORD}
        )
        challenge = first.json()["challenge"]
        answers = [
            await client.post("/api/v1/auth/mfa", json={"challenge": challenge, "code": "000000"})
            for _ in range(5)
        ]
        assert [a.json()["code"] for a in answers] == ["mfa_code_invalid"] * 4 + [
            "mfa_challenge_invalid"
        ]
        late = await client.post(
            "/api/v1/auth/mfa", json={"challenge": challenge, "code": app.code()}
        )
        assert late.json()["code"] == "mfa_challenge_invalid" and no_session_cookie(late)


async def test_the_demo_admins_key_is_confirmed_at_once_and_its_code_printed_for_it_alone(
    system: System, infra: Infra, gateway: str, staff_logins: dict[str, tuple[str, str]]
) -> None:
    """``make run``: the demo admin logs in with ``ibok totp-code``; no other key is printed."""
    # As auth's own role, as an operator with least privilege would.
    env = {**system.env, "IBOK_POSTGRES_DSN": infra.postgres_dsn, **infra.logins.get("auth", {})}
    settings = Settings(postgres_dsn=infra.postgres_dsn)
    await create_admin(settings, "demo.boss", "Demo Boss", STAFF_PASSWORD)
    secret = await ensure_demo_totp(settings, "demo.boss")
    assert secret is not None and await ensure_demo_totp(settings, "demo.boss") == secret
    # A member who enrolled an app of their own: no key comes out.
    assert await ensure_demo_totp(settings, staff_logins["care"][0]) is None

    def totp_code_command(login: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tools.ops", "totp-code", "--login", login],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    refused = totp_code_command(staff_logins["care"][0])
    assert refused.returncode == 2 and "no demo key" in refused.stderr
    printed = totp_code_command("demo.boss")
    assert printed.returncode == 0, printed.stderr
    # The code is the last line (log lines may come before it).
    code = printed.stdout.strip().splitlines()[-1].split()[0]
    async with gateway_client(gateway, headers={"X-Forwarded-For": "198.51.100.74"}) as client:
        first = await client.post(
            "/api/v1/staff/auth/login", json={"login": "demo.boss", "password": STAFF_PASSWORD}
        )
        assert first.json()["code"] == "mfa_required"
        done = await client.post(
            "/api/v1/staff/auth/mfa", json={"challenge": first.json()["challenge"], "code": code}
        )
        assert done.status_code == 200, done.text


async def test_an_emailed_code_stands_in_for_the_captcha_once_and_only_for_the_mailbox_owner(
    gateway: str, billing_data: Dataset, mail_sink: MailSink
) -> None:
    """R4 for a customer who can neither see nor hear the captcha."""
    client = await logged_in_client(
        gateway, mail_sink, with_active_contract(billing_data, 22), "blind.deaf"
    )
    await client.aclose()
    async with gateway_client(gateway, headers={"X-Forwarded-For": "198.51.100.75"}) as client:
        wrong = await client.post(
            "/api/v1/auth/login", json={"login": "blind.deaf", "password": "Zle2026zle"}
        )
        assert wrong.json()["captcha_required"] is True
        # The same answer for a login that does not exist, and no mail for it.
        for login in ("blind.deaf", "nobody.at.all"):
            asked = await client.post("/api/v1/auth/login-code", json={"login": login})
            assert asked.status_code == 202, asked.text
        mail = await asyncio.to_thread(
            mail_sink.wait_for, "blind.deaf@example.com", 15, "kod do logowania"
        )
        found = re.search(r"^\s*([A-Z0-9]{8})\s*$", text_part(mail), re.M)
        assert found, text_part(mail)
        code = found.group(1)
        body = {"login": "blind.deaf", "password": PASSWORD}
        guessed = await client.post("/api/v1/auth/login", json=body | {"email_code": "ACDEFHJK"})
        assert guessed.status_code == 401 and guessed.json()["code"] == "captcha_invalid"
        # A wrong guess spends nothing of the real code, which then works once.
        ok = await client.post("/api/v1/auth/login", json=body | {"email_code": code.lower()})
        assert ok.status_code == 200, ok.text
        await client.post("/api/v1/auth/logout")
        again_wrong = await client.post(
            "/api/v1/auth/login", json={"login": "blind.deaf", "password": "Zle2026zle"}
        )
        assert again_wrong.json()["captcha_required"] is True
        reused = await client.post("/api/v1/auth/login", json=body | {"email_code": code})
        assert reused.status_code == 401 and reused.json()["code"] == "captcha_invalid"
