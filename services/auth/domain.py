"""The account rules: pure functions, no I/O."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from runtime.errors import DomainError

_LETTER = re.compile(r"[^\W\d_]")
# The same alphabet as contracts.auth.Login: letters, digits, '.', '_' and '-'.
LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9._-]{3,32}$")
_ALPHANUMERIC = re.compile(r"^[^\W_]+$")


def check_password_policy(password: str) -> None:
    """R3 (§2.9): 6 to 20 characters, letters and digits only, at least one of each."""
    if not 6 <= len(password) <= 20:
        raise DomainError(
            "password_length",
            "Hasło musi mieć od 6 do 20 znaków.",
            detail_en="The password must have 6 to 20 characters.",
            status=422,
        )
    if not _ALPHANUMERIC.match(password):
        raise DomainError(
            "password_charset",
            "Hasło może zawierać tylko litery i cyfry.",
            detail_en="The password may contain only letters and digits.",
            status=422,
        )
    if not (_LETTER.search(password) and any(c.isdigit() for c in password)):
        raise DomainError(
            "password_composition",
            "Hasło musi zawierać co najmniej jedną literę i jedną cyfrę.",
            detail_en="The password must contain at least one letter and one digit.",
            status=422,
        )


def check_password_not_guessable(
    password: str, login: str, email: str | None, common: frozenset[str]
) -> None:
    """R3 holds, and beyond it (NIST SP 800-63B-4 3.1.1.2, ASVS 5.0 6.2.4, 6.2.11): not a
    common or breached password, and not built from the login or the email's local part."""
    typed = password.casefold()
    if typed in common:
        raise DomainError(
            "password_common",
            "To hasło jest zbyt popularne: jest na liście często używanych i ujawnionych haseł."
            " Wybierz inne.",
            detail_en="This password is too common: it is on a list of often used and breached"
            " passwords. Choose another.",
            status=422,
        )
    local = (email or "").partition("@")[0].casefold()
    if any(part and len(part) >= 3 and part in typed for part in (login.casefold(), local)):
        raise DomainError(
            "password_contains_login",
            "Hasło nie może zawierać loginu ani początku adresu e-mail (przed @).",
            detail_en="The password must not contain the login or the email's part before @.",
            status=422,
        )


def login_key(login: str) -> str:
    """R2: logins are unique without regard to case."""
    return login.casefold()


def new_token() -> str:
    """An opaque secret for a session or an emailed link (256 bits)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    """Tokens are stored only as a digest, so a database leak reveals no usable token."""
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class SessionTimes:
    created_at: datetime
    last_seen_at: datetime


def session_expired(
    session: SessionTimes, now: datetime, *, idle: timedelta, absolute: timedelta
) -> bool:
    """R13: a session ends after ``idle`` without use or ``absolute`` after login, whichever first."""
    return now - session.last_seen_at >= idle or now - session.created_at >= absolute


def session_expires_at(session: SessionTimes, *, idle: timedelta, absolute: timedelta) -> datetime:
    return min(session.last_seen_at + idle, session.created_at + absolute)


def check_staff_password_policy(password: str) -> None:
    """Staff passwords: 12 to 128 characters with a letter and a digit (OWASP ASVS 2.1.1, 2.1.2).

    The terms' 6-20 rule (R3) binds customers only; staff accounts reach every customer's data.
    """
    if not 12 <= len(password) <= 128:
        raise DomainError(
            "password_length",
            "Hasło pracownika musi mieć od 12 do 128 znaków.",
            detail_en="A staff password must have 12 to 128 characters.",
            status=422,
        )
    if not (_LETTER.search(password) and any(c.isdigit() for c in password)):
        raise DomainError(
            "password_composition",
            "Hasło musi zawierać co najmniej jedną literę i jedną cyfrę.",
            detail_en="The password must contain at least one letter and one digit.",
            status=422,
        )


# --- captcha (R4) ------------------------------------------------------------------------------

# Upper-case letters and digits that cannot be mistaken for one another (no 0/O, 1/I, 5/S, 8/B...).
CAPTCHA_ALPHABET = "ACDEFHJKLMNPRTUVWXY34679"
CAPTCHA_LENGTH = 5


def new_captcha_answer(challenge_id: UUID, test_seed: str = "") -> str:
    """R4: a random answer; with a test seed, derived from the seed and the challenge id.

    The seed exists so that tests can solve a challenge the way a person would, from
    information outside the server's database; the service refuses it in a deployment.
    """
    if not test_seed:
        return "".join(secrets.choice(CAPTCHA_ALPHABET) for _ in range(CAPTCHA_LENGTH))
    digest = hmac.new(test_seed.encode(), challenge_id.bytes, hashlib.sha256).digest()
    return "".join(CAPTCHA_ALPHABET[b % len(CAPTCHA_ALPHABET)] for b in digest[:CAPTCHA_LENGTH])


def captcha_digest(challenge_id: UUID, answer: str) -> bytes:
    """The answer is compared without regard to case or surrounding spaces, and kept only hashed."""
    normalised = "".join(answer.split()).casefold()
    return hashlib.sha256(challenge_id.bytes + normalised.encode()).digest()


def captcha_answer_matches(stored: bytes, challenge_id: UUID, answer: str) -> bool:
    return hmac.compare_digest(stored, captcha_digest(challenge_id, answer))


# --- throttling (R4) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FailureWindow:
    """Failed attempts within the throttling window: how many, and the ``limit``-th newest."""

    count: int
    nth_newest: datetime | None


def throttled_for(
    failures: FailureWindow, *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """R4: seconds until fewer than ``limit`` failures remain in the sliding window; None if not throttled."""
    if failures.count < limit or failures.nth_newest is None:
        return None
    remaining = (failures.nth_newest + window - now).total_seconds()
    return max(1, math.ceil(remaining)) if remaining > 0 else None


# --- blocking (R5) -----------------------------------------------------------------------------


def block_in_effect(blocked_until: date | None, today: date) -> bool:
    """R5: a permanent block holds until staff lift it; a temporary one through its last day.

    ``today`` is the Warsaw calendar date (R18), so a block "until 10 March" lifts itself at
    midnight in Warsaw at the start of 11 March.
    """
    return blocked_until is None or today <= blocked_until


def check_block_request(
    until: date | None, permanent: bool, identity_verified: bool, today: date
) -> None:
    """R5: identity checked first; either a last day (not in the past) or permanent, not both."""
    if not identity_verified:
        raise DomainError(
            "identity_not_verified",
            "Konto można zastrzec dopiero po sprawdzeniu tożsamości klienta.",
            detail_en="An account can be blocked only after the customer's identity was checked.",
            status=422,
        )
    if permanent == (until is not None):
        raise DomainError(
            "block_period_invalid",
            "Podaj datę końca zastrzeżenia albo zaznacz zastrzeżenie bezterminowe.",
            detail_en="Give the block's last day or make it permanent, not both.",
            status=422,
        )
    if until is not None and until < today:
        raise DomainError(
            "block_period_invalid",
            "Data końca zastrzeżenia nie może być w przeszłości.",
            detail_en="The block's last day cannot be in the past.",
            status=422,
        )


def account_blocked_error(blocked_until: date | None) -> DomainError:
    """R5: told only after a correct password: that the account is blocked, and how to lift it."""
    lift_pl = (
        "Aby je odblokować, skontaktuj się z Biurem Obsługi Klienta (osobiście lub telefonicznie)"
        " i potwierdź swoją tożsamość."
    )
    lift_en = (
        "To lift the block, contact the customer service office (in person or by phone)"
        " and confirm your identity."
    )
    if blocked_until is None:
        pl = f"Konto jest zastrzeżone bezterminowo. {lift_pl}"
        en = f"The account is blocked permanently. {lift_en}"
    else:
        day = blocked_until.strftime("%d.%m.%Y")
        pl = f"Konto jest zastrzeżone do {day} włącznie. {lift_pl}"
        en = f"The account is blocked through {blocked_until.isoformat()}. {lift_en}"
    return DomainError(
        "account_blocked",
        pl,
        detail_en=en,
        status=403,
        fields={"blocked_until": blocked_until.isoformat() if blocked_until else "permanent"},
    )


AccountStatus = Literal["active", "pending", "blocked"]


def account_status(email_verified: bool, blocked: bool) -> AccountStatus:
    """Blocked (R5) wins; an account whose email is not verified yet is pending (R17)."""
    if blocked:
        return "blocked"
    return "active" if email_verified else "pending"


# --- contact data (R15, R16) -------------------------------------------------------------------


def same_email(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def masked_email(email: str) -> str:
    """``j***@example.com``: enough for the owner to recognise, little for anyone else."""
    local, _, host = email.partition("@")
    return f"{local[:1]}***@{host}"


def changed_contact_fields(current: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Which of phone, address and consent differ (the email has its own path: R16 verification)."""
    return [
        name
        for name in ("phone", "correspondence_address", "marketing_consent")
        if current.get(name) != wanted.get(name)
    ]


# --- audit trail -------------------------------------------------------------------------------

_SECRET_DETAIL = re.compile(r"password|token|secret|cookie|pesel|nip|identity_number|hash", re.I)


def audit_detail(**values: str | int | bool | None) -> dict[str, str | int | bool | None]:
    """What an audit entry records beyond who, when and where; never a secret (ASVS 7.1.1)."""
    for key in values:
        if _SECRET_DETAIL.search(key):
            raise ValueError(f"audit detail must not carry {key!r}")
    return {k: v for k, v in values.items() if v is not None}
