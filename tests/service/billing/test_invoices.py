"""Billing's ingest and money views (R7.2-R7.4, R9): the handlers on billing's own schema; the
billing system's messages are applied as its batch consumer applies them."""

from __future__ import annotations

import io
import json
from typing import Any
from uuid import UUID, uuid4

import pytest
from pypdf import PdfReader

from contracts.billing import ContractQuery, CustomerScope, InvoiceQuery, InvoicesQuery
from contracts.billing_system import InvoiceCancelled, InvoiceCorrected, PaymentRecorded
from runtime.errors import DomainError
from services.billing import handlers
from services.billing.handlers import Billing
from tests.support.billing import invoice
from tests.support.customers import with_active_contract
from tests.support.service import emitted, ingest_billing, outbox_mark
from tools.billing_sim.dataset import Dataset, SimCustomer


@pytest.fixture(scope="module")
def own(loaded: Dataset) -> SimCustomer:
    return with_active_contract(loaded, 6)


@pytest.fixture(scope="module")
def simulated(loaded: Dataset) -> SimCustomer:
    return with_active_contract(loaded, 7)


def contract_of(customer: SimCustomer) -> str:
    return next(c for c in customer.contracts if c.status == "active").contract_number


async def invoices(b: Billing, customer: SimCustomer, **query: Any) -> list[dict[str, Any]]:
    """Every page of the customer's invoice list, as the gateway receives it (JSON)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = json.loads(
            await handlers.list_invoices(
                b,
                InvoicesQuery(customer_number=customer.number, limit=7, cursor=cursor, **query),
            )
        )
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return items


async def by_number(b: Billing, customer: SimCustomer, number: str) -> dict[str, Any]:
    return next(i for i in await invoices(b, customer) if i["number"] == number)


async def balance(b: Billing, customer: SimCustomer) -> int:
    scope = CustomerScope(customer_number=customer.number)
    return (await handlers.get_settlement(b, scope)).balance_grosze


async def detail(b: Billing, customer: SimCustomer, invoice_id: str) -> Any:
    query = InvoiceQuery(customer_number=customer.number, invoice_id=UUID(invoice_id))
    return await handlers.get_invoice(b, query)


async def test_the_same_message_twice_changes_nothing(billing: Billing, own: SimCustomer) -> None:
    first = invoice(own.number, contract_of(own), "S/DUP/1")
    before = await balance(billing, own)
    mark = await outbox_mark(billing.rt)
    await ingest_billing(billing, [first])
    listed = await by_number(billing, own, "S/DUP/1")
    seen = await detail(billing, own, listed["invoice_id"])
    assert await balance(billing, own) == before + first.gross_grosze
    changed = await emitted(billing.rt, "billing.data-changed.v1", after=mark)
    assert [body["customer_numbers"] for _, body in changed] == [[own.number]]

    # Again the same message, and the same invoice under a new message id: neither changes it.
    mark = await outbox_mark(billing.rt)
    await ingest_billing(billing, [first])
    assert await emitted(billing.rt, "billing.data-changed.v1", after=mark) == []
    await ingest_billing(billing, [first.model_copy(update={"message_id": uuid4()})])
    assert await detail(billing, own, listed["invoice_id"]) == seen
    assert await balance(billing, own) == before + first.gross_grosze
    assert [i["number"] for i in await invoices(billing, own)].count("S/DUP/1") == 1


async def test_an_older_revision_never_overwrites_a_newer_one(
    billing: Billing, own: SimCustomer
) -> None:
    newer = invoice(own.number, contract_of(own), "S/REV/1", water_m3="5.000", revision=2)
    older = invoice(own.number, contract_of(own), "S/REV/1", water_m3="9.000", revision=1)
    await ingest_billing(billing, [newer])
    await ingest_billing(billing, [older])
    assert (await by_number(billing, own, "S/REV/1"))["gross_grosze"] == newer.gross_grosze


async def test_a_correction_replaces_the_invoice(billing: Billing, own: SimCustomer) -> None:
    original = invoice(own.number, contract_of(own), "S/COR/1", water_m3="20.000")
    await ingest_billing(billing, [original])
    before = await balance(billing, own)
    corrected = invoice(own.number, contract_of(own), "S/COR/1-K", water_m3="12.500")
    await ingest_billing(
        billing,
        [
            InvoiceCorrected(
                corrected_number="S/COR/1", correction=corrected, reason="Błędny odczyt"
            )
        ],
    )
    correction = await by_number(billing, own, "S/COR/1-K")
    replaced = await by_number(billing, own, "S/COR/1")
    assert replaced["status"] == "corrected"
    assert await balance(billing, own) == before - original.gross_grosze + corrected.gross_grosze
    new = await detail(billing, own, correction["invoice_id"])
    assert new.corrects == "S/COR/1" and new.correction_reason
    old = await detail(billing, own, replaced["invoice_id"])
    assert old.corrected_by == "S/COR/1-K" and old.outstanding_grosze == 0


async def test_a_cancelled_invoice_leaves_the_balance(billing: Billing, own: SimCustomer) -> None:
    issued = invoice(own.number, contract_of(own), "S/CAN/1")
    await ingest_billing(billing, [issued])
    before = await balance(billing, own)
    await ingest_billing(
        billing, [InvoiceCancelled(number="S/CAN/1", customer_number=own.number, reason="Omyłka")]
    )
    assert (await by_number(billing, own, "S/CAN/1"))["status"] == "cancelled"
    assert await balance(billing, own) == before - issued.gross_grosze
    settlement = await handlers.get_settlement(billing, CustomerScope(customer_number=own.number))
    assert "S/CAN/1" not in {i.number for i in settlement.due + settlement.overdue}


async def test_a_payment_lowers_the_balance_and_shows_in_the_settlement(
    billing: Billing, own: SimCustomer
) -> None:
    issued = invoice(own.number, contract_of(own), "S/PAY/1")
    await ingest_billing(billing, [issued])
    listed = await by_number(billing, own, "S/PAY/1")
    before = await balance(billing, own)
    payment = PaymentRecorded(
        payment_id="S/WP/1",
        customer_number=own.number,
        amount_grosze=issued.gross_grosze,
        paid_on=issued.issued_on,
        invoice_number="S/PAY/1",
    )
    await ingest_billing(billing, [payment, payment])  # twice: recorded once
    assert await balance(billing, own) == before - issued.gross_grosze
    settlement = await handlers.get_settlement(billing, CustomerScope(customer_number=own.number))
    assert "S/WP/1" in {p.payment_id for p in settlement.recent_payments}
    paid = await detail(billing, own, listed["invoice_id"])
    assert (paid.paid_grosze, paid.outstanding_grosze) == (issued.gross_grosze, 0)


async def test_settlement_agrees_with_the_billing_systems_own_figures(
    billing: Billing, simulated: SimCustomer
) -> None:
    settlement = await handlers.get_settlement(
        billing, CustomerScope(customer_number=simulated.number)
    )
    charged = sum(i.gross_grosze for i in simulated.invoices)
    paid = [m for m in simulated.history if isinstance(m, PaymentRecorded)]
    assert settlement.balance_grosze == charged - sum(m.amount_grosze for m in paid)
    assert settlement.data_as_of is not None
    assert settlement.due_grosze + settlement.overdue_grosze >= settlement.balance_grosze
    assert all(i.days_overdue > 0 and i.due_date < settlement.today for i in settlement.overdue)
    assert all(i.days_overdue == 0 and i.due_date >= settlement.today for i in settlement.due)
    assert len(settlement.recent_payments) == min(12, len(paid))


async def test_invoice_list_filters_by_status_and_issue_dates(
    billing: Billing, simulated: SimCustomer
) -> None:
    everything = await invoices(billing, simulated)
    issued = await invoices(billing, simulated, status="issued")
    assert issued and all(i["status"] == "issued" for i in issued)
    assert len(issued) == sum(1 for i in everything if i["status"] == "issued")
    middle = sorted(i["issued_on"] for i in everything)[len(everything) // 2]
    later = await invoices(billing, simulated, issued_from=middle)
    assert later and all(i["issued_on"] >= middle for i in later)
    earlier = await invoices(billing, simulated, issued_to=middle)
    assert all(i["issued_on"] <= middle for i in earlier)
    on_middle = sum(1 for i in everything if i["issued_on"] == middle)
    assert len(later) + len(earlier) - on_middle == len(everything)
    with pytest.raises(DomainError) as bad:
        await handlers.list_invoices(
            billing, InvoicesQuery(customer_number=simulated.number, cursor="bm90LWEta2V5")
        )
    assert (bad.value.code, bad.value.status) == ("invalid_cursor", 422)


async def test_customer_sees_own_contracts_with_tariff_clauses_and_document_pdf(
    billing: Billing, simulated: SimCustomer
) -> None:
    scope = CustomerScope(customer_number=simulated.number)
    listed = await handlers.list_contracts(billing, scope)
    assert listed.data_as_of is not None
    assert {c.contract_number for c in listed.items} == {
        c.contract_number for c in simulated.contracts
    }
    first = listed.items[0]
    query = ContractQuery(customer_number=simulated.number, contract_id=first.contract_id)
    contract = await handlers.get_contract(billing, query)
    assert contract.water_price_grosze > 0 and contract.document and contract.document.clauses
    pdf = await handlers.contract_document(billing, query)
    assert pdf.media_type == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert first.contract_number in text and simulated.name in text
