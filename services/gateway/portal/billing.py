"""Pages of the money: invoices with their PDF (R7.3), contracts and documents (R7.2), settlement (R7.4)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter
from litestar.response import Template

from contracts import billing
from services.gateway.portal.i18n import translate
from services.gateway.portal.pages import customer, lang_of, render
from services.gateway.rpc import Rpc

STATUSES = ("issued", "corrected", "cancelled")


def document_response(document: billing.RenderedDocument, *, download: bool) -> Response[bytes]:
    """A rendered document as the browser should get it: its type, its name, never cached."""
    # The file name comes from billing; keep it to safe characters for the header.
    safe = "".join(ch for ch in document.filename if ch.isalnum() or ch in "._-") or "document"
    disposition = "attachment" if download else "inline"
    return Response(
        document.content,
        media_type=document.media_type,
        headers={
            "content-disposition": f'{disposition}; filename="{safe}"',
            "cache-control": "private, no-store",
        },
    )


class BillingPages(Controller):
    include_in_schema = False

    @get("/invoices", name="portal.invoices")
    async def invoices(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        issued_from: Annotated[date | None, QueryParameter(name="from")] = None,
        issued_to: Annotated[date | None, QueryParameter(name="to")] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        page = await rpc.billing_view(
            billing.LIST_INVOICES,
            billing.InvoicesQuery(
                customer_number=visitor.session.customer_number,
                status=status if status in STATUSES else None,  # type: ignore[arg-type]
                issued_from=issued_from,
                issued_to=issued_to,
                limit=20,
                cursor=cursor,
            ),
        )
        return render(
            request,
            "invoices.html",
            title=translate("invoices.title", lang),
            visitor=visitor,
            page=page,
            status_filter=status if status in STATUSES else "",
            issued_from=issued_from.isoformat() if issued_from else "",
            issued_to=issued_to.isoformat() if issued_to else "",
            statuses=STATUSES,
        )

    @get("/invoices/{invoice_id:uuid}", name="portal.invoice")
    async def invoice(
        self, request: Request[Any, Any, Any], rpc: Rpc, invoice_id: UUID
    ) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        detail = await rpc.billing_view(
            billing.GET_INVOICE,
            billing.InvoiceQuery(
                customer_number=visitor.session.customer_number, invoice_id=invoice_id
            ),
        )
        return render(
            request,
            "invoice.html",
            title=translate("invoice.title", lang, number=detail.number),
            visitor=visitor,
            invoice=detail,
        )

    @get("/invoices/{invoice_id:uuid}/pdf", name="portal.invoice.pdf")
    async def invoice_pdf(
        self, request: Request[Any, Any, Any], rpc: Rpc, invoice_id: UUID
    ) -> Response[bytes]:
        visitor = await customer(request, rpc)
        document = await rpc.call(
            billing.INVOICE_DOCUMENT,
            billing.InvoiceDocumentQuery(
                customer_number=visitor.session.customer_number,
                invoice_id=invoice_id,
                format="pdf",
            ),
        )
        return document_response(document, download=False)

    @get("/contracts", name="portal.contracts")
    async def contracts(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        found = await rpc.billing_view(
            billing.LIST_CONTRACTS,
            billing.CustomerScope(customer_number=visitor.session.customer_number),
        )
        return render(
            request,
            "contracts.html",
            title=translate("contracts.title", lang),
            visitor=visitor,
            contracts=found,
        )

    @get("/contracts/{contract_id:uuid}", name="portal.contract")
    async def contract(
        self, request: Request[Any, Any, Any], rpc: Rpc, contract_id: UUID
    ) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        detail = await rpc.billing_view(
            billing.GET_CONTRACT,
            billing.ContractQuery(
                customer_number=visitor.session.customer_number, contract_id=contract_id
            ),
        )
        return render(
            request,
            "contract.html",
            title=translate("contract.title", lang, number=detail.contract_number),
            visitor=visitor,
            contract=detail,
        )

    @get("/contracts/{contract_id:uuid}/document", name="portal.contract.document")
    async def contract_document(
        self, request: Request[Any, Any, Any], rpc: Rpc, contract_id: UUID
    ) -> Response[bytes]:
        visitor = await customer(request, rpc)
        document = await rpc.call(
            billing.CONTRACT_DOCUMENT,
            billing.ContractQuery(
                customer_number=visitor.session.customer_number, contract_id=contract_id
            ),
        )
        return document_response(document, download=False)

    @get("/settlement", name="portal.settlement")
    async def settlement(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        found = await rpc.billing_view(
            billing.GET_SETTLEMENT,
            billing.CustomerScope(customer_number=visitor.session.customer_number),
        )
        return render(
            request,
            "settlement.html",
            title=translate("settlement.title", lang),
            visitor=visitor,
            settlement=found,
        )
