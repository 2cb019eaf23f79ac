"""The billing system's messages that IBOK must refuse or hold: dead letters with their reason,
and invoices, payments and cancellations that arrive before what they belong to."""

from __future__ import annotations

import json
import uuid

import asyncpg
import httpx
import pytest

from contracts import billing
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
from runtime.rpc_client import RpcClient, RpcProblem
from services.billing import asyncapi
from tests.support.billing import dead_letters, eventually, invoice, send, send_raw
from tests.support.customers import logged_in_client, with_active_contract
from tests.support.infra import Infra
from tests.support.mail import MailSink
from tools.billing_sim.dataset import Dataset
from tools.system import System

DEAD_LETTER_CUSTOMER = 15


async def test_invalid_messages_are_dead_lettered_with_their_reason_and_the_next_is_processed(
    gateway: str, mail_sink: MailSink, billing_data: Dataset, infra: Infra
) -> None:
    customer = with_active_contract(billing_data, DEAD_LETTER_CUSTOMER)
    contract = next(c for c in customer.contracts if c.status == "active").contract_number
    # Figures that do not add up: well-formed, but refused.
    bad_sum = invoice(customer.number, contract, "T/DLQ/1").model_copy(update={"gross_grosze": 1})
    # A field missing: fails validation.
    missing = json.loads(invoice(customer.number, contract, "T/DLQ/2").to_wire())
    del missing["due_date"]
    missing_id = str(uuid.uuid4())
    missing["message_id"] = missing_id
    unknown_id = str(uuid.uuid4())
    good = invoice(customer.number, contract, "T/DLQ/OK")

    await send(infra.amqp_url, bad_sum)
    await send_raw(infra.amqp_url, json.dumps(missing).encode(), "invoice.issued.v1", missing_id)
    await send_raw(infra.amqp_url, b"{not json", "invoice.issued.v1", unknown_id)
    await send(infra.amqp_url, good)

    client = await logged_in_client(gateway, mail_sink, customer, "billing.dlq")
    try:
        page = await eventually(lambda: _numbers(client), lambda numbers: "T/DLQ/OK" in numbers)
        assert "T/DLQ/1" not in page and "T/DLQ/2" not in page
    finally:
        await client.aclose()

    def reasons(letters: list[tuple[dict[str, object], dict[str, object]]]) -> dict[str, str]:
        by_id: dict[str, str] = {}
        for headers, body in letters:
            key = str(body.get("message_id") or headers.get("x-ibok-source-routing-key"))
            by_id[key] = str(headers.get("x-ibok-dead-reason", ""))
        return by_id

    found = await eventually(
        lambda: dead_letters(infra.amqp_url),
        lambda letters: {str(bad_sum.message_id), missing_id} <= reasons(letters).keys(),
    )
    by_id = reasons(found)
    assert "net + VAT != gross" in by_id[str(bad_sum.message_id)]
    assert "due_date" in by_id[missing_id]
    assert any("not JSON" in reason for reason in by_id.values()), found


async def _numbers(client: httpx.AsyncClient) -> set[str]:
    answer = await client.get("/api/v1/invoices", params={"limit": 100})
    assert answer.status_code == 200, answer.text
    return {item["number"] for item in answer.json()["items"]}


async def test_invoice_and_payment_of_an_unknown_customer_wait_for_the_customer(
    billing_data: Dataset, infra: Infra, db: asyncpg.Connection
) -> None:
    number = "KB900001"
    early = invoice(number, f"U/2020/{number}", "T/PARK/1")
    payment = PaymentRecorded(
        payment_id="T/PARK/WP/1",
        customer_number=number,
        amount_grosze=1000,
        paid_on=early.issued_on,
        invoice_number="T/PARK/1",
    )
    await send(infra.amqp_url, early, payment)
    parked = await eventually(
        lambda: db.fetchval(
            "SELECT count(*) FROM billing.parked_messages WHERE awaits = $1",
            f"customer:{number}",
        ),
        lambda count: count == 2,
    )
    assert parked == 2
    assert await db.fetchval("SELECT count(*) FROM billing.invoices WHERE number = 'T/PARK/1'") == 0

    address = Address(street="ul. Nowa 1", postal_code="00-001", city="Warszawa")
    await send(
        infra.amqp_url,
        CustomerUpserted(
            customer_number=number,
            kind="person",
            name="Parkowy Klient",
            address=address,
            identity_checks=[
                IdentityCheck(
                    kind="pesel", digest=make_identity_digest("44051401359", iterations=1_000)
                )
            ],
            revision=1,
        ),
        ContractUpserted(
            contract_number=f"U/2020/{number}",
            customer_number=number,
            premises=Premises(premises_id="P-PARK", address=address),
            start_date=early.issued_on.replace(year=2020),
            status="active",
            billing_period_months=1,
            revision=1,
        ),
    )
    applied = await eventually(
        lambda: db.fetchrow(
            "SELECT (SELECT count(*) FROM billing.invoices WHERE customer_number = $1) AS invoices,"
            " (SELECT count(*) FROM billing.payments WHERE customer_number = $1) AS payments,"
            " (SELECT count(*) FROM billing.parked_messages WHERE awaits = $2) AS parked",
            number,
            f"customer:{number}",
        ),
        lambda row: row["invoices"] == 1,
    )
    assert (applied["payments"], applied["parked"]) == (1, 0)


async def test_a_cancellation_that_comes_before_its_invoice_waits_for_it(
    billing_data: Dataset, infra: Infra, db: asyncpg.Connection
) -> None:
    customer = billing_data.customers[-1]  # any known customer; no login needed
    contract = customer.contracts[0].contract_number
    await send(
        infra.amqp_url,
        InvoiceCancelled(number="T/EARLY/1", customer_number=customer.number, reason="Omyłka"),
    )
    await eventually(
        lambda: db.fetchval(
            "SELECT count(*) FROM billing.parked_messages WHERE awaits = 'invoice:T/EARLY/1'"
        ),
        lambda count: count == 1,
    )
    await send(infra.amqp_url, invoice(customer.number, contract, "T/EARLY/1"))
    status = await eventually(
        lambda: db.fetchval("SELECT status FROM billing.invoices WHERE number = 'T/EARLY/1'"),
        lambda value: value is not None,
    )
    assert status == "cancelled"


async def test_billing_serves_the_asyncapi_document_of_the_interface(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.url("billing")) as client:
        answer = await client.get("/asyncapi.json")
    assert answer.status_code == 200
    assert answer.json() == asyncapi.document()


async def test_staff_overview_of_a_customer_has_contracts_and_balance(
    billing_data: Dataset, infra: Infra
) -> None:
    """The billing side of /staff/customers/{number}: asked over RabbitMQ as the gateway would."""
    customer = billing_data.customers[-2]
    client = RpcClient(infra.amqp_url, timeout=5)
    await client.start()
    try:
        overview = await client.call(
            billing.CUSTOMER_OVERVIEW, billing.CustomerScope(customer_number=customer.number)
        )
        with pytest.raises(RpcProblem) as missing:
            await client.call(
                billing.CUSTOMER_OVERVIEW, billing.CustomerScope(customer_number="K999999")
            )
    finally:
        await client.stop()
    assert overview.name == customer.name
    assert {c.contract_number for c in overview.contracts} == {
        c.contract_number for c in customer.contracts
    }
    paid = sum(m.amount_grosze for m in customer.history if isinstance(m, PaymentRecorded))
    assert overview.balance_grosze == sum(i.gross_grosze for i in customer.invoices) - paid
    assert overview.data_as_of is not None
    assert missing.value.problem.status == 404
