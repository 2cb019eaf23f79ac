"""Billing through the real system: the billing system publishes to RabbitMQ, the customer reads
through the gateway (contracts, invoices with HTML and PDF, settlement; R7.2-R7.4, R9)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from pypdf import PdfReader

from contracts.billing import InvoiceSummary
from contracts.billing_system import (
    InvoiceCancelled,
    InvoiceCorrected,
    InvoiceIssued,
    PaymentRecorded,
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


async def _balance(client: httpx.AsyncClient) -> int:
    return int((await _json(client, "/api/v1/settlement"))["balance_grosze"])


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


async def test_invoice_list_filters_by_status_and_issue_dates(
    simulated: tuple[httpx.AsyncClient, SimCustomer],
) -> None:
    client, _ = simulated
    everything = await _all_invoices(client)
    issued = await _all_invoices(client, status="issued")
    assert issued and all(i["status"] == "issued" for i in issued)
    assert len(issued) == sum(1 for i in everything if i["status"] == "issued")
    middle = sorted(i["issued_on"] for i in everything)[len(everything) // 2]
    later = await _all_invoices(client, issued_from=middle)
    assert later and all(i["issued_on"] >= middle for i in later)
    earlier = await _all_invoices(client, issued_to=middle)
    assert all(i["issued_on"] <= middle for i in earlier)
    assert len(later) + len(earlier) - sum(
        1 for i in everything if i["issued_on"] == middle
    ) == len(everything)
    bad = await client.get("/api/v1/invoices", params={"limit": 101})
    assert bad.status_code == 400
    bad_cursor = await client.get("/api/v1/invoices", params={"cursor": "bm90LWEta2V5"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["code"] == "invalid_cursor"


async def test_settlement_agrees_with_the_billing_systems_own_figures(
    simulated: tuple[httpx.AsyncClient, SimCustomer],
) -> None:
    client, customer = simulated
    settlement = await _json(client, "/api/v1/settlement")
    charged = sum(i.gross_grosze for i in customer.invoices)
    paid = sum(m.amount_grosze for m in customer.history if isinstance(m, PaymentRecorded))
    assert settlement["balance_grosze"] == charged - paid
    assert settlement["data_as_of"] is not None
    open_total = settlement["due_grosze"] + settlement["overdue_grosze"]
    assert open_total >= settlement["balance_grosze"]
    for item in settlement["overdue"]:
        assert item["days_overdue"] > 0 and item["due_date"] < settlement["today"]
    for item in settlement["due"]:
        assert item["days_overdue"] == 0 and item["due_date"] >= settlement["today"]
    assert len(settlement["recent_payments"]) == min(
        12, sum(1 for m in customer.history if isinstance(m, PaymentRecorded))
    )


async def test_customer_sees_own_contracts_with_tariff_clauses_and_document_pdf(
    simulated: tuple[httpx.AsyncClient, SimCustomer],
) -> None:
    client, customer = simulated
    listed = await _json(client, "/api/v1/contracts")
    assert listed["data_as_of"] is not None
    assert {c["contract_number"] for c in listed["items"]} == {
        c.contract_number for c in customer.contracts
    }
    first = listed["items"][0]
    detail = await _json(client, f"/api/v1/contracts/{first['contract_id']}")
    assert detail["water_price_grosze"] > 0 and detail["document"]["clauses"]
    pdf = await client.get(f"/api/v1/contracts/{first['contract_id']}/document")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert first["contract_number"] in text and customer.name in text


# --- what the billing system publishes now ------------------------------------------------------


async def test_the_same_message_twice_changes_nothing(
    own: tuple[httpx.AsyncClient, SimCustomer], infra: Infra
) -> None:
    client, customer = own
    first = invoice(customer.number, _contract(customer), "T/DUP/1")
    before = await _balance(client)
    await send(infra.amqp_url, first)
    listed = await _published(client, "T/DUP/1")
    detail = await _json(client, f"/api/v1/invoices/{listed['invoice_id']}")
    assert await _balance(client) == before + first.gross_grosze

    # Again the same message, and the same invoice under a new message id: neither changes it.
    resent = first.model_copy(update={"message_id": uuid4()})
    marker = invoice(customer.number, _contract(customer), "T/DUP/2", water_m3="1.000")
    await send(infra.amqp_url, first, resent, marker)
    await _published(client, "T/DUP/2")
    assert await _json(client, f"/api/v1/invoices/{listed['invoice_id']}") == detail
    assert await _balance(client) == before + first.gross_grosze + marker.gross_grosze
    numbers = [i["number"] for i in await _all_invoices(client)]
    assert numbers.count("T/DUP/1") == 1


async def test_an_older_revision_never_overwrites_a_newer_one(
    own: tuple[httpx.AsyncClient, SimCustomer], infra: Infra
) -> None:
    client, customer = own
    newer = invoice(customer.number, _contract(customer), "T/REV/1", water_m3="5.000", revision=2)
    older = invoice(customer.number, _contract(customer), "T/REV/1", water_m3="9.000", revision=1)
    marker = invoice(customer.number, _contract(customer), "T/REV/2")
    await send(infra.amqp_url, newer, older, marker)
    await _published(client, "T/REV/2")
    found = await _invoice_by_number(client, "T/REV/1")
    assert found is not None and found["gross_grosze"] == newer.gross_grosze


async def test_a_correction_replaces_the_invoice(
    own: tuple[httpx.AsyncClient, SimCustomer], infra: Infra
) -> None:
    client, customer = own
    original = invoice(customer.number, _contract(customer), "T/COR/1", water_m3="20.000")
    await send(infra.amqp_url, original)
    await _published(client, "T/COR/1")
    before = await _balance(client)
    corrected = invoice(customer.number, _contract(customer), "T/COR/1-K", water_m3="12.500")
    await send(
        infra.amqp_url,
        InvoiceCorrected(
            corrected_number="T/COR/1", correction=corrected, reason="Błędny odczyt wodomierza"
        ),
    )
    correction = await _published(client, "T/COR/1-K")
    replaced = await _invoice_by_number(client, "T/COR/1")
    assert replaced is not None and replaced["status"] == "corrected"
    assert await _balance(client) == before - original.gross_grosze + corrected.gross_grosze
    detail = await _json(client, f"/api/v1/invoices/{correction['invoice_id']}")
    assert detail["corrects"] == "T/COR/1" and detail["correction_reason"]
    old = await _json(client, f"/api/v1/invoices/{replaced['invoice_id']}")
    assert old["corrected_by"] == "T/COR/1-K" and old["outstanding_grosze"] == 0


async def test_a_cancelled_invoice_leaves_the_balance(
    own: tuple[httpx.AsyncClient, SimCustomer], infra: Infra
) -> None:
    client, customer = own
    issued = invoice(customer.number, _contract(customer), "T/CAN/1")
    await send(infra.amqp_url, issued)
    await _published(client, "T/CAN/1")
    before = await _balance(client)
    await send(
        infra.amqp_url,
        InvoiceCancelled(number="T/CAN/1", customer_number=customer.number, reason="Omyłka"),
    )
    cancelled = await eventually(
        lambda: _invoice_by_number(client, "T/CAN/1"),
        lambda i: i is not None and i["status"] == "cancelled",
    )
    assert cancelled is not None
    assert await _balance(client) == before - issued.gross_grosze
    settlement = await _json(client, "/api/v1/settlement")
    assert "T/CAN/1" not in {i["number"] for i in settlement["due"] + settlement["overdue"]}


async def test_a_payment_lowers_the_balance_and_shows_in_the_settlement(
    own: tuple[httpx.AsyncClient, SimCustomer], infra: Infra
) -> None:
    client, customer = own
    issued = invoice(customer.number, _contract(customer), "T/PAY/1")
    await send(infra.amqp_url, issued)
    listed = await _published(client, "T/PAY/1")
    before = await _balance(client)
    payment = PaymentRecorded(
        payment_id="T/WP/1",
        customer_number=customer.number,
        amount_grosze=issued.gross_grosze,
        paid_on=issued.issued_on,
        invoice_number="T/PAY/1",
    )
    await send(infra.amqp_url, payment, payment)  # twice: recorded once
    after = await eventually(lambda: _balance(client), lambda b: b != before)
    assert after == before - issued.gross_grosze
    settlement = await _json(client, "/api/v1/settlement")
    assert "T/WP/1" in {p["payment_id"] for p in settlement["recent_payments"]}
    detail = await _json(client, f"/api/v1/invoices/{listed['invoice_id']}")
    assert detail["paid_grosze"] == issued.gross_grosze and detail["outstanding_grosze"] == 0


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
