"""Money, VAT, the amount in words and the settlement rules, without a database or broker."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from contracts.billing_system import InvoiceIssued, InvoiceLine
from services.billing import domain
from services.billing.domain import InvoiceFigures, PaymentFigures

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("quantity", "price", "expected"),
    [
        (Decimal("12.345"), 550, (6790, 543, 7333)),  # 6789.75 -> 6790; 543.2 -> 543
        (Decimal("1.000"), 585, (585, 47, 632)),  # 46.8 -> 47
        (Decimal("0.500"), 125, (63, 5, 68)),  # 62.5 -> 63: halves go up
        (Decimal("2"), 450, (900, 72, 972)),
        (Decimal("0"), 820, (0, 0, 0)),
    ],
)
def test_line_net_is_quantity_times_price_and_vat_is_8_percent_rounded_half_up(
    quantity: Decimal, price: int, expected: tuple[int, int, int]
) -> None:
    assert domain.line_amounts(quantity, price, 8) == expected


def _invoice(**change: object) -> InvoiceIssued:
    lines = []
    for description, quantity, price in (("Woda", "10.000", 585), ("Ścieki", "10.000", 842)):
        net, vat, gross = domain.line_amounts(Decimal(quantity), price, 8)
        lines.append(
            InvoiceLine(
                description=description,
                quantity=Decimal(quantity),
                unit="m3",
                unit_price_grosze=price,
                net_grosze=net,
                vat_rate_percent=8,
                vat_grosze=vat,
                gross_grosze=gross,
            )
        )
    fields: dict[str, object] = {
        "number": "FV/1",
        "customer_number": "K1",
        "contract_number": "U/1",
        "issued_on": date(2026, 11, 3),
        "sale_date": date(2026, 10, 31),
        "due_date": date(2026, 11, 17),
        "period_from": date(2026, 10, 1),
        "period_to": date(2026, 10, 31),
        "lines": lines,
        "net_grosze": sum(line.net_grosze for line in lines),
        "vat_grosze": sum(line.vat_grosze for line in lines),
        "gross_grosze": sum(line.gross_grosze for line in lines),
    }
    return InvoiceIssued(**(fields | change))  # type: ignore[arg-type]


def test_invoice_whose_figures_add_up_is_accepted() -> None:
    assert domain.invoice_totals_problem(_invoice()) is None
    assert domain.refusal(_invoice()) is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"gross_grosze": 1}, "net + VAT != gross"),
        ({"net_grosze": 1}, "net is not the sum of the lines"),
        ({"vat_grosze": 1}, "VAT is not the sum of the lines"),
        ({"due_date": date(2026, 11, 1)}, "dates out of order"),
    ],
)
def test_invoice_whose_figures_do_not_add_up_is_refused_with_the_reason(
    change: dict[str, object], problem: str
) -> None:
    assert domain.refusal(_invoice(**change)) == problem


def test_line_with_a_wrong_vat_is_refused() -> None:
    invoice = _invoice()
    line = invoice.lines[0]
    bad = line.model_copy(update={"vat_grosze": 100, "gross_grosze": line.net_grosze + 100})
    assert "VAT is not 8%" in (
        domain.invoice_totals_problem(invoice.model_copy(update={"lines": [bad]})) or ""
    )


@pytest.mark.parametrize(
    ("net", "vat", "accepted"),
    [
        (1005, 80, True),  # 8% of 10.05 zł is 80.4 gr
        (1005, 81, True),
        (1005, 79, False),  # 1.4 gr off
        (1005, 82, False),
        (1000, 81, True),  # exactly 1 gr off is tolerated
        (1000, 79, True),
        (1000, 82, False),
    ],
)
def test_line_vat_may_differ_from_the_rate_of_the_net_by_at_most_one_grosz(
    net: int, vat: int, accepted: bool
) -> None:
    line = InvoiceLine(
        description="Woda",
        quantity=Decimal("1.000"),
        unit="m3",
        unit_price_grosze=net,
        net_grosze=net,
        vat_rate_percent=8,
        vat_grosze=vat,
        gross_grosze=net + vat,
    )
    invoice = _invoice(lines=[line], net_grosze=net, vat_grosze=vat, gross_grosze=net + vat)
    assert (domain.invoice_totals_problem(invoice) is None) is accepted


@pytest.mark.parametrize(
    ("grosze", "text"),
    [
        (0, "0,00"),
        (5, "0,05"),
        (-5, "-0,05"),
        (19238, "192,38"),
        (123456789, "1 234 567,89"),
    ],
)
def test_amounts_print_in_polish_notation(grosze: int, text: str) -> None:
    assert domain.format_pln(grosze) == text


@pytest.mark.parametrize(
    ("grosze", "words"),
    [
        (100, "jeden złoty zero groszy"),
        (201, "dwa złote jeden grosz"),
        (502, "pięć złotych dwa grosze"),
        (1205, "dwanaście złotych pięć groszy"),
        (2222, "dwadzieścia dwa złote dwadzieścia dwa grosze"),
        (11300, "sto trzynaście złotych zero groszy"),
        (19238, "sto dziewięćdziesiąt dwa złote trzydzieści osiem groszy"),
        (100000, "tysiąc złotych zero groszy"),
        (212545, "dwa tysiące sto dwadzieścia pięć złotych czterdzieści pięć groszy"),
        (1500000, "piętnaście tysięcy złotych zero groszy"),
        (100000000, "milion złotych zero groszy"),
        (-1234, "minus dwanaście złotych trzydzieści cztery grosze"),
    ],
)
def test_amount_in_words_is_polish_with_the_right_plural(grosze: int, words: str) -> None:
    assert domain.amount_in_words(grosze) == words


def _inv(
    number: str, gross: int, due: date, status: str = "issued", by: str | None = None
) -> InvoiceFigures:
    return InvoiceFigures(number, gross, due.replace(day=1), due, status, by)


def test_balance_is_charges_less_payments_and_unpaid_invoices_are_due_or_overdue() -> None:
    invoices = [
        _inv("A", 10000, date(2026, 10, 10)),
        _inv("B", 20000, date(2026, 11, 20)),
        _inv("C", 5000, date(2026, 12, 5)),
    ]
    figures = domain.settle(invoices, [PaymentFigures(10000, "A")], TODAY)
    assert figures.balance_grosze == 25000
    assert [(o.number, o.days_overdue) for o in figures.overdue] == [("B", 5)]
    assert [o.number for o in figures.due] == ["C"]
    assert figures.overdue_grosze == 20000 and figures.due_grosze == 5000
    assert figures.next_due_date == date(2026, 12, 5)
    assert figures.paid == {"A": 10000, "B": 0, "C": 0}


def test_an_invoice_due_today_is_not_yet_overdue() -> None:
    figures = domain.settle([_inv("A", 100, TODAY)], [], TODAY)
    assert [o.number for o in figures.due] == ["A"] and not figures.overdue


def test_a_general_payment_pays_the_oldest_due_invoice_first() -> None:
    invoices = [_inv("NEW", 3000, date(2026, 12, 1)), _inv("OLD", 2000, date(2026, 10, 1))]
    figures = domain.settle(invoices, [PaymentFigures(2500, None)], TODAY)
    assert figures.paid == {"OLD": 2000, "NEW": 500}
    assert figures.balance_grosze == 2500
    assert [(o.number, o.outstanding_grosze) for o in figures.due] == [("NEW", 2500)]


def test_an_overpayment_of_one_invoice_pays_the_next_and_an_overpaid_account_is_negative() -> None:
    invoices = [_inv("A", 1000, date(2026, 10, 1)), _inv("B", 1000, date(2026, 11, 1))]
    figures = domain.settle(invoices, [PaymentFigures(2500, "A")], TODAY)
    assert figures.paid == {"A": 1000, "B": 1000}
    assert figures.balance_grosze == -500
    assert not figures.due and not figures.overdue


def test_a_cancelled_invoice_does_not_count() -> None:
    invoices = [_inv("A", 1000, date(2026, 10, 1), status="cancelled")]
    figures = domain.settle(invoices, [], TODAY)
    assert figures.balance_grosze == 0 and not figures.overdue


def test_a_corrected_invoice_counts_through_its_correction_and_its_payment_follows() -> None:
    invoices = [
        _inv("FV/1", 10000, date(2026, 10, 1), status="corrected", by="FK/1"),
        _inv("FK/1", 8000, date(2026, 10, 1)),
    ]
    figures = domain.settle(invoices, [PaymentFigures(8000, "FV/1")], TODAY)
    assert figures.balance_grosze == 0
    assert figures.paid == {"FK/1": 8000}


def test_a_negative_correction_is_a_credit_for_open_invoices() -> None:
    invoices = [_inv("K", -3000, date(2026, 10, 1)), _inv("B", 5000, date(2026, 10, 10))]
    figures = domain.settle(invoices, [], TODAY)
    assert figures.balance_grosze == 2000
    assert [(o.number, o.outstanding_grosze) for o in figures.overdue] == [("B", 2000)]
