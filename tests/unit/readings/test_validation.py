"""R1, R8, R18: which customer readings are refused, and which are accepted but flagged."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from runtime.errors import DomainError
from services.readings import domain
from services.readings.domain import ContractTerm, KnownReading, MeterFacts

TODAY = date(2026, 3, 15)
METER = MeterFacts("WM1", installed_on=date(2024, 1, 10))
CONTRACT = ContractTerm("U/1", "active", date(2024, 1, 1), None)


def check(
    value: str,
    read_on: date = TODAY,
    others: list[KnownReading] | None = None,
    *,
    meter: MeterFacts = METER,
    settled_through: date | None = None,
) -> domain.Neighbours:
    return domain.check_reading(
        meter=meter,
        contract=CONTRACT,
        value=Decimal(value),
        read_on=read_on,
        today=TODAY,
        others=others or [],
        settled_through=settled_through,
    )


def refusal(excinfo: pytest.ExceptionInfo[DomainError]) -> tuple[str, int]:
    return excinfo.value.code, excinfo.value.status


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123.456", Decimal("123.456")),
        ("12.1", Decimal("12.100")),
        ("0", Decimal("0.000")),
        ("1E+2", Decimal("100.000")),
        ("999999999.999", Decimal("999999999.999")),
        # A JSON number arrives as a float: 12.5 fits three decimals exactly.
        (str(12.5), Decimal("12.500")),
    ],
)
def test_value_with_at_most_three_decimals_is_accepted(raw: str, expected: Decimal) -> None:
    value = domain.reading_value(Decimal(raw))
    assert value == expected
    assert value.as_tuple().exponent == -3


@pytest.mark.parametrize("raw", ["12.3456", str(0.1 + 0.2), "1E-4"])
def test_value_with_more_than_three_decimals_is_refused(raw: str) -> None:
    with pytest.raises(DomainError) as excinfo:
        domain.reading_value(Decimal(raw))
    assert refusal(excinfo) == ("reading_value_precision", 422)
    assert excinfo.value.detail != excinfo.value.detail_en  # Polish and English


@pytest.mark.parametrize("raw", ["-0.001", "NaN", "Infinity", "1000000000"])
def test_negative_infinite_or_too_large_value_is_refused(raw: str) -> None:
    with pytest.raises(DomainError) as excinfo:
        domain.reading_value(Decimal(raw))
    assert refusal(excinfo) == ("reading_value_invalid", 422)


def test_reading_in_the_future_is_refused() -> None:
    with pytest.raises(DomainError) as excinfo:
        check("10", date(2026, 3, 16))
    assert refusal(excinfo) == ("reading_in_future", 422)


def test_reading_today_is_accepted() -> None:
    assert check("10", TODAY).previous is None


def test_reading_before_installation_is_refused() -> None:
    with pytest.raises(DomainError) as excinfo:
        check("10", date(2024, 1, 9))
    assert refusal(excinfo) == ("reading_before_installation", 422)
    check("10", date(2024, 1, 10))


def test_reading_after_the_meter_was_removed_is_refused() -> None:
    removed = MeterFacts("WM1", date(2024, 1, 10), removed_on=date(2025, 6, 30))
    with pytest.raises(DomainError) as excinfo:
        check("10", date(2025, 7, 1), meter=removed)
    assert refusal(excinfo) == ("meter_removed", 422)
    check("10", date(2025, 6, 30), meter=removed)


def test_reading_before_the_contract_started_is_refused() -> None:
    early = MeterFacts("WM1", date(2023, 1, 1))
    with pytest.raises(DomainError) as excinfo:
        check("10", date(2023, 12, 31), meter=early)
    assert refusal(excinfo) == ("reading_before_contract", 422)


def test_reading_below_the_previous_reading_is_refused_with_the_previous_value() -> None:
    history = [
        KnownReading(date(2026, 1, 10), Decimal("100.000"), "inspector"),
        KnownReading(date(2026, 2, 10), Decimal("120.500"), "customer"),
    ]
    with pytest.raises(DomainError) as excinfo:
        check("120.499", others=history)
    assert refusal(excinfo) == ("reading_below_previous", 422)
    assert "120.500" in excinfo.value.detail and "10.02.2026" in excinfo.value.detail
    assert "120.500" in excinfo.value.detail_en
    assert check("120.500", others=history).previous == history[1]


def test_backdated_reading_above_a_later_reading_is_refused() -> None:
    history = [
        KnownReading(date(2026, 1, 10), Decimal("100"), "inspector"),
        KnownReading(date(2026, 3, 1), Decimal("150"), "inspector"),
    ]
    with pytest.raises(DomainError) as excinfo:
        check("151", date(2026, 2, 1), history)
    assert refusal(excinfo) == ("reading_above_next", 422)
    around = check("130", date(2026, 2, 1), history)
    assert (around.previous, around.following) == (history[0], history[1])


def test_new_meter_is_bounded_by_its_initial_state_even_on_the_exchange_day() -> None:
    # The new meter has its own serial: the old meter's 950 m3 is not "previous" for it.
    new_meter = MeterFacts("WM2", date(2026, 3, 1))
    initial = [KnownReading(date(2026, 3, 1), Decimal("2.000"), "meter_exchange")]
    assert check("3", date(2026, 3, 1), initial, meter=new_meter).previous == initial[0]
    with pytest.raises(DomainError) as excinfo:
        check("1.999", date(2026, 3, 1), initial, meter=new_meter)
    assert refusal(excinfo) == ("reading_below_previous", 422)


def test_another_sources_reading_the_same_day_does_not_bound_the_customers() -> None:
    same_day = [KnownReading(TODAY, Decimal("200"), "inspector")]
    assert check("190", TODAY, same_day).previous is None


def test_reading_in_a_settled_period_cannot_be_added_or_replaced() -> None:
    with pytest.raises(DomainError) as excinfo:
        check("10", date(2026, 2, 28), settled_through=date(2026, 2, 28))
    assert refusal(excinfo) == ("reading_period_billed", 409)
    check("10", date(2026, 3, 1), settled_through=date(2026, 2, 28))


@pytest.mark.parametrize(
    ("status", "start", "end", "current"),
    [
        ("active", date(2020, 1, 1), None, True),
        ("active", date(2020, 1, 1), TODAY, True),
        ("active", date(2020, 1, 1), date(2026, 3, 14), False),
        ("ended", date(2020, 1, 1), date(2026, 3, 14), False),
        ("suspended", date(2020, 1, 1), None, False),
        ("active", date(2026, 3, 16), None, False),
    ],
)
def test_only_a_current_contract_allows_readings(
    status: str, start: date, end: date | None, current: bool
) -> None:
    term = ContractTerm("U/1", status, start, end)
    assert domain.contract_is_current(term, TODAY) is current
    if current:
        assert domain.require_current_contract([term], TODAY) is term
    else:
        with pytest.raises(DomainError) as excinfo:
            domain.require_current_contract([term], TODAY)
        assert refusal(excinfo) == ("contract_not_active", 403)


def test_any_current_contract_of_the_premises_allows_readings() -> None:
    old = ContractTerm("U/1", "ended", date(2015, 1, 1), date(2019, 12, 31))
    new = ContractTerm("U/2", "active", date(2020, 1, 1), None)
    assert domain.require_current_contract([old, new], TODAY) is new


PREVIOUS = KnownReading(date(2026, 3, 5), Decimal("100.000"), "customer")


@pytest.mark.parametrize(
    ("value", "average", "flagged"),
    [
        # 10 days at 1 m3/day expected; factor 3 allows up to 30 m3.
        ("130.000", Fraction(1), False),
        ("130.001", Fraction(1), True),
        ("112.000", Fraction(1), False),
        # No use before: anything from 1 m3 on is a jump, less is noise.
        ("101.000", Fraction(0), True),
        ("100.999", Fraction(0), False),
        # Unknown recent use: nothing to compare with.
        ("500.000", None, False),
    ],
)
def test_jump_beyond_factor_times_recent_daily_average_is_flagged(
    value: str, average: Fraction | None, flagged: bool
) -> None:
    assert (
        domain.jump_is_implausible(
            previous=PREVIOUS,
            value=Decimal(value),
            read_on=TODAY,
            daily_average=average,
            factor=Decimal("3.0"),
        )
        is flagged
    )


def test_first_reading_of_a_meter_is_never_flagged() -> None:
    assert not domain.jump_is_implausible(
        previous=None,
        value=Decimal("9999"),
        read_on=TODAY,
        daily_average=Fraction(1),
        factor=Decimal("3"),
    )


def test_same_day_jump_counts_as_one_day() -> None:
    same_day = KnownReading(TODAY, Decimal("100"), "meter_exchange")
    args = {"previous": same_day, "read_on": TODAY, "daily_average": Fraction(1)}
    assert not domain.jump_is_implausible(value=Decimal("103"), factor=Decimal(3), **args)  # type: ignore[arg-type]
    assert domain.jump_is_implausible(value=Decimal("103.5"), factor=Decimal(3), **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expires", "sent", "due"),
    [
        (date(2026, 9, 1), [], None),  # 170 days left: nothing yet
        (date(2026, 6, 13), [], 90),  # exactly 90 days left
        (date(2026, 6, 1), [90], None),  # 78 days left, the 90-day reminder went out
        (date(2026, 4, 14), [90], 30),  # exactly 30 days left
        (date(2026, 4, 1), [90, 30], None),
        (date(2026, 4, 1), [], 30),  # known late: only the closest reminder, not both
        (date(2026, 3, 15), [], 30),  # expires today
        (date(2026, 3, 14), [], None),  # already expired
    ],
)
def test_legalization_reminders_go_90_and_30_days_before_once_each(
    expires: date, sent: list[int], due: int | None
) -> None:
    assert domain.legalization_reminder_due(expires, TODAY, (90, 30), sent) == due


def test_legalization_days_left_counts_calendar_days() -> None:
    assert domain.legalization_days_left(date(2026, 3, 16), TODAY) == 1
    assert domain.legalization_days_left(date(2026, 3, 10), TODAY) == -5
    assert domain.legalization_days_left(date(2028, 3, 15), TODAY) == 731  # over 29.02.2028
