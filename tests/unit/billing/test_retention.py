"""R14: personal data is kept for the contract's life and five full calendar years after it
ends; it may be erased from 1 January of the sixth year (Warsaw calendar)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from runtime.clock import business_date
from services.billing.domain import (
    erasable_from,
    kept_until,
    last_end_erasable_by,
    retention_due,
)


def test_a_contract_ended_mid_2020_is_kept_to_the_end_of_2025_and_due_on_new_year_2026() -> None:
    ended = date(2020, 6, 30)
    assert kept_until(ended) == date(2025, 12, 31)
    assert erasable_from(ended) == date(2026, 1, 1)
    assert not retention_due([ended], date(2025, 12, 31))
    assert retention_due([ended], date(2026, 1, 1))
    assert retention_due([ended], date(2031, 7, 1))


def test_the_last_day_of_a_year_counts_as_that_year() -> None:
    assert kept_until(date(2020, 12, 31)) == date(2025, 12, 31)
    assert retention_due([date(2020, 12, 31)], date(2026, 1, 1))
    assert not retention_due([date(2021, 1, 1)], date(2026, 1, 1))
    assert retention_due([date(2021, 1, 1)], date(2027, 1, 1))
    assert kept_until(date(2020, 2, 29)) == date(2025, 12, 31)


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        # 23:59 on 31 December in Warsaw (CET, UTC+1) is still 2025 there.
        (datetime(2025, 12, 31, 22, 59, tzinfo=UTC), False),
        # 00:30 on 1 January in Warsaw, while it is still 31 December in UTC.
        (datetime(2025, 12, 31, 23, 30, tzinfo=UTC), True),
    ],
)
def test_the_day_is_the_warsaw_calendar_day(moment: datetime, due: bool) -> None:
    assert retention_due([date(2020, 12, 31)], business_date(moment)) is due


def test_a_customer_with_a_current_or_later_contract_is_not_due() -> None:
    new_year = date(2026, 1, 1)
    assert not retention_due([date(2020, 6, 30), None], new_year)
    assert not retention_due([date(2020, 6, 30), date(2023, 5, 31)], new_year)
    assert retention_due([date(2020, 6, 30), date(2023, 5, 31)], date(2029, 1, 1))


def test_several_contracts_count_from_the_last_end() -> None:
    ends: list[date | None] = [date(2015, 3, 31), date(2020, 6, 30), date(2018, 1, 1)]
    assert not retention_due(ends, date(2025, 12, 31))
    assert retention_due(ends, date(2026, 1, 1))


def test_a_customer_without_contracts_is_not_due() -> None:
    assert not retention_due([], date(2040, 1, 1))


def test_the_database_cutoff_agrees_with_the_rule_every_day_around_new_year() -> None:
    """The query selects customers whose every contract ended on or before the cutoff."""
    ends = [date(2019, 12, 31), date(2020, 1, 1), date(2020, 6, 30), date(2020, 12, 31)]
    start = date(2025, 12, 20)
    for offset in range(400):
        today = start + timedelta(days=offset)
        cutoff = last_end_erasable_by(today)
        for end in ends:
            assert retention_due([end], today) == (end <= cutoff), (end, today)
