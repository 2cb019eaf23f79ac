"""The customer's invoices: the list, one invoice with its lines, and its HTML and PDF views (R7.3)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.openapi.spec import Example
from litestar.params import Parameter

from contracts import auth, billing
from services.gateway.rpc import Rpc
from services.gateway.schemas.billing import InvoiceDetailOut, InvoicePage

# Rendered documents carry what the billing system sent; nothing in them may run (R12).
DOCUMENT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
}


def rendered_response(document: billing.RenderedDocument) -> Response[bytes]:
    return Response(
        document.content,
        media_type=document.media_type,
        headers={
            **DOCUMENT_HEADERS,
            "Content-Disposition": f'inline; filename="{document.filename}"',
        },
    )


class InvoicesController(Controller):
    path = "/invoices"
    tags = ["invoices"]

    @get("", summary="The customer's invoices, newest first (R7.3, R9)")
    async def list_invoices(
        self,
        rpc: Rpc,
        session: auth.SessionInfo,
        status: billing.InvoiceStatus | None = None,
        issued_from: Annotated[date | None, Parameter(description="issued on or after")] = None,
        issued_to: Annotated[date | None, Parameter(description="issued on or before")] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
    ) -> Response[InvoicePage]:
        # The busiest route: billing's reply has this page's exact shape, so it is passed on
        # as billing wrote it instead of being parsed and written again.
        page = await rpc.billing_view_raw(
            billing.LIST_INVOICES,
            billing.InvoicesQuery(
                customer_number=session.customer_number,
                status=status,
                issued_from=issued_from,
                issued_to=issued_to,
                limit=limit,
                cursor=cursor,
            ),
        )
        return Response(page, media_type=MediaType.JSON)  # type: ignore[arg-type]  # bytes of an InvoicePage

    @get(
        "/{invoice_ref:str}",
        summary="One invoice: JSON with its lines; `{id}.html` and `{id}.pdf` render it (R7.3)",
        description=(
            "`/invoices/{id}` answers the invoice as JSON; `/invoices/{id}.html` as a printable "
            "HTML page and `/invoices/{id}.pdf` as a PDF, both laid out as a Polish VAT invoice. "
            "Another customer's id answers 404."
        ),
        response_description="application/json, text/html or application/pdf by the suffix",
        opt={"also_answers": ("text/html", "application/pdf")},
    )
    async def invoice(
        self,
        rpc: Rpc,
        session: auth.SessionInfo,
        invoice_ref: Annotated[
            str,
            Parameter(
                description="the invoice id, optionally with .html or .pdf",
                examples=[Example(value="0b6f3c4e-5a36-4f55-9e4c-2f6a1d3c8e10.pdf")],
            ),
        ],
    ) -> InvoiceDetailOut | Response[bytes]:
        stem, _, suffix = invoice_ref.partition(".")
        try:
            invoice_id = UUID(stem)
        except ValueError as exc:
            raise NotFoundException() from exc
        if suffix in ("html", "pdf"):
            document = await rpc.call(
                billing.INVOICE_DOCUMENT,
                billing.InvoiceDocumentQuery(
                    customer_number=session.customer_number,
                    invoice_id=invoice_id,
                    format="html" if suffix == "html" else "pdf",
                ),
                timeout=15,
            )
            return rendered_response(document)
        if suffix:
            raise NotFoundException()
        detail = await rpc.billing_view(
            billing.GET_INVOICE,
            billing.InvoiceQuery(customer_number=session.customer_number, invoice_id=invoice_id),
        )
        return InvoiceDetailOut.model_validate(detail.model_dump())
