"""schemathesis against the live OpenAPI document of the running system, as a customer and as staff:
no answer may be a server error, and every answer must match its own schema."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import STAFF_PASSWORD, staff_client
from tests.support.customers import logged_in_client, with_active_contract
from tests.support.mail import MailSink
from tests.support.mfa import staff_login
from tools.billing_sim.dataset import Dataset

CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = "all"
PHASES = "examples,coverage,fuzzing,stateful"
# Steps that would end the session under test, or switch the whole system into maintenance,
# or send something to every customer, stay out; everything else is fuzzed.
# The staff login (anonymous) is fuzzed in the customer's run.
CUSTOMER_EXCLUDE = r"(/logout$|/me/sessions/|/staff/(?!auth/login$))"
# Blocking an account ends its sessions: with stateful links (customer search -> account ->
# block) it would block the suite's other customers, as logout would end the session under
# test; and the staff run would log in with wrong passwords as the staff it lists, so that
# the suite's admin then needed a captcha (R4).
STAFF_EXCLUDE = (
    r"(/logout$|/staff/maintenance|/staff/terms|/staff/announcements|/block$|/staff/auth/login$"
    r"|^/api/v1/(?!staff/))"
)


def schemathesis(
    gateway: str, session: dict[str, str], csrf: str, exclude: str, report: Path, address: str
) -> subprocess.CompletedProcess[str]:
    """Run schemathesis as the client ``address`` (the suite's gateway takes X-Forwarded-For
    from the tests), so the hundreds of failed logins it sends lock out that address alone
    (R4: 50 failures per address), not 127.0.0.1 for the tests after it."""
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert executable, "schemathesis is in the test extras (pip install -e '.[test]')"
    return subprocess.run(
        [
            executable,
            "--config-file",
            str(CONFIG),
            "run",
            f"{gateway}/schema/openapi.json",
            "-H",
            f"X-CSRF-Token: {csrf}",
            "-H",
            f"X-Forwarded-For: {address}",
            "-c",
            CHECKS,
            "-n",
            "10",
            "--phases",
            PHASES,
            "--exclude-path-regex",
            exclude,
            "--generation-deterministic",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={
            **os.environ,
            "IBOK_FUZZ_CUSTOMER_SESSION": session.get("customer", "none"),
            "IBOK_FUZZ_STAFF_SESSION": session.get("staff", "none"),
        },
    )


async def test_no_server_errors_and_no_schema_violations_as_a_customer(
    gateway: str,
    billing_data: Dataset,
    mail_sink: MailSink,
    tmp_path: Path,
) -> None:
    client = await logged_in_client(
        gateway, mail_sink, with_active_contract(billing_data, 34), "fuzz.customer"
    )
    login = await client.post(
        "/api/v1/auth/login", json={"login": "fuzz.customer", "password": "Woda2026"}
    )
    session, csrf = {"customer": client.cookies["ibok_session"]}, login.headers["x-csrf-token"]
    await client.aclose()
    result = schemathesis(
        gateway, session, csrf, CUSTOMER_EXCLUDE, tmp_path / "customer.ndjson", "198.18.0.1"
    )
    print(result.stdout)
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary


async def test_no_server_errors_and_no_schema_violations_as_staff(
    gateway: str, staff_logins: dict[str, tuple[str, str]], tmp_path: Path
) -> None:
    # An admin of its own: the fuzzed logins (wrong passwords for logins the stateful phase
    # learnt) demand a captcha of that login, which the suite's admin must not need.
    admin = await staff_client(gateway, *staff_logins["admin"])
    made = await admin.post(
        "/api/v1/staff/staff-users",
        json={
            "login": "fuzz.admin",
            "name": "Fuzz Admin",
            "role": "admin",
            "password": STAFF_PASSWORD,
        },
    )
    assert made.status_code == 201, made.text
    login = await staff_login(admin, "fuzz.admin", STAFF_PASSWORD)
    assert login.status_code == 200, login.text
    session, csrf = {"staff": admin.cookies["ibok_staff_session"]}, login.headers["x-csrf-token"]
    await admin.aclose()
    result = schemathesis(
        gateway, session, csrf, STAFF_EXCLUDE, tmp_path / "staff.ndjson", "198.18.0.2"
    )
    print(result.stdout)
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary


@pytest.fixture(autouse=True)
def _schemathesis_installed() -> None:
    assert shutil.which("schemathesis", path=str(Path(sys.executable).parent)), (
        "schemathesis missing"
    )
