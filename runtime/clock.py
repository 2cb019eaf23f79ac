"""Business dates follow the Europe/Warsaw calendar; timestamps are stored in UTC (R18)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

WARSAW = ZoneInfo("Europe/Warsaw")


def utc_now() -> datetime:
    return datetime.now(UTC)


def business_date(moment: datetime) -> date:
    """The Warsaw calendar date of an aware moment."""
    return moment.astimezone(WARSAW).date()


def business_today() -> date:
    return business_date(utc_now())
