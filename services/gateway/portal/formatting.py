"""How the portal writes money, volumes, dates and counts: the Polish way first, English second."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from runtime.clock import WARSAW

NBSP = "\u00a0"
# CLDR "pl": digits grouped by three with a (non-breaking) space, but only from five digits on
# (1234 stays 1234, 12345 becomes 12 345); a decimal comma. English uses commas and a point.
_SEPARATORS = {"pl": (NBSP, ","), "en": (",", ".")}
_MIN_GROUPING = {"pl": 2, "en": 1}

MONTHS_GENITIVE_PL = (
    "stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca",
    "lipca", "sierpnia", "września", "października", "listopada", "grudnia",
)  # fmt: skip
MONTHS_NOMINATIVE_PL = (
    "styczeń", "luty", "marzec", "kwiecień", "maj", "czerwiec",
    "lipiec", "sierpień", "wrzesień", "październik", "listopad", "grudzień",
)  # fmt: skip
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def group_digits(digits: str, lang: str = "pl") -> str:
    """``1234567`` → ``1 234 567`` (pl, non-breaking spaces) or ``1,234,567`` (en)."""
    separator = _SEPARATORS[lang][0]
    if len(digits) < 4 + (_MIN_GROUPING[lang] - 1):
        return digits
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(groups)


def format_number(value: Decimal | int, places: int, lang: str = "pl") -> str:
    """A decimal number with exactly ``places`` decimals, rounded half up, grouped by locale."""
    quantum = Decimal(1).scaleb(-places)
    rounded = Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    whole, _, fraction = f"{abs(rounded):f}".partition(".")
    text = group_digits(whole, lang)
    if places:
        text += _SEPARATORS[lang][1] + fraction
    # U+2212 is the typographic minus; screen readers read it as "minus" too.
    return ("\u2212" if sign else "") + text


def format_money(grosze: int, lang: str = "pl") -> str:
    """R18: money kept in integer grosze, shown as ``1 234,56 zł`` (pl) or ``PLN 1,234.56`` (en)."""
    amount = format_number(Decimal(grosze).scaleb(-2), 2, lang)
    return f"{amount}{NBSP}zł" if lang == "pl" else f"PLN{NBSP}{amount}"


def format_volume(m3: Decimal | int | str, lang: str = "pl") -> str:
    """R18: volumes in m³ with three decimals: ``12,345 m³``."""
    return f"{format_number(Decimal(m3), 3, lang)}{NBSP}m³"


def format_date(day: date, lang: str = "pl") -> str:
    """A calendar date: ``05.03.2026`` (pl) or ``5 March 2026`` (en)."""
    if lang == "pl":
        return f"{day.day:02d}.{day.month:02d}.{day.year}"
    return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"


def format_long_date(day: date, lang: str = "pl") -> str:
    """A date in words: ``5 marca 2026`` (pl, month in the genitive) or ``5 March 2026``."""
    if lang == "pl":
        return f"{day.day} {MONTHS_GENITIVE_PL[day.month - 1]} {day.year}"
    return format_date(day, "en")


def format_month(day: date, lang: str = "pl") -> str:
    """A month of a year, as a chart or a table heads it: ``marzec 2026`` / ``March 2026``."""
    names = MONTHS_NOMINATIVE_PL if lang == "pl" else MONTHS_EN
    return f"{names[day.month - 1]} {day.year}"


def format_datetime(moment: datetime, lang: str = "pl") -> str:
    """An instant shown in Warsaw time (R18): ``05.03.2026, 14:07``; a naive value is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(WARSAW)
    return f"{format_date(local.date(), lang)}, {local.hour:02d}:{local.minute:02d}"


def plural_pl(count: int, one: str, few: str, many: str) -> str:
    """Polish plural: 1 dzień, 2-4 dni (but 12-14 many), 5+ dni; 22 dni, 25 dni."""
    n = abs(count)
    if n == 1:
        return one
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return few
    return many


def format_days(count: int, lang: str = "pl") -> str:
    """``1 dzień``, ``3 dni``; ``1 day``, ``3 days``."""
    if lang == "pl":
        return f"{count}{NBSP}{'dzień' if abs(count) == 1 else 'dni'}"
    return f"{count}{NBSP}{'day' if abs(count) == 1 else 'days'}"


def parse_decimal(text: str) -> Decimal | None:
    """What a person types as a number: ``12,5``, ``12.500``, `` 1 234,5 ``; None if it is not one.

    Spaces (also non-breaking) group thousands; a comma or a point is the decimal mark.
    Thousands written with a separator mark (``1.234,5``) are refused as ambiguous.
    """
    cleaned = "".join(ch for ch in text.strip() if ch not in " \u00a0\u202f")
    if cleaned.count(",") + cleaned.count(".") > 1:
        return None
    cleaned = cleaned.replace(",", ".")
    if not cleaned or not all(ch.isdigit() or ch == "." for ch in cleaned.lstrip("-")):
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def format_percent(value: Decimal | int | str, lang: str = "pl") -> str:
    """A change in per cent with its sign and one decimal: ``+12,5%`` or a minus sign."""
    number = Decimal(value)
    text = format_number(number, 1, lang)
    return ("+" if number > 0 else "") + text + "%"


def format_quantity(value: Decimal | int | str, lang: str = "pl") -> str:
    """An invoice line's quantity: whole numbers plain (``2``), others with three decimals."""
    number = Decimal(value)
    return format_number(number, 0 if number == number.to_integral_value() else 3, lang)


UNITS = {"m3": "m³", "m2": "m²"}


def format_unit(unit: str, lang: str = "pl") -> str:
    """Units as the billing system writes them (``m3``) shown with their symbols (``m³``)."""
    del lang
    return UNITS.get(unit, unit)
