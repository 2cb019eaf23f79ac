"""Passwords inside R3 that are still refused: common or breached ones, and ones built from the
login or the email (NIST SP 800-63B-4 3.1.1.2)."""

from __future__ import annotations

import pytest

from runtime.errors import DomainError
from services.auth import domain
from services.auth.common_passwords import common_passwords


def refusal(
    password: str, login: str = "jan.kowalski", email: str | None = "jk@example.com"
) -> str | None:
    domain.check_password_policy(password)  # every case here passes R3 itself
    try:
        domain.check_password_not_guessable(password, login, email, common_passwords())
    except DomainError as exc:
        return exc.code
    return None


def test_the_shipped_list_holds_only_passwords_r3_would_accept() -> None:
    listed = common_passwords()
    assert len(listed) > 8000
    for password in listed:
        domain.check_password_policy(password)


@pytest.mark.parametrize("password", ["abc123", "Password1", "QWERTY123", "zaq12wsx", "polska1"])
def test_common_and_breached_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert refusal(password) == "password_common"


@pytest.mark.parametrize(
    ("password", "login", "email"),
    [
        ("Kowal2026", "kowal", "x@example.com"),
        ("abcKOWAL9", "Kowal", None),
        ("Janek1999x", "zzz", "janek@example.com"),
    ],
)
def test_a_password_containing_the_login_or_the_emails_local_part_is_refused(
    password: str, login: str, email: str | None
) -> None:
    assert refusal(password, login, email) == "password_contains_login"


def test_other_passwords_pass_and_very_short_logins_are_not_matched() -> None:
    assert refusal("Woda2026") is None
    assert refusal("Tajne123", login="jk", email="t@example.com") is None
