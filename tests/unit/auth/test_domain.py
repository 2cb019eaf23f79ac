"""The account rules without a database or broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtime.errors import DomainError
from services.auth import domain

IDLE, ABSOLUTE = timedelta(minutes=15), timedelta(hours=12)
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("password", ["abc123", "Tajne2026", "a1b2c3d4e5f6g7h8i9j0", "Zażółć1"])
def test_password_of_6_to_20_letters_and_digits_is_accepted(password: str) -> None:
    domain.check_password_policy(password)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("ab12", "password_length"),
        ("abc12", "password_length"),
        ("a1" * 10 + "x", "password_length"),
        ("abcdefgh", "password_composition"),
        ("12345678", "password_composition"),
        ("abc 1234", "password_charset"),
        ("abc_1234", "password_charset"),
        ("abc!1234", "password_charset"),
    ],
)
def test_password_outside_the_policy_is_refused_with_its_code(password: str, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        domain.check_password_policy(password)
    assert refused.value.code == code
    assert refused.value.status == 422


def test_login_key_ignores_case() -> None:
    assert domain.login_key("Jan.Kowalski") == domain.login_key("JAN.kowalski")


def test_tokens_are_random_and_stored_only_as_a_digest() -> None:
    first, second = domain.new_token(), domain.new_token()
    assert first != second and len(first) >= 40
    assert domain.token_digest(first) != first.encode()
    assert domain.token_digest(first) == domain.token_digest(first)


def test_session_ends_after_the_idle_timeout() -> None:
    session = domain.SessionTimes(created_at=T0, last_seen_at=T0 + timedelta(hours=1))
    assert not domain.session_expired(
        session, T0 + timedelta(hours=1, minutes=14), idle=IDLE, absolute=ABSOLUTE
    )
    assert domain.session_expired(
        session, T0 + timedelta(hours=1, minutes=15), idle=IDLE, absolute=ABSOLUTE
    )


def test_session_ends_after_the_absolute_timeout_even_when_in_use() -> None:
    session = domain.SessionTimes(created_at=T0, last_seen_at=T0 + timedelta(hours=11, minutes=59))
    assert domain.session_expired(session, T0 + timedelta(hours=12), idle=IDLE, absolute=ABSOLUTE)
    assert domain.session_expires_at(session, idle=IDLE, absolute=ABSOLUTE) == T0 + ABSOLUTE
