"""The readings rules (R1, R7.6, R8, R18): values, contracts, validation, legalizacja; pure, no
I/O. The consumption curve (R7.7) is in consumption/domain.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

from runtime.errors import DomainError, Forbidden

M3 = Decimal("0.001")  # R18: volumes are m³ with three decimals
PERCENT = Decimal("0.1")
MAX_VALUE = Decimal("999999999.999")  # what the billing interface carries (12 digits, 3 decimals)
# A jump smaller than this is never flagged: at low use a factor alone flags noise.
MIN_FLAGGED_INCREASE = Decimal("1.000")


# --- R18: values ----------------------------------------------------------------------------------


def reading_value(raw: Decimal) -> Decimal:
    """R18: a reading is a meter state in m³, at least 0, with at most three decimals."""
    try:
        valid = raw.is_finite() and Decimal(0) <= raw <= MAX_VALUE
    except InvalidOperation:
        valid = False
    if not valid:
        raise DomainError(
            "reading_value_invalid",
            "Stan licznika musi być liczbą od 0 do 999 999 999,999 m³.",
            detail_en="The meter reading must be a number from 0 to 999,999,999.999 m³.",
            status=422,
            fields={"value": "0 <= value <= 999999999.999"},
        )
    if raw != raw.quantize(M3):
        raise DomainError(
            "reading_value_precision",
            "Stan licznika podaj w m³ z dokładnością do trzech miejsc po przecinku.",
            detail_en="Give the meter reading in m³ with at most three decimal places.",
            status=422,
            fields={"value": "at most 3 decimal places"},
        )
    return raw.quantize(M3)


def m3(value: Fraction | Decimal) -> Decimal:
    """An exact quantity as m³ with three decimals (half up), for people and messages."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return value.quantize(M3, rounding=ROUND_HALF_UP)


def percent_change(current: Fraction, previous: Fraction) -> Decimal | None:
    if previous <= 0:
        return None
    change = (current - previous) / previous * 100
    return (Decimal(change.numerator) / Decimal(change.denominator)).quantize(
        PERCENT, rounding=ROUND_HALF_UP
    )


# --- R1: the contract -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractTerm:
    contract_number: str
    status: str
    start_date: date
    end_date: date | None
    billing_period_months: int = 1


def contract_is_current(contract: ContractTerm, today: date) -> bool:
    """R1: a water supply and sewage contract in force on ``today`` (Warsaw calendar, R18)."""
    if contract.status != "active" or contract.start_date > today:
        return False
    return contract.end_date is None or contract.end_date >= today


def current_contract(contracts: Iterable[ContractTerm], today: date) -> ContractTerm | None:
    return next((c for c in contracts if contract_is_current(c, today)), None)


def require_current_contract(contracts: Iterable[ContractTerm], today: date) -> ContractTerm:
    """R1: after the contract ends the account is read-only: no readings may be submitted."""
    contract = current_contract(contracts, today)
    if contract is None:
        raise Forbidden(
            "contract_not_active",
            "Umowa dla tego punktu nie jest aktywna: odczytów nie można już podawać, "
            "historia pozostaje dostępna.",
            detail_en="The contract for this premises is not active: readings can no longer "
            "be submitted; the history stays available.",
        )
    return contract


# --- R8: what an invoice settles -------------------------------------------------------------------


def settles_period(period_to: date, issued_on: date) -> bool:
    """R8: an invoice issued once its period ended settles it (its readings are billed); one
    issued in advance (a forecast) settles nothing yet."""
    return period_to <= issued_on


# --- R8: validation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterFacts:
    serial: str
    installed_on: date
    removed_on: date | None = None


@dataclass(frozen=True)
class KnownReading:
    read_on: date
    value: Decimal
    source: str = "customer"


@dataclass(frozen=True)
class Neighbours:
    """The readings of the meter right before and after the new one (same meter only)."""

    previous: KnownReading | None
    following: KnownReading | None


def refuse(code: str, pl: str, en: str, status: int = 422) -> DomainError:
    return DomainError(code, pl, detail_en=en, status=status)


def neighbours(others: Sequence[KnownReading], read_on: date) -> Neighbours:
    """The previous and the next reading around ``read_on``.

    Readings of other sources on the same day do not bound a customer's reading (the inspector
    may have come later that day), except a meter exchange's initial state: a new meter starts
    there.
    """
    before = [
        r
        for r in others
        if r.read_on < read_on or (r.read_on == read_on and r.source == "meter_exchange")
    ]
    after = [r for r in others if r.read_on > read_on]
    previous = max(before, key=lambda r: (r.read_on, r.value), default=None)
    following = min(after, key=lambda r: (r.read_on, r.value), default=None)
    return Neighbours(previous, following)


def check_reading(
    *,
    meter: MeterFacts,
    contract: ContractTerm,
    value: Decimal,
    read_on: date,
    today: date,
    others: Sequence[KnownReading],
    settled_through: date | None,
) -> Neighbours:
    """R8: a customer's reading of ``meter`` is refused when it cannot be true.

    ``others`` are this meter's readings that count (not rejected), without the customer's own
    reading of the same day, which the new one replaces. A meter exchange gives the new meter
    its own serial and initial state, so "below the previous reading" compares only readings
    of the same meter: across an exchange a lower value is expected.
    """
    if read_on > today:
        raise refuse(
            "reading_in_future",
            "Data odczytu nie może być późniejsza niż dzisiaj.",
            "The reading date cannot be later than today.",
        )
    if read_on < meter.installed_on:
        raise refuse(
            "reading_before_installation",
            f"Licznik zamontowano {meter.installed_on:%d.%m.%Y}: odczyt nie może być wcześniejszy.",
            f"The meter was installed on {meter.installed_on}: the reading cannot be earlier.",
        )
    if meter.removed_on is not None and read_on > meter.removed_on:
        raise refuse(
            "meter_removed",
            f"Licznik zdemontowano {meter.removed_on:%d.%m.%Y}: podaj odczyt nowego licznika.",
            f"The meter was removed on {meter.removed_on}: submit the new meter's reading.",
        )
    if read_on < contract.start_date:
        raise refuse(
            "reading_before_contract",
            f"Umowa obowiązuje od {contract.start_date:%d.%m.%Y}: odczyt nie może być wcześniejszy.",
            f"The contract starts on {contract.start_date}: the reading cannot be earlier.",
        )
    if settled_through is not None and read_on <= settled_through:
        raise refuse(
            "reading_period_billed",
            f"Okres do {settled_through:%d.%m.%Y} jest już rozliczony: odczytu z tej daty nie "
            "można dodać ani zmienić.",
            f"The period up to {settled_through} is already billed: a reading of that date "
            "cannot be added or changed.",
            status=409,
        )
    around = neighbours(others, read_on)
    if around.previous is not None and value < around.previous.value:
        p = around.previous
        raise refuse(
            "reading_below_previous",
            f"Stan licznika nie może być niższy niż poprzedni odczyt ({p.value} m³ z dnia "
            f"{p.read_on:%d.%m.%Y}).",
            f"The reading cannot be below the previous one ({p.value} m³ on {p.read_on}).",
        )
    if around.following is not None and value > around.following.value:
        n = around.following
        raise refuse(
            "reading_above_next",
            f"Stan licznika nie może być wyższy niż późniejszy odczyt ({n.value} m³ z dnia "
            f"{n.read_on:%d.%m.%Y}).",
            f"The reading cannot be above a later one ({n.value} m³ on {n.read_on}).",
        )
    return around


def jump_is_implausible(
    *,
    previous: KnownReading | None,
    value: Decimal,
    read_on: date,
    daily_average: Fraction | None,
    factor: Decimal,
) -> bool:
    """R8: use since the previous reading above ``factor`` times the recent daily average.

    Such a reading is accepted but flagged for staff. Without a previous reading or enough
    history to know the recent average nothing is flagged.
    """
    if previous is None or daily_average is None:
        return False
    increase = value - previous.value
    if increase < MIN_FLAGGED_INCREASE:
        return False
    days = max((read_on - previous.read_on).days, 1)
    return Fraction(increase) > Fraction(factor) * daily_average * days


# --- R7.6: legalizacja ----------------------------------------------------------------------------


def legalization_days_left(expires_on: date, today: date) -> int:
    """R7.6: days until the legal verification ends (negative once it has ended)."""
    return (expires_on - today).days


def legalization_reminder_due(
    expires_on: date, today: date, thresholds: Iterable[int], already_sent: Iterable[int]
) -> int | None:
    """R7.6: the reminder to send today, if any (90 and 30 days before by default, once each).

    When a meter becomes known late, only the closest reminder reached is sent, not every
    one that was missed.
    """
    days_left = legalization_days_left(expires_on, today)
    if days_left < 0:
        return None
    reached = [t for t in thresholds if days_left <= t]
    if not reached:
        return None
    due = min(reached)
    return None if due in set(already_sent) else due
