"""Captcha, throttling, blocking, staff passwords, contact changes and audit details, without I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from runtime.errors import DomainError
from services.auth import domain

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


# --- R4 captcha ---------------------------------------------------------------------------------


def test_captcha_answers_are_random_without_a_test_seed() -> None:
    challenge = uuid.uuid4()
    answers = {domain.new_captcha_answer(challenge) for _ in range(20)}
    assert len(answers) > 15
    assert all(len(a) == domain.CAPTCHA_LENGTH for a in answers)
    assert all(set(a) <= set(domain.CAPTCHA_ALPHABET) for a in answers)


def test_captcha_answer_with_a_test_seed_depends_on_seed_and_challenge() -> None:
    challenge = uuid.uuid4()
    assert domain.new_captcha_answer(challenge, "s") == domain.new_captcha_answer(challenge, "s")
    assert domain.new_captcha_answer(challenge, "s") != domain.new_captcha_answer(challenge, "t")
    assert domain.new_captcha_answer(challenge, "s") != domain.new_captcha_answer(uuid.uuid4(), "s")


def test_captcha_answer_is_compared_without_regard_to_case_or_spaces() -> None:
    challenge = uuid.uuid4()
    stored = domain.captcha_digest(challenge, "K7AF3")
    assert domain.captcha_answer_matches(stored, challenge, "k7af3")
    assert domain.captcha_answer_matches(stored, challenge, " K7 AF3 ")
    assert not domain.captcha_answer_matches(stored, challenge, "K7AF4")


def test_captcha_digest_is_bound_to_its_challenge_and_hides_the_answer() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    assert domain.captcha_digest(first, "K7AF3") != domain.captcha_digest(second, "K7AF3")
    assert b"K7AF3" not in domain.captcha_digest(first, "K7AF3")
    assert not domain.captcha_answer_matches(domain.captcha_digest(first, "K7AF3"), second, "K7AF3")


# --- R4 throttling ------------------------------------------------------------------------------


def test_fewer_failures_than_the_limit_are_not_throttled() -> None:
    failures = domain.FailureWindow(count=9, nth_newest=None)
    assert domain.throttled_for(failures, limit=10, window=WINDOW, now=NOW) is None


def test_reaching_the_limit_throttles_until_the_oldest_counted_failure_leaves_the_window() -> None:
    failures = domain.FailureWindow(count=10, nth_newest=NOW - timedelta(minutes=5))
    assert domain.throttled_for(failures, limit=10, window=WINDOW, now=NOW) == 600


def test_throttling_is_never_less_than_a_second_while_it_holds() -> None:
    failures = domain.FailureWindow(count=12, nth_newest=NOW - WINDOW + timedelta(milliseconds=10))
    assert domain.throttled_for(failures, limit=10, window=WINDOW, now=NOW) == 1


# --- R5 blocking --------------------------------------------------------------------------------


def test_temporary_block_holds_through_its_last_day_and_lifts_itself_the_next_day() -> None:
    last_day = date(2026, 3, 10)
    assert domain.block_in_effect(last_day, date(2026, 3, 10))
    assert not domain.block_in_effect(last_day, date(2026, 3, 11))


def test_permanent_block_holds_until_lifted() -> None:
    assert domain.block_in_effect(None, date(2099, 1, 1))


@pytest.mark.parametrize(
    ("until", "permanent", "verified", "code"),
    [
        (date(2026, 3, 20), False, False, "identity_not_verified"),
        (None, False, True, "block_period_invalid"),
        (date(2026, 3, 20), True, True, "block_period_invalid"),
        (date(2026, 3, 9), False, True, "block_period_invalid"),
    ],
)
def test_block_request_needs_identity_check_and_one_valid_period(
    until: date | None, permanent: bool, verified: bool, code: str
) -> None:
    with pytest.raises(DomainError) as refused:
        domain.check_block_request(until, permanent, verified, date(2026, 3, 10))
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("until", "permanent"), [(date(2026, 3, 10), False), (date(2027, 1, 1), False), (None, True)]
)
def test_block_until_today_or_later_or_permanent_is_accepted(
    until: date | None, permanent: bool
) -> None:
    domain.check_block_request(until, permanent, True, date(2026, 3, 10))


def test_blocked_answer_says_until_when_and_how_to_lift_it() -> None:
    temporary = domain.account_blocked_error(date(2026, 3, 20))
    assert temporary.code == "account_blocked" and temporary.status == 403
    assert "20.03.2026" in temporary.detail and "Biurem Obsługi Klienta" in temporary.detail
    assert "2026-03-20" in temporary.detail_en
    permanent = domain.account_blocked_error(None)
    assert "bezterminowo" in permanent.detail
    assert permanent.fields == {"blocked_until": "permanent"}


@pytest.mark.parametrize(
    ("verified", "blocked", "status"),
    [
        (True, False, "active"),
        (False, False, "pending"),
        (True, True, "blocked"),
        (False, True, "blocked"),
    ],
)
def test_account_status_for_staff(verified: bool, blocked: bool, status: str) -> None:
    assert domain.account_status(verified, blocked) == status


# --- staff passwords ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Short1abc", "password_length"),
        ("a" * 129, "password_length"),
        ("onlyletterslong", "password_composition"),
    ],
)
def test_staff_password_needs_12_characters_with_a_letter_and_a_digit(
    password: str, code: str
) -> None:
    with pytest.raises(DomainError) as refused:
        domain.check_staff_password_policy(password)
    assert refused.value.code == code


def test_staff_password_may_be_a_long_passphrase_with_spaces() -> None:
    domain.check_staff_password_policy("woda i kanaliza 2026 to podstawa")


# --- R15, R16 contact data ----------------------------------------------------------------------


def test_email_comparison_ignores_case_and_surrounding_spaces() -> None:
    assert domain.same_email("Jan@Example.com", " jan@example.com")
    assert not domain.same_email("jan@example.com", None)


def test_changed_contact_fields_name_only_what_differs() -> None:
    current = {"phone": "600100200", "correspondence_address": None, "marketing_consent": False}
    wanted = {"phone": "600100200", "correspondence_address": None, "marketing_consent": True}
    assert domain.changed_contact_fields(current, wanted) == ["marketing_consent"]
    assert domain.changed_contact_fields(current, current) == []


# --- audit trail --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["password", "new_password", "token", "session_token", "pesel", "identity_number"]
)
def test_audit_detail_refuses_secrets(key: str) -> None:
    with pytest.raises(ValueError):
        domain.audit_detail(**{key: "x"})


def test_audit_detail_keeps_plain_facts_and_drops_empty_ones() -> None:
    assert domain.audit_detail(identity_check="pesel", until=None, sessions_ended=2) == {
        "identity_check": "pesel",
        "sessions_ended": 2,
    }
