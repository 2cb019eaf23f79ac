"""One short function per message the billing service receives."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from pydantic import AwareDatetime, TypeAdapter

from contracts.billing import (
    Charge,
    ContractDetail,
    ContractList,
    ContractQuery,
    ContractSummary,
    CustomerOverview,
    CustomerScope,
    InvoiceDetail,
    InvoiceDocumentQuery,
    InvoiceQuery,
    InvoicesQuery,
    OpenInvoice,
    Payment,
    RegistrationEligibility,
    RegistrationEligibilityQuery,
    RenderedDocument,
    Settlement,
)
from contracts.billing_system import (
    Address,
    ContractDocument,
    InvoiceLine,
)
from runtime.clock import business_today
from runtime.errors import NotFound
from runtime.logs import get_logger
from runtime.paging import cursor_key, encode_cursor
from runtime.service import ServiceRuntime
from services.billing import documents, domain, store

log = get_logger(__name__)

RECENT = 12  # charges and payments the settlement shows


@dataclass
class Billing:
    """The billing service's dependencies, wired once in app.py."""

    rt: ServiceRuntime


async def check_registration(
    b: Billing, query: RegistrationEligibilityQuery
) -> RegistrationEligibility:
    """R1: only the holder of a current contract, proven by PESEL or NIP, may register."""
    row = await store.customer_with_contract(
        b.rt.pool, query.customer_number, query.contract_number
    )
    if row is None:
        return RegistrationEligibility(eligible=False)
    term = domain.ContractTerm(row["status"], row["start_date"], row["end_date"])
    checks = json.loads(row["identity_checks"])
    identity_ok = domain.identity_matches(checks, query.identity_kind, query.identity_number)
    if not (identity_ok and domain.contract_is_current(term, business_today())):
        return RegistrationEligibility(eligible=False)
    return RegistrationEligibility(eligible=True, customer_name=row["name"])


# --- contracts (R7.2) ---------------------------------------------------------------------------


def _contract_summary(row: asyncpg.Record) -> dict[str, Any]:
    fields = {k: row[k] for k in ContractSummary.model_fields if k != "premises_address"}
    fields["premises_address"] = Address.model_validate_json(row["premises_address"])
    return fields


def _not_found(what: str = "document") -> NotFound:
    return NotFound("not_found", "Nie znaleziono.", detail_en=f"No such {what}.")


async def list_contracts(b: Billing, query: CustomerScope) -> ContractList:
    async with b.rt.pool.acquire() as conn:
        rows = await store.contracts_of_customer(conn, query.customer_number)
        as_of = await store.data_as_of(conn)
    return ContractList(
        items=[ContractSummary(**_contract_summary(r)) for r in rows], data_as_of=as_of
    )


async def get_contract(b: Billing, query: ContractQuery) -> ContractDetail:
    async with b.rt.pool.acquire() as conn:
        row = await store.contract_of_customer(conn, query.customer_number, query.contract_id)
        as_of = await store.data_as_of(conn)
    if row is None:
        raise _not_found("contract")
    document = ContractDocument.model_validate_json(row["document"]) if row["document"] else None
    return ContractDetail(**_contract_summary(row), document=document, data_as_of=as_of)


def _buyer(customer: asyncpg.Record) -> documents.Party:
    address = Address.model_validate_json(customer["address"])
    return documents.Party(
        customer["name"],
        documents.address_lines(address),
        (f"Nr klienta {customer['customer_number']}",),
    )


async def contract_document(b: Billing, query: ContractQuery) -> RenderedDocument:
    """R7.2: the signed contract as a PDF."""
    async with b.rt.pool.acquire() as conn:
        row = await store.contract_of_customer(conn, query.customer_number, query.contract_id)
        customer = await store.customer(conn, query.customer_number)
    if row is None or customer is None or row["document"] is None:
        raise _not_found("contract document")
    premises = Address.model_validate_json(row["premises_address"])
    pdf = await asyncio.to_thread(
        documents.contract_pdf,
        contract_number=row["contract_number"],
        customer=_buyer(customer),
        premises=documents.address_lines(premises),
        start_date=row["start_date"],
        end_date=row["end_date"],
        document=ContractDocument.model_validate_json(row["document"]),
        tariff={k: row[k] for k in ContractSummary.model_fields if k.endswith("_grosze")},
    )
    filename = "umowa-" + row["contract_number"].replace("/", "-") + ".pdf"
    return RenderedDocument(media_type="application/pdf", filename=filename, content=pdf)


# --- invoices (R7.3) ----------------------------------------------------------------------------


def _page_start(cursor: str | None) -> tuple[date, str] | None:
    return cursor_key(cursor, date.fromisoformat, str)  # type: ignore[return-value]


_DATA_AS_OF = TypeAdapter(AwareDatetime | None)


async def list_invoices(b: Billing, query: InvoicesQuery) -> bytes:
    """The customer's invoices, newest first, one keyset page (the benchmark's hot path).

    Answered as an ``InvoicePage``'s JSON put together from the items PostgreSQL wrote
    (``store.PAGE_AS_JSON``), with no Python object per invoice.
    """
    after = _page_start(query.cursor)
    async with b.rt.pool.acquire() as conn:
        rows = await store.invoice_page(
            conn,
            query.customer_number,
            status=query.status,
            issued_from=query.issued_from,
            issued_to=query.issued_to,
            after=after,
            limit=query.limit + 1,
            columns=store.PAGE_AS_JSON,
        )
        as_of = rows[0]["data_as_of"] if rows else await store.data_as_of(conn)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    last = rows[-1] if rows else None
    next_cursor = (
        encode_cursor(last["issued_on"].isoformat(), last["number"]) if more and last else None
    )
    return b"".join(
        (
            b'{"items":[',
            ",".join(r["item"] for r in rows).encode(),
            b'],"next_cursor":',
            json.dumps(next_cursor).encode(),
            b',"data_as_of":',
            _DATA_AS_OF.dump_json(as_of),
            b"}",
        )
    )


async def _settlement_figures(
    conn: asyncpg.Connection, customer_number: str, today: date
) -> tuple[domain.SettlementFigures, dict[str, Any]]:
    account = await store.account_of_customer(conn, customer_number)
    figures = domain.settle(
        [
            domain.InvoiceFigures(
                r["number"],
                r["gross_grosze"],
                r["issued_on"],
                r["due_date"],
                r["status"],
                r["corrected_by"],
            )
            for r in account["invoices"]
        ],
        [
            domain.PaymentFigures(r["amount_grosze"], r["invoice_number"])
            for r in account["payments"]
        ],
        today,
    )
    return figures, account


async def get_invoice(b: Billing, query: InvoiceQuery) -> InvoiceDetail:
    async with b.rt.pool.acquire() as conn:
        row = await store.invoice_of_customer(conn, query.customer_number, query.invoice_id)
        if row is None:
            raise _not_found("invoice")
        figures, _ = await _settlement_figures(conn, query.customer_number, business_today())
        as_of = await store.data_as_of(conn)
    counted = domain.counts_towards_balance(row["status"])
    paid = figures.paid.get(row["number"], row["gross_grosze"] if counted else 0)
    fields = {k: row[k] for k in InvoiceDetail.model_fields if k in row.keys() and k != "lines"}
    return InvoiceDetail(
        **fields,
        lines=[InvoiceLine.model_validate(line) for line in json.loads(row["lines"])],
        paid_grosze=paid if counted else 0,
        outstanding_grosze=max(row["gross_grosze"] - paid, 0) if counted else 0,
        data_as_of=as_of,
    )


async def invoice_document(b: Billing, query: InvoiceDocumentQuery) -> RenderedDocument:
    """R7.3: the invoice rendered as a Polish VAT invoice, HTML or PDF."""
    async with b.rt.pool.acquire() as conn:
        row = await store.invoice_of_customer(conn, query.customer_number, query.invoice_id)
        customer = await store.customer(conn, query.customer_number)
        premises = await store.premises_of_contract(conn, row["contract_number"]) if row else None
    if row is None or customer is None:
        raise _not_found("invoice")
    view = documents.invoice_view(
        **{
            k: row[k]
            for k in (
                "number",
                "issued_on",
                "sale_date",
                "due_date",
                "period_from",
                "period_to",
                "net_grosze",
                "vat_grosze",
                "gross_grosze",
                "status",
                "corrects",
                "correction_reason",
                "contract_number",
            )
        },
        lines=[InvoiceLine.model_validate(line) for line in json.loads(row["lines"])],
        buyer=_buyer(customer),
        premises=documents.address_lines(Address.model_validate_json(premises["premises_address"]))
        if premises
        else (),
    )
    stem = "faktura-" + row["number"].replace("/", "-")
    if query.format == "html":
        html = await asyncio.to_thread(documents.invoice_html, view)
        return RenderedDocument(
            media_type="text/html; charset=utf-8", filename=f"{stem}.html", content=html.encode()
        )
    pdf = await asyncio.to_thread(documents.invoice_pdf, view)
    return RenderedDocument(media_type="application/pdf", filename=f"{stem}.pdf", content=pdf)


# --- settlement (R7.4) --------------------------------------------------------------------------


async def get_settlement(b: Billing, query: CustomerScope) -> Settlement:
    today = business_today()
    async with b.rt.pool.acquire() as conn:
        figures, account = await _settlement_figures(conn, query.customer_number, today)
        as_of = await store.data_as_of(conn)
    ids = {r["number"]: r["invoice_id"] for r in account["invoices"]}

    def open_invoice(item: domain.OpenAmount) -> OpenInvoice:
        return OpenInvoice(
            invoice_id=ids[item.number],
            number=item.number,
            due_date=item.due_date,
            gross_grosze=item.gross_grosze,
            outstanding_grosze=item.outstanding_grosze,
            days_overdue=item.days_overdue,
        )

    charges = sorted(
        (r for r in account["invoices"] if domain.counts_towards_balance(r["status"])),
        key=lambda r: (r["issued_on"], r["number"]),
        reverse=True,
    )[:RECENT]
    return Settlement(
        today=today,
        balance_grosze=figures.balance_grosze,
        due_grosze=figures.due_grosze,
        overdue_grosze=figures.overdue_grosze,
        next_due_date=figures.next_due_date,
        due=[open_invoice(i) for i in figures.due],
        overdue=[open_invoice(i) for i in figures.overdue],
        recent_charges=[Charge(**{k: r[k] for k in Charge.model_fields}) for r in charges],
        recent_payments=[
            Payment(**{k: r[k] for k in Payment.model_fields}) for r in account["payments"][:RECENT]
        ],
        data_as_of=as_of,
    )


async def customer_overview(b: Billing, query: CustomerScope) -> CustomerOverview:
    """Staff's view of a customer on the billing side: contracts and balance."""
    async with b.rt.pool.acquire() as conn:
        customer = await store.customer(conn, query.customer_number)
        if customer is None:
            raise _not_found("customer")
        contracts = await store.contracts_of_customer(conn, query.customer_number)
        figures, _ = await _settlement_figures(conn, query.customer_number, business_today())
        as_of = await store.data_as_of(conn)
    return CustomerOverview(
        customer_number=customer["customer_number"],
        name=customer["name"],
        kind=customer["kind"],
        address=Address.model_validate_json(customer["address"]),
        contracts=[ContractSummary(**_contract_summary(r)) for r in contracts],
        balance_grosze=figures.balance_grosze,
        overdue_grosze=figures.overdue_grosze,
        data_as_of=as_of,
    )
