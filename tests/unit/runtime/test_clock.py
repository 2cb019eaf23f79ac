"""R18: business dates follow the Warsaw calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

from runtime.clock import business_date


def test_late_evening_utc_is_already_the_next_day_in_warsaw() -> None:
    assert business_date(datetime(2026, 6, 30, 22, 30, tzinfo=UTC)) == date(2026, 7, 1)
    assert business_date(datetime(2026, 12, 31, 22, 59, tzinfo=UTC)) == date(2026, 12, 31)
    assert business_date(datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == date(2027, 1, 1)
