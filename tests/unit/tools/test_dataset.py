"""The simulator's data set is deterministic, consistent and has the variety the tests need."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

from contracts.billing_system import (
    ContractUpserted,
    ControlReadingRecorded,
    CustomerUpserted,
    InvoiceCancelled,
    InvoiceCorrected,
    InvoiceIssued,
    MeterUpserted,
    PaymentRecorded,
    SyncCompleted,
)
from tools.billing_sim.dataset import build_dataset, nip, pesel
from tools.billing_sim.history import billing_periods

TODAY = date(2026, 11, 25)
HISTORY = {
    InvoiceIssued,
    InvoiceCorrected,
    InvoiceCancelled,
    PaymentRecorded,
    ControlReadingRecorded,
}


def _pesel_valid(number: str) -> bool:
    weights = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]
    digits = [int(c) for c in number]
    return (10 - sum(d * w for d, w in zip(digits[:10], weights, strict=True)) % 10) % 10 == digits[
        10
    ]


def _nip_valid(number: str) -> bool:
    weights = [6, 5, 7, 2, 3, 4, 5, 6, 7]
    digits = [int(c) for c in number]
    return sum(d * w for d, w in zip(digits[:9], weights, strict=True)) % 11 == digits[9]


def test_identity_numbers_have_valid_check_digits() -> None:
    rng = random.Random(3)
    assert all(_pesel_valid(pesel(rng)) for _ in range(200))
    assert all(_nip_valid(nip(rng)) for _ in range(200))


def test_same_seed_same_data_and_the_variety_is_there() -> None:
    first, second = build_dataset(60, seed=5), build_dataset(60, seed=5)
    assert [c.identity_number for c in first.customers] == [
        c.identity_number for c in second.customers
    ]
    kinds = {c.kind for c in first.customers}
    assert kinds == {"person", "company"}
    assert any(len(c.contracts) == 2 for c in first.customers)
    assert any(all(k.status == "ended" for k in c.contracts) for c in first.customers)


def test_messages_come_customers_first_then_contracts_then_history_and_end_with_a_sync() -> None:
    messages = list(build_dataset(5, seed=2).messages(digest_iterations=1_000))
    kinds = [type(m) for m in messages]
    assert kinds[:5] == [CustomerUpserted] * 5
    first_history = next(i for i, k in enumerate(kinds) if k in HISTORY)
    assert set(kinds[5:first_history]) == {ContractUpserted, MeterUpserted}
    assert set(kinds[first_history:-1]) <= HISTORY
    assert {InvoiceIssued, PaymentRecorded, ControlReadingRecorded} <= set(kinds)
    assert kinds[-1] is SyncCompleted


def test_the_history_does_not_change_the_customers_of_a_seed() -> None:
    short, long = build_dataset(20, seed=7, months=3), build_dataset(20, seed=7, months=24)
    assert [(c.number, c.identity_number) for c in short.customers] == [
        (c.number, c.identity_number) for c in long.customers
    ]
    assert [c.contracts[0].contract_number for c in short.customers] == [
        c.contracts[0].contract_number for c in long.customers
    ]
    assert sum(len(c.invoices) for c in short.customers) < sum(
        len(c.invoices) for c in long.customers
    )


def test_invoices_add_up_with_8_percent_vat_and_are_due_in_14_days() -> None:
    dataset = build_dataset(40, seed=3, today=TODAY)
    invoices = [i for c in dataset.customers for i in c.invoices]
    assert invoices
    for invoice in invoices:
        assert [line.unit for line in invoice.lines] == ["m3", "m3", "mies."]
        for line in invoice.lines:
            assert line.vat_rate_percent == 8
            assert line.gross_grosze == line.net_grosze + line.vat_grosze
            assert abs(line.net_grosze * 8 / 100 - line.vat_grosze) <= 0.5
        assert invoice.net_grosze == sum(line.net_grosze for line in invoice.lines)
        assert invoice.gross_grosze == invoice.net_grosze + invoice.vat_grosze
        assert invoice.due_date == invoice.issued_on + timedelta(days=14)
        assert invoice.issued_on <= TODAY
    assert len({i.number for i in invoices}) == len(invoices)


def test_payments_are_mostly_on_time_some_late_some_missing() -> None:
    dataset = build_dataset(60, seed=3, today=TODAY)
    due = {i.number: i.due_date for c in dataset.customers for i in c.invoices}
    payments = [m for c in dataset.customers for m in c.history if isinstance(m, PaymentRecorded)]
    paid = {p.payment_id.removeprefix("WP/"): p for p in payments}
    on_time = sum(1 for n, p in paid.items() if p.paid_on <= due[n])
    late = sum(1 for n, p in paid.items() if p.paid_on > due[n])
    missing = sum(1 for n in due if n not in paid)
    assert on_time > late > 0 and missing > 0
    assert all(p.paid_on <= TODAY for p in payments)


def test_ended_contracts_are_billed_only_until_they_end() -> None:
    dataset = build_dataset(60, seed=3, today=TODAY)
    ended = [
        (k, c)
        for c in dataset.customers
        for k in c.contracts
        if k.end_date is not None and k.end_date > TODAY - timedelta(days=700)
    ]
    assert ended
    for contract, customer in ended:
        for invoice in customer.invoices:
            if invoice.contract_number == contract.contract_number:
                assert invoice.period_to <= contract.end_date  # type: ignore[operator]


def test_billing_periods_follow_the_contract_cycle_and_end_before_today() -> None:
    contract = build_dataset(1, seed=1, today=TODAY).customers[0].contracts[0]
    for months in (1, 2, 3):
        periods = billing_periods(
            contract.model_copy(update={"billing_period_months": months}), TODAY, 24
        )
        assert periods and periods[-1][1] < TODAY
        assert all(p[0].day == 1 and (p[0].month - 1) % months == 0 for p in periods)
        assert all(b[0] - a[1] == timedelta(days=1) for a, b in itertools.pairwise(periods))
