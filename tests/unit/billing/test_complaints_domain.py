"""The complaint rules (R10, R12) without a database or broker."""

from __future__ import annotations

from datetime import date

import pytest

from runtime.errors import Conflict, DomainError
from services.billing.complaints import domain as rules

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 6, 1), date(2026, 6, 11)),  # the day it arrived is not counted
        (date(2026, 11, 25), date(2026, 12, 5)),  # a Saturday is not moved
        (date(2026, 12, 28), date(2027, 1, 7)),  # across the year
        (date(2028, 2, 25), date(2028, 3, 6)),  # a leap February
        (date(2026, 10, 20), date(2026, 10, 30)),  # across the change to winter time
    ],
)
def test_the_deadline_is_ten_calendar_days_after_the_complaint_arrived(
    received: date, due: date
) -> None:
    assert rules.due_on(received) == due


def test_a_complaint_is_overdue_only_after_its_last_day_and_until_settled() -> None:
    due = rules.due_on(date(2026, 11, 13))  # received 12 days before TODAY
    assert due == date(2026, 11, 23)
    assert rules.is_overdue(rules.FILED, due, TODAY)
    assert rules.is_overdue(rules.WAITING, due, TODAY)  # waiting does not stop the clock
    assert not rules.is_overdue(rules.SETTLED, due, TODAY)
    assert not rules.is_overdue(rules.FILED, TODAY, TODAY)  # the last day is still in time
    assert rules.due_in_days(due, TODAY) == -2
    assert rules.due_in_days(TODAY, TODAY) == 0


def test_due_soon_means_the_deadline_within_two_days_and_not_past() -> None:
    assert rules.is_due_soon(rules.FILED, date(2026, 11, 27), TODAY)
    assert rules.is_due_soon(rules.WAITING, TODAY, TODAY)
    assert not rules.is_due_soon(rules.FILED, date(2026, 11, 28), TODAY)
    assert not rules.is_due_soon(rules.FILED, date(2026, 11, 24), TODAY)
    assert not rules.is_due_soon(rules.SETTLED, TODAY, TODAY)


def test_a_complaint_cannot_be_received_in_the_future() -> None:
    assert rules.check_received_on(TODAY, TODAY) == TODAY
    with pytest.raises(DomainError) as refused:
        rules.check_received_on(date(2026, 11, 26), TODAY)
    assert refused.value.code == "received_on_in_future"


def test_asking_for_information_waits_for_the_customer_and_the_answer_goes_back_to_staff() -> None:
    assert rules.after_information_requested(rules.FILED) == rules.WAITING
    assert rules.after_information_requested(rules.WAITING) == rules.WAITING  # asked again
    assert rules.after_customer_message(rules.WAITING) == rules.FILED
    assert rules.after_customer_message(rules.FILED) == rules.FILED


def test_a_settled_complaint_takes_no_question_nor_answer() -> None:
    with pytest.raises(Conflict):
        rules.after_information_requested(rules.SETTLED)
    with pytest.raises(Conflict):
        rules.after_customer_message(rules.SETTLED)


def test_a_complaint_is_settled_once_and_the_same_settlement_repeated_changes_nothing() -> None:
    wanted = rules.Outcome("accepted", "Korekta faktury.")
    assert rules.check_settlement(rules.FILED, None, wanted) is True
    assert rules.check_settlement(rules.WAITING, None, wanted) is True
    assert rules.check_settlement(rules.SETTLED, wanted, wanted) is False
    with pytest.raises(Conflict) as refused:
        rules.check_settlement(rules.SETTLED, wanted, rules.Outcome("rejected", "Nie."))
    assert refused.value.code == "complaint_settled"


def test_customer_text_is_trimmed_kept_as_typed_and_limited() -> None:
    text = "  <b>Faktura</b>\r\nza wysoka\t!  "
    assert rules.clean_text(text, "body", 100) == "<b>Faktura</b>\nza wysoka\t!"
    assert rules.clean_text("x" * 10, "body", 10) == "x" * 10


@pytest.mark.parametrize(
    ("text", "code"),
    [("   \n ", "text_empty"), ("x" * 11, "text_too_long"), ("a\x00b", "text_invalid")],
)
def test_empty_long_or_control_character_text_is_refused(text: str, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        rules.clean_text(text, "body", 10)
    assert refused.value.code == code
    assert refused.value.fields == {"body": refused.value.fields["body"]}
