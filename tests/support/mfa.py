"""The second factor as a person with an authenticator app would give it: codes computed from
the key the enrolment showed (RFC 6238), each used once, and the recovery codes it handed out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from services.auth.mfa.domain import STEP_SECONDS, time_step, totp_code


@dataclass
class Authenticator:
    """One person's app: the key, the last time step it gave a code for, its recovery codes."""

    secret: str
    last_step: int = 0
    recovery_codes: list[str] = field(default_factory=list)

    def code(self) -> str:
        """The next code the server will accept: this step's or the next one's (the server
        allows one step either side; the step before is left out, as the server's clock may pass
        a step boundary between here and there), else an unused recovery code, else (the suite
        logs the same staff member in many times a minute) the next step's code once its time
        comes, as a person would wait for the app's next code. The server takes each code once."""
        while True:
            now = datetime.now(UTC)
            current = time_step(now)
            for offset in (0, 1):
                if current + offset > self.last_step:
                    self.last_step = current + offset
                    return totp_code(self.secret, now, offset)
            if self.recovery_codes:
                return self.recovery_codes.pop()
            time.sleep(STEP_SECONDS - now.timestamp() % STEP_SECONDS + 0.1)


# By login (case-folded): the apps of the staff users the tests enrolled.
AUTHENTICATORS: dict[str, Authenticator] = {}


def second_step(login: str, answer: dict[str, Any]) -> dict[str, str]:
    """The body of POST .../auth/mfa for a login's ``mfa_required`` or
    ``mfa_enrolment_required`` answer; an enrolment's key is remembered for later logins."""
    key = login.casefold()
    if answer["code"] == "mfa_enrolment_required":
        AUTHENTICATORS[key] = Authenticator(answer["secret"])
    else:
        assert answer["code"] == "mfa_required", answer
    return {"challenge": answer["challenge"], "code": AUTHENTICATORS[key].code()}


def keep_recovery_codes(login: str, answer: httpx.Response) -> None:
    codes = answer.json().get("recovery_codes")
    if codes:
        AUTHENTICATORS[login.casefold()].recovery_codes = list(codes)


def staff_login_sync(client: httpx.Client, login: str, password: str) -> httpx.Response:
    """Both steps of a staff login (enrolling at the first), with a synchronous client."""
    first = client.post("/api/v1/staff/auth/login", json={"login": login, "password": password})
    if first.status_code != 401 or not first.json().get("challenge"):
        return first
    done = client.post("/api/v1/staff/auth/mfa", json=second_step(login, first.json()))
    keep_recovery_codes(login, done)
    return done


async def staff_login(
    client: httpx.AsyncClient, login: str, password: str, **extra: Any
) -> httpx.Response:
    """Both steps of a staff login (enrolling at the first); the password step's refusal as is."""
    first = await client.post(
        "/api/v1/staff/auth/login", json={"login": login, "password": password, **extra}
    )
    if first.status_code != 401 or not first.json().get("challenge"):
        return first
    done = await client.post("/api/v1/staff/auth/mfa", json=second_step(login, first.json()))
    keep_recovery_codes(login, done)
    return done
