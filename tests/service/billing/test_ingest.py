"""Billing's batches (R9): messages that wait for their customer or invoice, and the staff view
of a customer; applied as billing's batch consumer applies them."""

from __future__ import annotations

import pytest

from contracts.billing import CustomerScope
from contracts.billing_system import (
    Address,
    ContractUpserted,
    CustomerUpserted,
    IdentityCheck,
    InvoiceCancelled,
    PaymentRecorded,
    Premises,
)
from contracts.identity import make_identity_digest
from runtime.errors import DomainError
from services.billing import handlers
from services.billing.handlers import Billing
from tests.support.billing import invoice
from tests.support.service import count, ingest_billing
from tools.billing_sim.dataset import Dataset


async def test_invoice_and_payment_of_an_unknown_customer_wait_for_the_customer(
    billing: Billing,
) -> None:
    number = "KS900001"
    early = invoice(number, f"U/2020/{number}", "S/PARK/1")
    payment = PaymentRecorded(
        payment_id="S/PARK/WP/1",
        customer_number=number,
        amount_grosze=1000,
        paid_on=early.issued_on,
        invoice_number="S/PARK/1",
    )
    parked = "SELECT count(*) FROM parked_messages WHERE awaits = $1"
    await ingest_billing(billing, [early, payment])
    assert await count(billing.rt.pool, parked, f"customer:{number}") == 2
    invoices = "SELECT count(*) FROM invoices WHERE customer_number = $1"
    assert await count(billing.rt.pool, invoices, number) == 0

    address = Address(street="ul. Nowa 1", postal_code="00-001", city="Warszawa")
    digest = make_identity_digest("44051401359", iterations=1_000)
    await ingest_billing(
        billing,
        [
            CustomerUpserted(
                customer_number=number,
                kind="person",
                name="Parkowy Klient",
                address=address,
                identity_checks=[IdentityCheck(kind="pesel", digest=digest)],
                revision=1,
            ),
            ContractUpserted(
                contract_number=f"U/2020/{number}",
                customer_number=number,
                premises=Premises(premises_id="P-PARK-S", address=address),
                start_date=early.issued_on.replace(year=2020),
                status="active",
                billing_period_months=1,
                revision=1,
            ),
        ],
    )
    payments = "SELECT count(*) FROM payments WHERE customer_number = $1"
    assert await count(billing.rt.pool, invoices, number) == 1
    assert await count(billing.rt.pool, payments, number) == 1
    assert await count(billing.rt.pool, parked, f"customer:{number}") == 0


async def test_a_cancellation_that_comes_before_its_invoice_waits_for_it(
    billing: Billing, loaded: Dataset
) -> None:
    customer = loaded.customers[-1]
    cancelled = InvoiceCancelled(number="S/EARLY/1", customer_number=customer.number, reason="x")
    await ingest_billing(billing, [cancelled])
    parked = "SELECT count(*) FROM parked_messages WHERE awaits = 'invoice:S/EARLY/1'"
    assert await count(billing.rt.pool, parked) == 1

    contract = customer.contracts[0].contract_number
    await ingest_billing(billing, [invoice(customer.number, contract, "S/EARLY/1")])
    status = await billing.rt.pool.fetchval(
        "SELECT status FROM invoices WHERE number = 'S/EARLY/1'"
    )
    assert status == "cancelled"
    assert await count(billing.rt.pool, parked) == 0


async def test_staff_overview_of_a_customer_has_contracts_and_balance(
    billing: Billing, loaded: Dataset
) -> None:
    customer = loaded.customers[-2]
    overview = await handlers.customer_overview(
        billing, CustomerScope(customer_number=customer.number)
    )
    assert overview.name == customer.name
    assert {c.contract_number for c in overview.contracts} == {
        c.contract_number for c in customer.contracts
    }
    paid = sum(m.amount_grosze for m in customer.history if isinstance(m, PaymentRecorded))
    assert overview.balance_grosze == sum(i.gross_grosze for i in customer.invoices) - paid
    assert overview.data_as_of is not None
    with pytest.raises(DomainError) as missing:
        await handlers.customer_overview(billing, CustomerScope(customer_number="K999999"))
    assert (missing.value.code, missing.value.status) == ("not_found", 404)
