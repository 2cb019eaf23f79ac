"""R7.7: consumption from readings, interpolated by day, never double counted."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from runtime.errors import DomainError
from services.readings.consumption import domain
from services.readings.consumption.domain import Exchange, MeterSegment, Span
from services.readings.domain import KnownReading, m3


def meter(
    serial: str,
    readings: list[tuple[date, str]],
    installed: date | None = None,
    exchange: Exchange | None = None,
    source: str = "inspector",
) -> MeterSegment:
    return MeterSegment(
        serial,
        installed or readings[0][0],
        [KnownReading(d, Decimal(v), source) for d, v in readings],
        exchange,
    )


def month(curve: domain.Curve, year: int, m: int) -> tuple[Fraction, int]:
    span = domain.months(date(year, m, 1), date(year, m, 1))[0]
    return curve.over(span.start, span.end)


def test_use_between_readings_is_spread_evenly_over_the_days_across_a_month_end() -> None:
    # 20 days (21 Jan - 9 Feb) at 1 m3 a day: 11 in January, 9 in February.
    curve = domain.consumption_curve(
        [meter("A", [(date(2025, 1, 20), "100"), (date(2025, 2, 9), "120")])]
    )
    assert month(curve, 2025, 1) == (Fraction(11), 11)
    assert month(curve, 2025, 2) == (Fraction(9), 9)
    assert month(curve, 2025, 3) == (Fraction(0), 0)


def test_a_reading_on_the_last_day_of_a_month_closes_that_month() -> None:
    curve = domain.consumption_curve(
        [
            meter(
                "A",
                [(date(2025, 1, 31), "10"), (date(2025, 2, 28), "38"), (date(2025, 3, 31), "100")],
            )
        ]
    )
    assert month(curve, 2025, 2) == (Fraction(28), 28)
    assert month(curve, 2025, 3) == (Fraction(62), 31)


def test_leap_february_has_29_days_of_use() -> None:
    # 16 Feb - 15 Mar 2024 is 29 days (14 in February, 15 in March) at 2 m3 a day.
    leap = domain.consumption_curve(
        [meter("A", [(date(2024, 2, 15), "0"), (date(2024, 3, 15), "58")])]
    )
    assert month(leap, 2024, 2) == (Fraction(28), 14)
    assert month(leap, 2024, 3) == (Fraction(30), 15)
    # The same dates a year later span 28 days: 13 in February.
    plain = domain.consumption_curve(
        [meter("A", [(date(2025, 2, 15), "0"), (date(2025, 3, 15), "56")])]
    )
    assert month(plain, 2025, 2) == (Fraction(26), 13)
    assert month(plain, 2025, 3) == (Fraction(30), 15)


def test_uneven_gaps_interpolate_each_interval_at_its_own_rate() -> None:
    curve = domain.consumption_curve(
        [
            meter(
                "A",
                [
                    (date(2025, 1, 10), "0"),
                    (date(2025, 1, 20), "5"),  # 10 days, 0.5 a day
                    (date(2025, 3, 1), "45"),  # 40 days (21 Jan - 1 Mar), 1 a day
                ],
            )
        ]
    )
    assert month(curve, 2025, 1) == (Fraction(5 + 11), 21)
    assert month(curve, 2025, 2) == (Fraction(28), 28)
    assert month(curve, 2025, 3) == (Fraction(1), 1)


def test_meter_exchange_adds_old_final_minus_last_reading_and_new_reading_minus_initial() -> None:
    old = meter("A", [(date(2025, 1, 31), "100")], installed=date(2020, 1, 1))
    new = meter(
        "B",
        [(date(2025, 2, 28), "23")],
        installed=date(2025, 2, 10),
        exchange=Exchange("A", Decimal("110"), Decimal("5"), date(2025, 2, 10)),
    )
    curve = domain.consumption_curve([new, old])  # order of arrival does not matter
    # (110 - 100) + (23 - 5) = 28 over February's 28 days, nothing lost or counted twice.
    assert month(curve, 2025, 2) == (Fraction(28), 28)
    assert curve.over(date(2025, 2, 1), date(2025, 2, 10)) == (Fraction(10), 10)
    assert curve.over(date(2025, 2, 11), date(2025, 2, 28)) == (Fraction(18), 18)


def test_exchange_readings_stored_as_readings_are_not_counted_twice() -> None:
    # The billing system may also send the exchange's states as readings of each meter.
    ex = Exchange("A", Decimal("130"), Decimal("0"), date(2025, 2, 20))
    old = meter(
        "A", [(date(2025, 1, 31), "100"), (date(2025, 2, 20), "130")], installed=date(2020, 1, 1)
    )
    new = MeterSegment(
        "B",
        date(2025, 2, 20),
        [
            KnownReading(date(2025, 2, 20), Decimal("0"), "meter_exchange"),
            KnownReading(date(2025, 3, 10), Decimal("18"), "customer"),
        ],
        ex,
    )
    curve = domain.consumption_curve([old, new])
    assert month(curve, 2025, 2) == (Fraction(30 + 8), 28)
    assert month(curve, 2025, 3) == (Fraction(10), 10)


def test_meters_without_an_exchange_link_leave_the_time_between_unknown() -> None:
    a = meter("A", [(date(2025, 1, 1), "0"), (date(2025, 1, 31), "30")])
    b = meter("B", [(date(2025, 3, 1), "0"), (date(2025, 3, 31), "60")], installed=date(2025, 3, 1))
    curve = domain.consumption_curve([a, b])
    assert month(curve, 2025, 1) == (Fraction(30), 30)
    assert month(curve, 2025, 2) == (Fraction(0), 0)  # a gap: not guessed
    assert month(curve, 2025, 3) == (Fraction(60), 30)
    figures = domain.consumption_figures(curve, domain.months(date(2025, 1, 1), date(2025, 3, 31)))
    assert [i.used for i in figures.items] == [Fraction(30), None, Fraction(60)]
    assert figures.covered_days == 60 and figures.total == 90


def test_a_later_lower_reading_overrides_the_higher_ones_before_it() -> None:
    curve = domain.consumption_curve(
        [
            MeterSegment(
                "A",
                date(2025, 1, 1),
                [
                    KnownReading(date(2025, 1, 1), Decimal("100"), "inspector"),
                    KnownReading(date(2025, 2, 1), Decimal("150"), "customer"),  # over-read
                    KnownReading(date(2025, 3, 1), Decimal("140"), "inspector"),
                ],
            )
        ]
    )
    used, days = curve.over(date(2025, 1, 2), date(2025, 3, 1))
    assert (used, days) == (Fraction(40), 59)
    assert all(
        c1 >= c0 for piece in curve.pieces for c0, c1 in zip(piece.cs, piece.cs[1:], strict=False)
    )


def test_several_readings_on_one_day_count_as_the_highest() -> None:
    curve = domain.consumption_curve(
        [meter("A", [(date(2025, 1, 1), "0"), (date(2025, 1, 11), "9"), (date(2025, 1, 11), "10")])]
    )
    assert curve.over(date(2025, 1, 2), date(2025, 1, 11)) == (Fraction(10), 10)


def test_months_and_periods_sum_to_the_whole_never_double_counting() -> None:
    rng = random.Random(5)
    day, value, readings = date(2023, 11, 7), Decimal("12.345"), []
    while day < date(2026, 2, 1):
        readings.append((day, str(value)))
        day += timedelta(days=rng.randrange(1, 75))
        value += Decimal(rng.randrange(0, 90_000)) / 1000
    curve = domain.consumption_curve([meter("A", readings)])
    first, last = readings[0][0], readings[-1][0]
    whole = Fraction(Decimal(readings[-1][1]) - Decimal(readings[0][1]))
    for spans in (
        domain.months(first, last),
        domain.billing_periods(date(2022, 5, 17), 2, first, last),
        domain.billing_periods(date(2022, 5, 17), 3, first, last),
    ):
        figures = domain.consumption_figures(curve, spans)
        assert figures.total == whole
        assert figures.covered_days == (last - first).days


def test_month_spans_are_whole_calendar_months() -> None:
    spans = domain.months(date(2024, 1, 15), date(2024, 3, 2))
    assert [(s.label, s.start, s.end, s.days) for s in spans] == [
        ("2024-01", date(2024, 1, 1), date(2024, 1, 31), 31),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), 29),
        ("2024-03", date(2024, 3, 1), date(2024, 3, 31), 31),
    ]
    assert [s.label for s in domain.months(date(2024, 12, 5), date(2025, 1, 1))] == [
        "2024-12",
        "2025-01",
    ]


def test_billing_periods_count_from_the_month_the_contract_started() -> None:
    spans = domain.billing_periods(date(2023, 11, 20), 2, date(2024, 2, 10), date(2024, 5, 1))
    assert [(s.label, s.start, s.end) for s in spans] == [
        ("2024-01/2024-02", date(2024, 1, 1), date(2024, 2, 29)),
        ("2024-03/2024-04", date(2024, 3, 1), date(2024, 4, 30)),
        ("2024-05/2024-06", date(2024, 5, 1), date(2024, 6, 30)),
    ]
    # Before the contract started the periods run on backwards with the same rhythm.
    early = domain.billing_periods(date(2023, 11, 20), 3, date(2023, 9, 1), date(2023, 11, 1))
    assert [(s.start, s.end) for s in early] == [
        (date(2023, 8, 1), date(2023, 10, 31)),
        (date(2023, 11, 1), date(2024, 1, 31)),
    ]
    assert [
        s.label
        for s in domain.billing_periods(date(2020, 1, 1), 1, date(2024, 2, 1), date(2024, 2, 2))
    ] == ["2024-02"]


def test_the_same_span_a_year_before_keeps_whole_months_over_leap_days() -> None:
    assert domain.year_before(date(2024, 2, 29)) == date(2023, 2, 28)
    feb = Span("2025-02", date(2025, 2, 1), date(2025, 2, 28))
    assert domain.span_year_before(feb) == Span("2025-02", date(2024, 2, 1), date(2024, 2, 29))
    leap = Span("2024-02", date(2024, 2, 1), date(2024, 2, 29))
    assert domain.span_year_before(leap) == Span("2024-02", date(2023, 2, 1), date(2023, 2, 28))


def two_years() -> domain.Curve:
    # 2024 at 1 m3 a day, 2025 at 2 m3 a day; readings at each month's end.
    readings = [(date(2023, 12, 31), "0")]
    value = 0
    day = date(2024, 1, 1)
    while day <= date(2025, 12, 31):
        nxt = domain.add_months(day, 1)
        value += (nxt - day).days * (1 if day.year == 2024 else 2)
        readings.append((nxt - timedelta(days=1), str(value)))
        day = nxt
    return domain.consumption_curve([meter("A", readings)])


def test_each_span_is_compared_with_the_same_span_a_year_before() -> None:
    figures = domain.consumption_figures(
        two_years(), domain.months(date(2025, 1, 1), date(2025, 3, 31))
    )
    jan, feb, mar = figures.items
    assert (mar.used, mar.previous_year) == (62, 31)
    assert (jan.used, jan.previous_year, jan.change_percent) == (62, 31, Decimal("100.0"))
    # February 2025 (28 days at 2) against February 2024 (29 days at 1).
    assert (feb.used, feb.previous_year, feb.change_percent) == (56, 29, Decimal("93.1"))
    assert feb.daily_average == 2 and feb.complete
    assert figures.average_daily == 2 and figures.previous_year_average_daily == 1
    assert figures.trend == domain.Trend("rising", Decimal("100.0"))


def test_year_before_is_omitted_when_not_fully_known_and_change_needs_a_whole_span() -> None:
    figures = domain.consumption_figures(
        two_years(), domain.months(date(2024, 11, 1), date(2026, 1, 31))
    )
    by_label = {i.span.label: i for i in figures.items}
    assert by_label["2024-11"].previous_year is None  # 2023 is not covered
    assert by_label["2025-11"].previous_year == 30
    january = by_label["2026-01"]
    assert (january.used, january.covered_days, january.complete) == (None, 0, False)
    assert january.change_percent is None and january.previous_year == 62


@pytest.mark.parametrize(
    ("current", "previous", "trend"),
    [
        (Fraction(105), Fraction(100), domain.Trend("stable", Decimal("5.0"))),
        (Fraction(10501, 100), Fraction(100), domain.Trend("rising", Decimal("5.0"))),
        (Fraction(90), Fraction(100), domain.Trend("falling", Decimal("-10.0"))),
        (Fraction(1), Fraction(0), domain.Trend("rising")),
        (Fraction(0), Fraction(0), domain.Trend("stable")),
        (Fraction(1), None, domain.Trend("unknown")),
    ],
)
def test_trend_is_the_change_of_daily_use_against_a_year_before(
    current: Fraction, previous: Fraction | None, trend: domain.Trend
) -> None:
    assert domain.trend_of(current, previous) == trend


def test_recent_daily_average_needs_two_weeks_of_readings_within_a_year() -> None:
    short = domain.consumption_curve(
        [meter("A", [(date(2025, 1, 1), "0"), (date(2025, 1, 11), "10")])]
    )
    assert domain.recent_daily_average(short, date(2025, 1, 11)) is None
    curve = domain.consumption_curve(
        [
            meter(
                "A",
                [(date(2023, 1, 1), "0"), (date(2024, 1, 1), "3650"), (date(2025, 1, 1), "4016")],
            )
        ]
    )
    # Only the last 365 days count: 1 m3 a day (2024 has 366), not the 10 a day before.
    assert domain.recent_daily_average(curve, date(2025, 1, 1)) == 1


def test_volumes_are_rounded_half_up_to_three_decimals() -> None:
    assert m3(Fraction(64, 28)) == Decimal("2.286")
    assert m3(Fraction(1, 2000)) == Decimal("0.001")
    assert str(m3(Fraction(0))) == "0.000"


def test_default_range_is_the_last_twelve_months_and_bad_ranges_are_refused() -> None:
    assert domain.consumption_range(None, None, date(2026, 3, 15)) == (
        date(2025, 4, 1),
        date(2026, 3, 15),
    )
    with pytest.raises(DomainError) as excinfo:
        domain.consumption_range(date(2026, 3, 2), date(2026, 3, 1), date(2026, 3, 15))
    assert excinfo.value.code == "invalid_date_range"
    with pytest.raises(DomainError):
        domain.consumption_range(date(2000, 1, 1), date(2026, 3, 1), date(2026, 3, 15))
