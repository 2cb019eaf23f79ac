"""The billing rules: pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from contracts.base import Envelope
from contracts.billing_system import InvoiceCorrected, InvoiceIssued
from contracts.identity import IdentityKind, identity_digest_matches, normalise_identity_number


@dataclass(frozen=True)
class ContractTerm:
    status: str
    start_date: date
    end_date: date | None


def contract_is_current(contract: ContractTerm, today: date) -> bool:
    """R1: a water supply and sewage contract in force on ``today`` (Warsaw calendar, R18)."""
    if contract.status != "active":
        return False
    if contract.start_date > today:
        return False
    return contract.end_date is None or contract.end_date >= today


# --- retention (R14): kept for the contract's life and five full calendar years after ----------

RETENTION_YEARS = 5


def kept_until(last_end: date) -> date:
    """R14: the last day personal data is kept: 31 December of the fifth full calendar year
    after the last contract ended (ended 2020-06-30: kept to 2025-12-31)."""
    return date(last_end.year + RETENTION_YEARS, 12, 31)


def erasable_from(last_end: date) -> date:
    """R14: the first Warsaw calendar day the data may be erased (ended 2020-06-30: 2026-01-01)."""
    return date(last_end.year + RETENTION_YEARS + 1, 1, 1)


def retention_due(contract_ends: Sequence[date | None], today: date) -> bool:
    """R14: a customer is due for erasure when every contract has ended (an end date, none
    without one) and the last end's retention is over on ``today``. A customer with no
    contract at all is not: nothing says when their retention would end."""
    if not contract_ends or any(end is None for end in contract_ends):
        return False
    return erasable_from(max(end for end in contract_ends if end is not None)) <= today


def last_end_erasable_by(today: date) -> date:
    """R14: the latest contract end whose retention is over on ``today`` (the database query's
    cutoff: due when every end is on or before it)."""
    return date(today.year - RETENTION_YEARS - 1, 12, 31)


def identity_matches(checks: list[dict[str, str]], kind: IdentityKind, number: str) -> bool:
    """R5/R1: the typed PESEL or NIP matches one of the digests the billing system sent.

    Every digest of that kind is tried, so the time taken does not reveal which one matched.
    """
    digits = normalise_identity_number(kind, number)
    if digits is None:
        return False
    results = [identity_digest_matches(c["digest"], digits) for c in checks if c["kind"] == kind]
    return any(results)


# --- money (R18): integer grosze, rounded half up, never float ---------------------------------


def round_half_up(value: Decimal) -> int:
    """R18: the nearest grosz, halves away from zero (the Polish VAT rounding rule)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_amounts(
    quantity: Decimal, unit_price_grosze: int, vat_rate_percent: int
) -> tuple[int, int, int]:
    """R18: (net, VAT, gross) of one invoice line: net = quantity x price, VAT on the net."""
    net = round_half_up(quantity * unit_price_grosze)
    vat = round_half_up(Decimal(net) * vat_rate_percent / 100)
    return net, vat, net + vat


def invoice_totals_problem(invoice: InvoiceIssued) -> str | None:
    """R18: why an invoice's figures do not add up, or None when they do.

    Each line's gross is its net plus VAT, the VAT is the rate of the net (to the grosz), and
    the invoice's net, VAT and gross are the sums of its lines.
    """
    net = vat = 0
    for i, line in enumerate(invoice.lines, start=1):
        if line.net_grosze + line.vat_grosze != line.gross_grosze:
            return f"line {i}: net + VAT != gross"
        # |net x rate / 100 - VAT| <= 1 grosz, in integers (exact, and cheap on an import).
        if abs(line.net_grosze * line.vat_rate_percent - 100 * line.vat_grosze) > 100:
            return f"line {i}: VAT is not {line.vat_rate_percent}% of the net"
        net += line.net_grosze
        vat += line.vat_grosze
    if net != invoice.net_grosze:
        return "net is not the sum of the lines"
    if vat != invoice.vat_grosze:
        return "VAT is not the sum of the lines"
    if invoice.net_grosze + invoice.vat_grosze != invoice.gross_grosze:
        return "net + VAT != gross"
    if invoice.due_date < invoice.issued_on or invoice.period_to < invoice.period_from:
        return "dates out of order"
    return None


def refusal(message: Envelope) -> str | None:
    """Why a well-formed billing-system message cannot be accepted (it is dead-lettered)."""
    if isinstance(message, InvoiceIssued):
        return invoice_totals_problem(message)
    if isinstance(message, InvoiceCorrected):
        if message.correction.customer_number == "":
            return "correction without a customer"
        return invoice_totals_problem(message.correction)
    return None


def format_pln(grosze: int) -> str:
    """``1234567`` -> ``12 345,67`` (Polish notation: space between thousands, decimal comma)."""
    sign = "-" if grosze < 0 else ""
    zloty, gr = divmod(abs(grosze), 100)
    return f"{sign}{zloty:,}".replace(",", " ") + f",{gr:02d}"


# --- the amount in words, as Polish invoices write it ------------------------------------------

_UNITS = ["", "jeden", "dwa", "trzy", "cztery", "pięć", "sześć", "siedem", "osiem", "dziewięć"]
_TEENS = [
    "dziesięć",
    "jedenaście",
    "dwanaście",
    "trzynaście",
    "czternaście",
    "piętnaście",
    "szesnaście",
    "siedemnaście",
    "osiemnaście",
    "dziewiętnaście",
]
_TENS = [
    "",
    "",
    "dwadzieścia",
    "trzydzieści",
    "czterdzieści",
    "pięćdziesiąt",
    "sześćdziesiąt",
    "siedemdziesiąt",
    "osiemdziesiąt",
    "dziewięćdziesiąt",
]
_HUNDREDS = [
    "",
    "sto",
    "dwieście",
    "trzysta",
    "czterysta",
    "pięćset",
    "sześćset",
    "siedemset",
    "osiemset",
    "dziewięćset",
]
# (one, two to four, five and more) of each counted word.
_ZLOTY = ("złoty", "złote", "złotych")
_GROSZ = ("grosz", "grosze", "groszy")
_GROUPS = [
    ("", "", ""),
    ("tysiąc", "tysiące", "tysięcy"),
    ("milion", "miliony", "milionów"),
    ("miliard", "miliardy", "miliardów"),
]


def plural_form(n: int, forms: tuple[str, str, str]) -> str:
    """Polish: 1 złoty, 2-4 złote (but 12-14 złotych), 5+ złotych, 22 złote, 25 złotych."""
    if n == 1:
        return forms[0]
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return forms[1]
    return forms[2]


def _below_thousand(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    words = [_HUNDREDS[hundreds]]
    if 10 <= rest < 20:
        words.append(_TEENS[rest - 10])
    else:
        words += [_TENS[rest // 10], _UNITS[rest % 10]]
    return [w for w in words if w]


def number_in_words(n: int) -> str:
    """A whole number in Polish words: 2125 -> "dwa tysiące sto dwadzieścia pięć"."""
    if n == 0:
        return "zero"
    if n < 0:
        return "minus " + number_in_words(-n)
    words: list[str] = []
    for power in range(len(_GROUPS) - 1, -1, -1):
        group = n // 1000**power % 1000
        if group == 0:
            continue
        if power and group == 1:
            words.append(_GROUPS[power][0])  # "tysiąc", not "jeden tysiąc"
            continue
        words += _below_thousand(group)
        if power:
            words.append(plural_form(group, _GROUPS[power]))
    return " ".join(words)


def amount_in_words(grosze: int) -> str:
    """The "słownie" line of an invoice: 12345 -> "sto dwadzieścia trzy złote czterdzieści pięć groszy"."""
    sign = "minus " if grosze < 0 else ""
    zloty, gr = divmod(abs(grosze), 100)
    return (
        f"{sign}{number_in_words(zloty)} {plural_form(zloty, _ZLOTY)}"
        f" {number_in_words(gr)} {plural_form(gr, _GROSZ)}"
    )


# --- settlement (R7.4): what is paid, what is due, what is overdue ------------------------------


@dataclass(frozen=True)
class InvoiceFigures:
    number: str
    gross_grosze: int
    issued_on: date
    due_date: date
    status: str  # issued, corrected or cancelled
    corrected_by: str | None = None


@dataclass(frozen=True)
class PaymentFigures:
    amount_grosze: int
    invoice_number: str | None


@dataclass(frozen=True)
class OpenAmount:
    number: str
    due_date: date
    gross_grosze: int
    outstanding_grosze: int
    days_overdue: int


@dataclass(frozen=True)
class SettlementFigures:
    balance_grosze: int
    paid: dict[str, int]
    due: list[OpenAmount]
    overdue: list[OpenAmount]

    @property
    def due_grosze(self) -> int:
        return sum(item.outstanding_grosze for item in self.due)

    @property
    def overdue_grosze(self) -> int:
        return sum(item.outstanding_grosze for item in self.overdue)

    @property
    def next_due_date(self) -> date | None:
        return min((item.due_date for item in self.due), default=None)


def counts_towards_balance(status: str) -> bool:
    """R7.4: a cancelled invoice never counts; a corrected one counts through its correction."""
    return status == "issued"


def _effective_number(number: str, invoices: dict[str, InvoiceFigures]) -> str | None:
    """The invoice that stands for ``number`` now: itself, or the end of its correction chain."""
    seen: set[str] = set()
    current: str | None = number
    while current is not None and current in invoices and current not in seen:
        seen.add(current)
        invoice = invoices[current]
        if counts_towards_balance(invoice.status):
            return current
        current = invoice.corrected_by if invoice.status == "corrected" else None
    return None


def settle(
    invoices: list[InvoiceFigures], payments: list[PaymentFigures], today: date
) -> SettlementFigures:
    """R7.4: the balance (charges less payments), and which invoices are paid, due or overdue.

    A payment naming an invoice pays that invoice (or the correction that replaced it) first;
    the rest of it, payments to the account in general and credits from negative corrections
    pay the open invoices oldest due first. An open invoice is overdue from the day after its
    due date (Warsaw calendar, R18).
    """
    by_number = {i.number: i for i in invoices}
    counted = [i for i in invoices if counts_towards_balance(i.status)]
    outstanding = {i.number: i.gross_grosze for i in counted if i.gross_grosze > 0}
    credit = sum(-i.gross_grosze for i in counted if i.gross_grosze < 0)
    for payment in payments:
        target = (
            _effective_number(payment.invoice_number, by_number) if payment.invoice_number else None
        )
        amount = payment.amount_grosze
        if target is not None and outstanding.get(target, 0) > 0:
            applied = min(amount, outstanding[target])
            outstanding[target] -= applied
            amount -= applied
        credit += amount
    oldest_first = sorted(
        (i for i in counted if i.number in outstanding),
        key=lambda i: (i.due_date, i.issued_on, i.number),
    )
    for invoice in oldest_first:
        if credit <= 0:
            break
        applied = min(credit, outstanding[invoice.number])
        outstanding[invoice.number] -= applied
        credit -= applied
    due: list[OpenAmount] = []
    overdue: list[OpenAmount] = []
    for invoice in oldest_first:
        left = outstanding[invoice.number]
        if left <= 0:
            continue
        days = (today - invoice.due_date).days
        item = OpenAmount(
            invoice.number, invoice.due_date, invoice.gross_grosze, left, max(days, 0)
        )
        (overdue if days > 0 else due).append(item)
    balance = sum(i.gross_grosze for i in counted) - sum(p.amount_grosze for p in payments)
    paid = {number: by_number[number].gross_grosze - left for number, left in outstanding.items()}
    return SettlementFigures(balance, paid, due, overdue)
