"""The portal's Polish (and English) formatting of money, volumes, dates and counts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.gateway.portal.formatting import (
    NBSP,
    format_date,
    format_datetime,
    format_days,
    format_long_date,
    format_money,
    format_month,
    format_percent,
    format_quantity,
    format_unit,
    format_volume,
    group_digits,
    parse_decimal,
    plural_pl,
)


@pytest.mark.parametrize(
    ("grosze", "pl", "en"),
    [
        (0, "0,00 zł", "PLN 0.00"),
        (5, "0,05 zł", "PLN 0.05"),
        (123456, "1234,56 zł", "PLN 1,234.56"),
        (1234567, "12 345,67 zł", "PLN 12,345.67"),
        (123456789, "1 234 567,89 zł", "PLN 1,234,567.89"),
        (-2050, "\u221220,50 zł", "PLN \u221220.50"),
    ],
)
def test_money_is_written_in_zloty_with_a_decimal_comma_and_grouped_thousands(
    grosze: int, pl: str, en: str
) -> None:
    assert format_money(grosze, "pl") == pl.replace(" ", NBSP)
    assert format_money(grosze, "en") == en.replace(" ", NBSP)


def test_four_digit_numbers_are_not_grouped_in_polish_but_are_in_english() -> None:
    assert group_digits("1234", "pl") == "1234"
    assert group_digits("12345", "pl") == f"12{NBSP}345"
    assert group_digits("1234", "en") == "1,234"


@pytest.mark.parametrize(
    ("value", "pl"),
    [
        (Decimal("12.3456"), "12,346 m³"),
        (Decimal("0.0005"), "0,001 m³"),
        (Decimal(7), "7,000 m³"),
        ("15432.1", "15 432,100 m³"),
    ],
)
def test_volumes_have_three_decimals_in_cubic_metres(value: Decimal | str, pl: str) -> None:
    assert format_volume(value, "pl") == pl.replace(" ", NBSP)


def test_volume_in_english_uses_a_decimal_point() -> None:
    assert format_volume(Decimal("1234.5"), "en") == f"1,234.500{NBSP}m³"


def test_dates_are_day_month_year_with_dots_in_polish_and_words_in_english() -> None:
    day = date(2026, 3, 5)
    assert format_date(day, "pl") == "05.03.2026"
    assert format_date(day, "en") == "5 March 2026"
    assert format_long_date(day, "pl") == "5 marca 2026"
    assert format_month(day, "pl") == "marzec 2026"
    assert format_month(day, "en") == "March 2026"


def test_instants_are_shown_in_warsaw_time_across_the_summer_time_change() -> None:
    assert format_datetime(datetime(2026, 1, 10, 23, 30, tzinfo=UTC)) == "11.01.2026, 00:30"
    assert format_datetime(datetime(2026, 7, 10, 22, 5, tzinfo=UTC)) == "11.07.2026, 00:05"
    assert format_datetime(datetime(2026, 7, 10, 22, 5)) == "11.07.2026, 00:05"


@pytest.mark.parametrize(
    ("count", "form"),
    [(1, "one"), (2, "few"), (4, "few"), (5, "many"), (12, "many"), (14, "many"),
     (22, "few"), (25, "many"), (0, "many"), (104, "few"), (112, "many")],
)  # fmt: skip
def test_polish_plural_forms_follow_the_last_digits(count: int, form: str) -> None:
    assert plural_pl(count, "one", "few", "many") == form


def test_days_are_counted_in_words() -> None:
    assert format_days(1) == f"1{NBSP}dzień"
    assert format_days(3) == f"3{NBSP}dni"
    assert format_days(1, "en") == f"1{NBSP}day"
    assert format_days(21, "en") == f"21{NBSP}days"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12,5", Decimal("12.5")),
        ("12.500", Decimal("12.500")),
        (" 1 234,5 ", Decimal("1234.5")),
        (f"1{NBSP}234", Decimal(1234)),
        ("0", Decimal(0)),
    ],
)
def test_typed_numbers_accept_a_comma_or_a_point(text: str, value: Decimal) -> None:
    assert parse_decimal(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1.234,5", "12,3,4", "1e5", "NaN", "--1", "12 m3"])
def test_text_that_is_not_a_plain_number_is_refused(text: str) -> None:
    assert parse_decimal(text) is None


def test_changes_in_per_cent_carry_their_sign() -> None:
    assert format_percent(Decimal("12.46")) == "+12,5%"
    assert format_percent(Decimal(-3)) == "\u22123,0%"
    assert format_percent(0, "en") == "0.0%"


def test_invoice_quantities_are_whole_or_three_decimals_and_units_get_symbols() -> None:
    assert format_quantity(Decimal("1.000")) == "1"
    assert format_quantity(Decimal("12.5")) == "12,500"
    assert format_unit("m3") == "m³"
    assert format_unit("szt.") == "szt."
