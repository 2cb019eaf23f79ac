"""A customer's billing history as the billing system would send it: tariffs, contract documents,
invoices by billing period, payments (some late, some missing), corrections, cancellations and
inspectors' control readings. Deterministic: every draw comes from a generator seeded per contract.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from contracts.base import Envelope
from contracts.billing_system import (
    ContractDocument,
    ContractUpserted,
    ControlReadingRecorded,
    InvoiceCancelled,
    InvoiceCorrected,
    InvoiceIssued,
    InvoiceLine,
    MeterUpserted,
    PaymentRecorded,
)

VAT_PERCENT = 8  # water supply and sewage disposal in Poland
PAYMENT_DAYS = 14
INSPECTORS = ["Jan Inspektor", "Maria Kontrolna", "Adam Odczytowy"]
METHODS = ["transfer", "transfer", "transfer", "direct_debit", "card", "cash"]
ONE_M3 = Decimal("0.001")


def line_amounts(quantity: Decimal, unit_price: int, vat_percent: int) -> tuple[int, int, int]:
    """The billing system's own arithmetic: net rounded half up to the grosz, VAT on the net."""
    net = int((quantity * unit_price).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    vat = int((Decimal(net) * vat_percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return net, vat, net + vat


def month_start(day: date, months: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def contract_rng(seed: int, contract_number: str) -> random.Random:
    return random.Random(f"{seed}:{contract_number}")


def with_tariff_and_document(
    contract: ContractUpserted, *, company: bool, seed: int
) -> ContractUpserted:
    """The contract as signed: its tariff (net, grosze) and the text of its clauses."""
    rng = contract_rng(seed, contract.contract_number + ":tariff")
    water = rng.choice([585, 598, 612, 620])
    sewage = rng.choice([842, 861, 877, 899])
    fee = rng.choice([1200, 1850, 2500]) if company else rng.choice([390, 450, 520])
    clauses = [
        "Przedsiębiorstwo zobowiązuje się do dostarczania wody przeznaczonej do spożycia "
        "przez ludzi oraz do odprowadzania ścieków z nieruchomości Odbiorcy.",
        f"Okres rozliczeniowy wynosi {contract.billing_period_months} mies. Należności za wodę "
        "i ścieki ustala się na podstawie wskazań wodomierza głównego i obowiązującej taryfy.",
        f"Cena netto za 1 m³ wody wynosi {water / 100:.2f} zł, za 1 m³ odprowadzonych ścieków "
        f"{sewage / 100:.2f} zł, opłata abonamentowa {fee / 100:.2f} zł miesięcznie; do cen "
        f"dolicza się podatek VAT w stawce {VAT_PERCENT}%.",
        f"Faktura jest płatna w terminie {PAYMENT_DAYS} dni od daty jej wystawienia.",
        "Odbiorca zapewnia dostęp do wodomierza w celu dokonania odczytu kontrolnego.",
        "Umowa może być rozwiązana przez każdą ze stron z zachowaniem jednomiesięcznego okresu "
        "wypowiedzenia.",
    ]
    return contract.model_copy(
        update={
            "water_price_grosze": water,
            "sewage_price_grosze": sewage,
            "subscription_fee_grosze": fee,
            "document": ContractDocument(
                title="Umowa o zaopatrzenie w wodę i odprowadzanie ścieków",
                signed_on=contract.start_date,
                clauses=clauses,
            ),
        }
    )


def invoice_lines(contract: ContractUpserted, volume: Decimal, months: int) -> list[InvoiceLine]:
    lines = []
    for description, quantity, unit, price in (
        ("Dostawa wody", volume, "m3", contract.water_price_grosze),
        ("Odprowadzanie ścieków", volume, "m3", contract.sewage_price_grosze),
        ("Opłata abonamentowa", Decimal(months), "mies.", contract.subscription_fee_grosze),
    ):
        net, vat, gross = line_amounts(quantity, price, VAT_PERCENT)
        lines.append(
            InvoiceLine(
                description=description,
                quantity=quantity,
                unit=unit,
                unit_price_grosze=price,
                net_grosze=net,
                vat_rate_percent=VAT_PERCENT,
                vat_grosze=vat,
                gross_grosze=gross,
            )
        )
    return lines


def make_invoice(
    number: str,
    contract: ContractUpserted,
    period: tuple[date, date],
    volume: Decimal,
    months: int,
    issued_on: date,
) -> InvoiceIssued:
    lines = invoice_lines(contract, volume, months)
    net = sum(line.net_grosze for line in lines)
    vat = sum(line.vat_grosze for line in lines)
    return InvoiceIssued(
        number=number,
        customer_number=contract.customer_number,
        contract_number=contract.contract_number,
        issued_on=issued_on,
        sale_date=period[1],
        due_date=issued_on + timedelta(days=PAYMENT_DAYS),
        period_from=period[0],
        period_to=period[1],
        lines=lines,
        net_grosze=net,
        vat_grosze=vat,
        gross_grosze=net + vat,
        revision=1,
    )


@dataclass
class History:
    """One contract's standing invoices, and its messages as (day, order within the day, message)."""

    invoices: list[InvoiceIssued]
    timed: list[tuple[date, int, Envelope]]


def billing_periods(
    contract: ContractUpserted, today: date, months: int
) -> list[tuple[date, date, int]]:
    """Calendar-aligned periods of the contract that ended before ``today``, within ``months``."""
    step = contract.billing_period_months
    start = month_start(today, -months)
    # Aligned to the contract's cycle, so its periods start in the same months every year.
    while (start.year * 12 + start.month - 1) % step:
        start = month_start(start, 1)
    periods: list[tuple[date, date, int]] = []
    while True:
        end = month_start(start, step) - timedelta(days=1)
        if end >= today or (contract.end_date and start > contract.end_date):
            return periods
        period_from = max(start, contract.start_date)
        period_to = min(end, contract.end_date) if contract.end_date else end
        if period_from <= period_to:
            periods.append((period_from, period_to, step))
        start = month_start(start, step)


def contract_history(
    contract: ContractUpserted,
    meter: MeterUpserted,
    *,
    index: int,
    premises_no: int,
    company: bool,
    today: date,
    months: int,
    seed: int,
) -> History:
    rng = contract_rng(seed, contract.contract_number)
    daily = Decimal(str(round(rng.uniform(0.8, 4.0) if company else rng.uniform(0.08, 0.35), 3)))
    state = (daily * (month_start(today, -months) - meter.installed_on).days).quantize(ONE_M3)
    state = max(state, Decimal(0))
    invoices: list[InvoiceIssued] = []
    timed: list[tuple[date, int, Envelope]] = []
    for n, (period_from, period_to, step) in enumerate(billing_periods(contract, today, months)):
        days = (period_to - period_from).days + 1
        volume = (daily * days * Decimal(str(round(rng.uniform(0.85, 1.15), 3)))).quantize(ONE_M3)
        state += volume
        issued_on = period_to + timedelta(days=rng.randrange(2, 6))
        if issued_on > today:
            break
        # Numbered by the month the period ends: one invoice per contract and period.
        number = f"FV/{period_to.year}/{period_to.month:02d}/{index:06d}/{premises_no}"
        billed_months = min(step, max(1, round(days / 30)))
        invoice = make_invoice(
            number, contract, (period_from, period_to), volume, billed_months, issued_on
        )
        timed.append((issued_on, 0, invoice))
        effective = invoice
        draw = rng.random()
        if draw < 0.025:  # the meter was misread: a correcting invoice replaces this one
            corrected_volume = (volume * Decimal("0.8")).quantize(ONE_M3)
            correction = make_invoice(
                number.replace("FV/", "FK/"),
                contract,
                (period_from, period_to),
                corrected_volume,
                billed_months,
                min(issued_on + timedelta(days=7), today),
            )
            timed.append(
                (
                    correction.issued_on,
                    1,
                    InvoiceCorrected(
                        corrected_number=number,
                        correction=correction,
                        reason="Korekta odczytu wodomierza",
                    ),
                )
            )
            effective = correction
        elif draw < 0.04:  # issued in error: cancelled and issued again
            cancelled_on = min(issued_on + timedelta(days=3), today)
            reissued = make_invoice(
                number + "/R",
                contract,
                (period_from, period_to),
                volume,
                billed_months,
                cancelled_on,
            )
            timed.append(
                (
                    cancelled_on,
                    1,
                    InvoiceCancelled(
                        number=number,
                        customer_number=contract.customer_number,
                        reason="Faktura wystawiona omyłkowo",
                    ),
                )
            )
            timed.append((cancelled_on, 2, reissued))
            effective = reissued
        invoices.append(effective)
        paid_on = payment_date(rng, effective)
        if paid_on is not None and paid_on <= today:
            general = rng.random() < 0.1  # paid to the account, without naming the invoice
            timed.append(
                (
                    paid_on,
                    3,
                    PaymentRecorded(
                        payment_id=f"WP/{effective.number}",
                        customer_number=contract.customer_number,
                        amount_grosze=effective.gross_grosze,
                        paid_on=paid_on,
                        invoice_number=None if general else effective.number,
                        method=rng.choice(METHODS),  # type: ignore[arg-type]
                    ),
                )
            )
        if n % 3 == 2:  # an inspector reads the meter now and then
            timed.append(
                (
                    period_to,
                    4,
                    ControlReadingRecorded(
                        reading_id=f"KO/{meter.serial}/{period_to.isoformat()}",
                        serial=meter.serial,
                        value=state,
                        read_on=period_to,
                        inspector=rng.choice(INSPECTORS),
                    ),
                )
            )
    return History(invoices, timed)


def payment_date(rng: random.Random, invoice: InvoiceIssued) -> date | None:
    """Most pay on time, some late, some not at all."""
    draw = rng.random()
    if draw < 0.78:
        return invoice.issued_on + timedelta(days=rng.randrange(1, PAYMENT_DAYS + 1))
    if draw < 0.92:
        return invoice.due_date + timedelta(days=rng.randrange(3, 46))
    return None
