"""The consumption rules (R7.7, and R8's recent average): the meter curve, months and billing
periods, trends; pure, no I/O."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from services.readings.domain import KnownReading, percent_change, refuse

Point = tuple[int, Decimal]  # (day boundary, meter state)
Direction = Literal["rising", "falling", "stable", "unknown"]

# R8 plausibility: the recent daily average is taken over this many days before the previous
# reading, and only when at least MIN_BASELINE_DAYS of them are covered by readings.
BASELINE_WINDOW_DAYS = 365
MIN_BASELINE_DAYS = 14
# A year-over-year change within ±STABLE_PERCENT is called stable.
STABLE_PERCENT = Decimal("5")
MAX_RANGE_DAYS = 10 * 366


def end_of(day: date) -> int:
    """A reading dated ``day`` is the meter's state at the end of that day, as a day boundary."""
    return day.toordinal() + 1


def start_of(day: date) -> int:
    return day.toordinal()


@dataclass(frozen=True)
class Exchange:
    """How a meter replaced the previous one: the old meter's final and the new one's initial."""

    previous_serial: str
    previous_final: Decimal
    initial: Decimal
    on: date


@dataclass(frozen=True)
class MeterSegment:
    """One physical meter's life at a premises, with the readings that count."""

    serial: str
    installed_on: date
    readings: Sequence[KnownReading] = ()
    exchange: Exchange | None = None


def _monotone(points: Iterable[Point]) -> list[Point]:
    """Sorted, one state per boundary (the highest), never decreasing.

    A later, lower reading (an inspector's, an estimate) contradicts the higher ones before
    it, which are dropped: the curve follows the later reading.
    """
    best: dict[int, Decimal] = {}
    for x, v in points:
        if x not in best or v > best[x]:
            best[x] = v
    kept: list[Point] = []
    for x, v in sorted(best.items()):
        while kept and kept[-1][1] > v:
            kept.pop()
        kept.append((x, v))
    return kept


@dataclass(frozen=True)
class Piece:
    """A stretch of time with continuous knowledge: (day boundary, cumulative m³) points."""

    xs: tuple[int, ...]
    cs: tuple[Fraction, ...]

    def at(self, x: int) -> Fraction:
        i = bisect_right(self.xs, x) - 1
        i = min(max(i, 0), len(self.xs) - 2)
        x0, x1, c0, c1 = self.xs[i], self.xs[i + 1], self.cs[i], self.cs[i + 1]
        return c0 + (c1 - c0) * Fraction(x - x0, x1 - x0)


@dataclass(frozen=True)
class Curve:
    """Cumulative consumption over time, linear between readings; unknown between pieces."""

    pieces: tuple[Piece, ...] = ()

    def between(self, a: int, b: int) -> tuple[Fraction, int]:
        """(m³ used, days known) in the boundaries [a, b): each day counted once."""
        total = Fraction(0)
        spans: list[tuple[int, int]] = []
        for piece in self.pieces:
            lo, hi = max(a, piece.xs[0]), min(b, piece.xs[-1])
            if lo < hi:
                total += piece.at(hi) - piece.at(lo)
                spans.append((lo, hi))
        return total, _union_length(spans)

    def over(self, start: date, end: date) -> tuple[Fraction, int]:
        """(m³ used, days known) from the start of ``start`` to the end of ``end``."""
        return self.between(start_of(start), end_of(end))

    @property
    def first_day(self) -> date | None:
        return date.fromordinal(min(p.xs[0] for p in self.pieces)) if self.pieces else None


def _union_length(spans: list[tuple[int, int]]) -> int:
    length, reach = 0, None
    for lo, hi in sorted(spans):
        if reach is None or lo >= reach:
            length += hi - lo
            reach = hi
        elif hi > reach:
            length += hi - reach
            reach = hi
    return length


def _piece(segments: list[list[Point]]) -> Piece | None:
    """Chain linked meters: each next meter continues from the previous one's final state."""
    xs: list[int] = []
    cs: list[Fraction] = []
    for points in segments:
        if not points:
            continue
        base = points[0][1]
        offset = cs[-1] if cs else Fraction(0)
        for x, v in points:
            c = offset + Fraction(v - base)
            if xs and x == xs[-1]:
                cs[-1] = max(cs[-1], c)
                continue
            xs.append(x)
            cs.append(c)
    return Piece(tuple(xs), tuple(cs)) if len(xs) >= 2 else None


def consumption_curve(segments: Iterable[MeterSegment]) -> Curve:
    """R7.7: one premises' meters in order of installation, as one cumulative curve.

    Between consecutive readings use is spread evenly over the days. A meter that replaced the
    previous one (an exchange naming it) continues the curve: the exchange contributes the old
    meter's final state minus its last reading, and the new meter counts from its initial
    state. A meter without such a link starts a new piece; the time between is unknown and
    is never guessed.
    """
    chains: list[list[list[Point]]] = []
    previous_serial: str | None = None
    for seg in sorted(segments, key=lambda s: (s.installed_on, s.serial)):
        points = [(end_of(r.read_on), r.value) for r in seg.readings]
        ex = seg.exchange
        if chains and ex is not None and ex.previous_serial == previous_serial:
            e = end_of(ex.on)
            before = chains[-1]
            before[-1] = _monotone([p for p in before[-1] if p[0] < e] + [(e, ex.previous_final)])
            before.append(_monotone([(e, ex.initial)] + [p for p in points if p[0] > e]))
        else:
            if ex is not None:
                points.append((end_of(ex.on), ex.initial))
            chains.append([_monotone(points)])
        previous_serial = seg.serial
    pieces = [p for chain in chains if (p := _piece(chain)) is not None]
    return Curve(tuple(pieces))


def recent_daily_average(curve: Curve, until: date) -> Fraction | None:
    """R8: average use per day over the year up to ``until``, where readings cover it."""
    b = end_of(until)
    used, days = curve.between(b - BASELINE_WINDOW_DAYS, b)
    if days < MIN_BASELINE_DAYS:
        return None
    return used / days


@dataclass(frozen=True)
class Span:
    label: str
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def add_months(first: date, months: int) -> date:
    """The first day of the month ``months`` after the month of ``first``."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def months(date_from: date, date_to: date) -> list[Span]:
    """Every calendar month that ``[date_from, date_to]`` touches, whole."""
    spans = []
    first = date_from.replace(day=1)
    while first <= date_to:
        nxt = add_months(first, 1)
        spans.append(Span(f"{first:%Y-%m}", first, nxt - timedelta(days=1)))
        first = nxt
    return spans


def billing_periods(
    contract_start: date, period_months: int, date_from: date, date_to: date
) -> list[Span]:
    """R8 (§3.3): the contract's billing periods that ``[date_from, date_to]`` touches, whole.

    Periods are ``period_months`` calendar months long, counted from the first day of the month
    the contract started in (before and after it).
    """
    anchor = month_index(contract_start.replace(day=1))
    k = (month_index(date_from) - anchor) // period_months
    spans: list[Span] = []
    while True:
        first = add_months(contract_start.replace(day=1), k * period_months)
        if first > date_to:
            return spans
        nxt = add_months(first, period_months)
        last = nxt - timedelta(days=1)
        label = f"{first:%Y-%m}" if period_months == 1 else f"{first:%Y-%m}/{last:%Y-%m}"
        spans.append(Span(label, first, last))
        k += 1


def year_before(day: date) -> date:
    """The same calendar day a year earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def span_year_before(span: Span) -> Span:
    after_end = year_before(span.end + timedelta(days=1))
    return Span(span.label, year_before(span.start), after_end - timedelta(days=1))


@dataclass(frozen=True)
class SpanFigures:
    span: Span
    covered_days: int
    used: Fraction | None  # None when no day of the span is covered by readings
    previous_year: Fraction | None  # only when the same span a year before is fully covered

    @property
    def complete(self) -> bool:
        return self.covered_days == self.span.days

    @property
    def daily_average(self) -> Fraction | None:
        return self.used / self.covered_days if self.used is not None else None

    @property
    def change_percent(self) -> Decimal | None:
        if not self.complete or self.used is None or self.previous_year is None:
            return None
        return percent_change(self.used, self.previous_year)


@dataclass(frozen=True)
class Trend:
    direction: Direction
    change_percent: Decimal | None = None


@dataclass(frozen=True)
class ConsumptionFigures:
    items: list[SpanFigures]
    total: Fraction
    covered_days: int
    average_daily: Fraction | None
    previous_year_average_daily: Fraction | None
    trend: Trend = field(default_factory=lambda: Trend("unknown"))


def trend_of(current: Fraction | None, previous: Fraction | None) -> Trend:
    """R7.7: the average daily use against the same days a year before (±5 % is stable)."""
    if current is None or previous is None:
        return Trend("unknown")
    change = percent_change(current, previous)
    if change is None:
        return Trend("rising" if current > 0 else "stable")
    exact = (current - previous) / previous * 100
    if exact > Fraction(STABLE_PERCENT):
        return Trend("rising", change)
    if exact < -Fraction(STABLE_PERCENT):
        return Trend("falling", change)
    return Trend("stable", change)


def consumption_figures(curve: Curve, spans: Sequence[Span]) -> ConsumptionFigures:
    """R7.7: use per span, its daily average, the same span a year before, totals and trend."""
    items = []
    for span in spans:
        used, covered = curve.over(span.start, span.end)
        before = span_year_before(span)
        prev_used, prev_covered = curve.over(before.start, before.end)
        items.append(
            SpanFigures(
                span,
                covered,
                used if covered else None,
                prev_used if prev_covered == before.days else None,
            )
        )
    total = sum((i.used for i in items if i.used is not None), Fraction(0))
    covered = sum(i.covered_days for i in items)
    average = total / covered if covered else None
    previous_average = None
    if spans:
        whole = Span("", spans[0].start, spans[-1].end)
        before = span_year_before(whole)
        prev_used, prev_covered = curve.over(before.start, before.end)
        previous_average = prev_used / prev_covered if prev_covered else None
    return ConsumptionFigures(
        items, total, covered, average, previous_average, trend_of(average, previous_average)
    )


def consumption_range(
    date_from: date | None, date_to: date | None, today: date
) -> tuple[date, date]:
    """The asked range; by default the twelve months up to today."""
    end = date_to or today
    start = date_from or add_months(end.replace(day=1), -11)
    if start > end or (end - start).days > MAX_RANGE_DAYS:
        raise refuse(
            "invalid_date_range",
            "Nieprawidłowy zakres dat: początek musi być przed końcem, najwyżej 10 lat.",
            "Invalid date range: the start must precede the end, at most 10 years apart.",
        )
    return start, end
