"""schemathesis against the live OpenAPI document of the running system, as a customer and as staff:
no answer may be a server error, and every answer must match its own schema."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.customers import logged_in_client, with_active_contract
from tests.support.mail import MailSink
from tests.support.mfa import staff_login_sync
from tools.billing_sim.dataset import Dataset

CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = "all"
PHASES = "examples,coverage,fuzzing,stateful"
# Steps that would end the session under test, or switch the whole system into maintenance,
# or send something to every customer, stay out; everything else is fuzzed.
CUSTOMER_EXCLUDE = r"(/logout$|/me/sessions/|/staff/)"
STAFF_EXCLUDE = (
    r"(/logout$|/staff/maintenance|/staff/terms|/staff/announcements|^/api/v1/(?!staff/))"
)


def schemathesis(
    gateway: str, session: dict[str, str], csrf: str, exclude: str, report: Path
) -> subprocess.CompletedProcess[str]:
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
    staff_session: tuple[dict[str, str], str],
) -> None:
    # The staff session is opened before this fuzzing (the fixture): its wrong passwords and
    # codes count against this address in the login throttle (R4) and would refuse it after.
    del staff_session
    client = await logged_in_client(
        gateway, mail_sink, with_active_contract(billing_data, 34), "fuzz.customer"
    )
    login = await client.post(
        "/api/v1/auth/login", json={"login": "fuzz.customer", "password": "Woda2026"}
    )
    session, csrf = {"customer": client.cookies["ibok_session"]}, login.headers["x-csrf-token"]
    await client.aclose()
    result = schemathesis(gateway, session, csrf, CUSTOMER_EXCLUDE, tmp_path / "customer.ndjson")
    print(result.stdout)
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary


@pytest.fixture(scope="module")
def staff_session(
    gateway: str, staff_logins: dict[str, tuple[str, str]]
) -> tuple[dict[str, str], str]:
    """The admin's session cookie and CSRF token, both login steps done."""
    with httpx.Client(base_url=gateway, timeout=15) as admin:
        login = staff_login_sync(admin, *staff_logins["admin"])
        assert login.status_code == 200, login.text
        return {"staff": admin.cookies["ibok_staff_session"]}, login.headers["x-csrf-token"]


async def test_no_server_errors_and_no_schema_violations_as_staff(
    gateway: str, staff_session: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    session, csrf = staff_session
    result = schemathesis(gateway, session, csrf, STAFF_EXCLUDE, tmp_path / "staff.ndjson")
    print(result.stdout)
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary


@pytest.fixture(autouse=True)
def _schemathesis_installed() -> None:
    assert shutil.which("schemathesis", path=str(Path(sys.executable).parent)), (
        "schemathesis missing"
    )
