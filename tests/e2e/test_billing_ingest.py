"""The billing system's messages that IBOK must refuse, dead-lettered with their reason, and the
interface's AsyncAPI document (messages held for their customer or invoice are tested on
billing's batch handler: tests/service/billing/test_ingest.py)."""

from __future__ import annotations

import json
import uuid

import httpx

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


async def test_billing_serves_the_asyncapi_document_of_the_interface(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.url("billing")) as client:
        answer = await client.get("/asyncapi.json")
    assert answer.status_code == 200
    assert answer.json() == asyncapi.document()
