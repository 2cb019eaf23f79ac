"""The second factor's rules: TOTP codes (RFC 6238), recovery codes and challenges; no I/O."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

import pyotp
import segno

from runtime.errors import DomainError, Unauthorized

SubjectKind = Literal["customer", "staff"]

ISSUER = "IBOK"
# RFC 6238 4.1/5.2: 30-second steps; one step either side is accepted for clock drift.
STEP_SECONDS = 30
DRIFT_STEPS = 1
CHALLENGE_MINUTES = 5
# Wrong codes allowed on one challenge before it ends (and the password must be typed again);
# every wrong code also counts in the login throttle (R4).
CHALLENGE_ATTEMPTS = 5
RECOVERY_CODE_COUNT = 10
# 24 characters of a 32-letter alphabet: 120 bits, enough for a plain SHA-256 digest
# (NIST SP 800-63B-4 3.1.2: look-up secrets of 112 bits or more need no salted slow hash).
# Digits 1-9 and the letters but i, l, o: nothing to confuse when copied by hand.
RECOVERY_ALPHABET = "123456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_LENGTH = 24


@dataclass(frozen=True)
class Subject:
    """Who the second factor belongs to: a customer's account or a staff user."""

    kind: SubjectKind
    id: UUID


def new_totp_secret() -> str:
    """160 random bits in base32 (RFC 4226 4: at least 128, 160 recommended)."""
    return pyotp.random_base32(32)


def otpauth_uri(secret: str, login: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=login, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> str:
    """The URI as an SVG QR code (error correction M), for the enrolment page."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=2, dark="#000", light="#fff")
    return out.getvalue().decode()


def totp_code(secret: str, at: datetime, step_offset: int = 0) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).at(at, counter_offset=step_offset)


def time_step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def normalised(code: str) -> str:
    return "".join(c for c in code if c.isalnum()).lower()


def matching_step(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The time step whose code this is, within the drift window and after ``last_step``.

    RFC 6238 5.2: a code accepted once is never accepted again, so steps at or before the last
    accepted one are out; every candidate is compared in constant time.
    """
    typed = normalised(code)
    if len(typed) != 6 or not typed.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = time_step(now)
    found = None
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        step = current + offset
        expected = totp.at(now, counter_offset=offset)
        if hmac.compare_digest(expected, typed) and step > last_step:
            found = step
    return found


def new_recovery_codes() -> list[str]:
    """Ten single-use codes, shown once, as ``xxxx-xxxx-xxxx-xxxx-xxxx-xxxx``."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4)))
    return codes


def recovery_digest(code: str) -> bytes:
    return hashlib.sha256(b"ibok-recovery\0" + normalised(code).encode()).digest()


def looks_like_recovery_code(code: str) -> bool:
    return len(normalised(code)) == RECOVERY_LENGTH


# --- refusals -----------------------------------------------------------------------------------


def challenge_invalid() -> Unauthorized:
    return Unauthorized(
        "mfa_challenge_invalid",
        "Logowanie wygasło albo było zbyt wiele błędnych kodów. Zaloguj się ponownie.",
        detail_en="The login has expired or had too many wrong codes. Log in again.",
    )


def code_invalid(attempts_left: int) -> Unauthorized:
    return Unauthorized(
        "mfa_code_invalid",
        "Kod jest nieprawidłowy albo został już użyty.",
        detail_en="The code is wrong or has been used already.",
        fields={"code": "invalid", "attempts_left": str(attempts_left)},
    )


def enrolment_code_invalid() -> DomainError:
    return DomainError(
        "mfa_code_invalid",
        "Kod jest nieprawidłowy. Sprawdź czas w telefonie i wpisz bieżący kod z aplikacji.",
        detail_en="The code is wrong. Check the phone's clock and type the app's current code.",
        status=422,
        fields={"code": "invalid"},
    )
