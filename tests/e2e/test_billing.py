"""Billing through the real system: the billing system publishes to RabbitMQ, the customer reads
through the gateway (contracts, invoices with HTML and PDF, settlement; R7.2-R7.4, R9)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
import pytest_asyncio
from pypdf import PdfReader

from contracts.billing import InvoiceSummary
from contracts.billing_system import (
    InvoiceCorrected,
    InvoiceIssued,
)
from services.billing.domain import format_pln
from tests.support.billing import eventually, invoice, send
from tests.support.customers import logged_in_client, with_active_contract
from tests.support.infra import Infra
from tests.support.mail import MailSink
from tools.billing_sim.dataset import Dataset, SimCustomer

# Customer indexes 12-15 are billing's (see BRIEF): 12 takes published invoices, 13 is "another
# customer", 14 is read as the simulator made it.
OWN, OTHER, SIMULATED = 12, 13, 14


async def _client(
    gateway: str, mail_sink: MailSink, dataset: Dataset, index: int, login: str
) -> AsyncIterator[tuple[httpx.AsyncClient, SimCustomer]]:
    customer = with_active_contract(dataset, index)
    client = await logged_in_client(gateway, mail_sink, customer, login)
    try:
        yield client, customer
    finally:
        await client.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own(
    gateway: str, mail_sink: MailSink, billing_data: Dataset
) -> AsyncIterator[tuple[httpx.AsyncClient, SimCustomer]]:
    async for pair in _client(gateway, mail_sink, billing_data, OWN, "billing.own"):
        yield pair


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def other(
    gateway: str, mail_sink: MailSink, billing_data: Dataset
) -> AsyncIterator[tuple[httpx.AsyncClient, SimCustomer]]:
    async for pair in _client(gateway, mail_sink, billing_data, OTHER, "billing.other"):
        yield pair


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def simulated(
    gateway: str, mail_sink: MailSink, billing_data: Dataset
) -> AsyncIterator[tuple[httpx.AsyncClient, SimCustomer]]:
    async for pair in _client(gateway, mail_sink, billing_data, SIMULATED, "billing.simulated"):
        yield pair


async def _json(client: httpx.AsyncClient, url: str, **params: Any) -> Any:
    answer = await client.get(url, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _all_invoices(client: httpx.AsyncClient, **filters: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {**filters, "limit": 7} | ({"cursor": cursor} if cursor else {})
        page = await _json(client, "/api/v1/invoices", **params)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def _invoice_by_number(client: httpx.AsyncClient, number: str) -> dict[str, Any] | None:
    return next((i for i in await _all_invoices(client) if i["number"] == number), None)


async def _published(client: httpx.AsyncClient, number: str) -> dict[str, Any]:
    found = await eventually(lambda: _invoice_by_number(client, number), lambda i: i is not None)
    assert found is not None
    return found


def _contract(customer: SimCustomer) -> str:
    return next(c for c in customer.contracts if c.status == "active").contract_number


# --- what the simulator published, read back ----------------------------------------------------


async def test_simulated_customer_sees_every_invoice_paged_newest_first_with_the_sync_time(
    simulated: tuple[httpx.AsyncClient, SimCustomer], billing_data: Dataset
) -> None:
    client, customer = simulated
    items = await _all_invoices(client)
    expected = {m.number for m in customer.history if isinstance(m, InvoiceIssued)} | {
        m.correction.number for m in customer.history if isinstance(m, InvoiceCorrected)
    }
    assert [i["number"] for i in items] and {i["number"] for i in items} == expected
    assert len(items) == len(expected)  # pages neither overlap nor skip
    # Each item as the billing system issued it (billing writes the list's JSON in PostgreSQL).
    issued = {
        m.number: m
        for m in customer.history
        if isinstance(m, InvoiceIssued) and m.number in {i["number"] for i in items}
    }
    assert issued
    for item in items:
        if (sent := issued.get(item["number"])) is None:
            continue  # a correction: its own figures are checked in test_a_correction_...
        assert set(item) == set(InvoiceSummary.model_fields)
        assert UUID(item["invoice_id"]) and item["status"] in {"issued", "corrected", "cancelled"}
        assert (item["contract_number"], item["gross_grosze"]) == (
            sent.contract_number,
            sent.gross_grosze,
        )
        assert [item[k] for k in ("issued_on", "due_date", "period_from", "period_to")] == [
            d.isoformat() for d in (sent.issued_on, sent.due_date, sent.period_from, sent.period_to)
        ]
    keys = [(i["issued_on"], i["number"]) for i in items]
    assert keys == sorted(keys, reverse=True)
    page = await _json(client, "/api/v1/invoices", limit=3)
    assert len(page["items"]) == 3 and page["next_cursor"]
    assert page["data_as_of"] is not None
    # R9: the time of the last sync completed (the data set's, or a later one another test sent).
    as_of = datetime.fromisoformat(page["data_as_of"].replace("Z", "+00:00"))
    assert as_of >= billing_data.as_of


# --- documents and access (the handlers' cases: tests/service/billing/test_invoices.py) ----------


async def test_invoice_pdf_opens_and_shows_number_gross_and_amount_in_words(
    own: tuple[httpx.AsyncClient, SimCustomer], infra: Infra
) -> None:
    client, customer = own
    issued = invoice(customer.number, _contract(customer), "T/PDF/1", water_m3="7.250")
    await send(infra.amqp_url, issued)
    listed = await _published(client, "T/PDF/1")
    answer = await client.get(f"/api/v1/invoices/{listed['invoice_id']}.pdf")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.content)).pages)
    assert "T/PDF/1" in text
    assert format_pln(issued.gross_grosze) in text
    assert customer.name in text and "Słownie" in text


async def test_html_view_escapes_what_the_billing_system_sent(
    own: tuple[httpx.AsyncClient, SimCustomer], infra: Infra
) -> None:
    client, customer = own
    hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    issued = invoice(customer.number, _contract(customer), "T/HTML/1", description=hostile)
    await send(infra.amqp_url, issued)
    listed = await _published(client, "T/HTML/1")
    answer = await client.get(f"/api/v1/invoices/{listed['invoice_id']}.html")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    html = answer.text
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "T/HTML/1" in html
    assert format_pln(issued.gross_grosze) in html


async def test_another_customers_invoice_and_contract_answer_404(
    own: tuple[httpx.AsyncClient, SimCustomer],
    other: tuple[httpx.AsyncClient, SimCustomer],
    infra: Infra,
) -> None:
    client, customer = own
    intruder, _ = other
    await send(infra.amqp_url, invoice(customer.number, _contract(customer), "T/404/1"))
    listed = await _published(client, "T/404/1")
    contract_id = (await _json(client, "/api/v1/contracts"))["items"][0]["contract_id"]
    for url in (
        f"/api/v1/invoices/{listed['invoice_id']}",
        f"/api/v1/invoices/{listed['invoice_id']}.html",
        f"/api/v1/invoices/{listed['invoice_id']}.pdf",
        f"/api/v1/contracts/{contract_id}",
        f"/api/v1/contracts/{contract_id}/document",
        "/api/v1/invoices/not-a-uuid",
    ):
        answer = await intruder.get(url)
        assert answer.status_code == 404, url
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert "T/404/1" not in {i["number"] for i in await _all_invoices(intruder)}


@pytest.mark.parametrize("url", ["/api/v1/invoices", "/api/v1/contracts", "/api/v1/settlement"])
async def test_billing_views_need_a_session(gateway: str, url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as anonymous:
        assert (await anonymous.get(url)).status_code == 401
