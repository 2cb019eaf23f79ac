"""When the start page says the next reading is expected: the end of the current billing period."""

from __future__ import annotations

from datetime import date

import pytest

from services.gateway.portal.home import add_months, next_reading_expected


@pytest.mark.parametrize(
    ("day", "months", "later"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 11, 15), 2, date(2027, 1, 15)),
        (date(2026, 3, 31), 12, date(2027, 3, 31)),
    ],
)
def test_months_are_added_keeping_the_day_or_the_months_last_day(
    day: date, months: int, later: date
) -> None:
    assert add_months(day, months) == later


@pytest.mark.parametrize(
    ("start", "months", "today", "expected"),
    [
        # Quarterly from 15 January: the period 15 Oct - 14 Jan holds 25 November.
        (date(2020, 1, 15), 3, date(2026, 11, 25), date(2027, 1, 14)),
        # Monthly from the 31st: the period 31 Jan - 27 Feb (28 Feb starts the next one).
        (date(2020, 1, 31), 1, date(2026, 2, 10), date(2026, 2, 27)),
        # A contract that starts today: its first period's last day.
        (date(2026, 11, 25), 2, date(2026, 11, 25), date(2027, 1, 24)),
        # The last day of a period is itself the answer.
        (date(2020, 3, 1), 1, date(2026, 11, 30), date(2026, 11, 30)),
        # The day after a period ends belongs to the next one.
        (date(2020, 3, 1), 1, date(2026, 12, 1), date(2026, 12, 31)),
    ],
)
def test_the_next_reading_is_expected_when_the_current_billing_period_ends(
    start: date, months: int, today: date, expected: date
) -> None:
    assert next_reading_expected(start, months, today) == expected
