"""The account rules: pure functions, no I/O."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from runtime.errors import DomainError

_LETTER = re.compile(r"[^\W\d_]")
_ALPHANUMERIC = re.compile(r"^[^\W_]+$")


def check_password_policy(password: str) -> None:
    """R3 (§2.9): 6 to 20 characters, letters and digits only, at least one of each."""
    if not 6 <= len(password) <= 20:
        raise DomainError("password_length", "Hasło musi mieć od 6 do 20 znaków.", status=422)
    if not _ALPHANUMERIC.match(password):
        raise DomainError(
            "password_charset", "Hasło może zawierać tylko litery i cyfry.", status=422
        )
    if not (_LETTER.search(password) and any(c.isdigit() for c in password)):
        raise DomainError(
            "password_composition",
            "Hasło musi zawierać co najmniej jedną literę i jedną cyfrę.",
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
