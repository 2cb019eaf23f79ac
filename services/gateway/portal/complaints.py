"""Pages of the customer's complaints (R10): the list with deadlines, filing one, one complaint
with its thread (hidden messages shown as hidden, R12) and the answer to staff's question."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from litestar import Controller, Request, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from contracts import billing
from services.gateway.portal.forms import FormState, posted_form, submit_form
from services.gateway.portal.i18n import translate
from services.gateway.portal.pages import Visitor, customer, lang_of, redirect, render
from services.gateway.rpc import Rpc

FILE_LABELS = {
    "subject": "complaints.subject",
    "description": "complaints.description",
    "expected_resolution": "complaints.expected",
    "invoice_id": "complaints.invoice",
}
ANSWER_LABELS = {"body": "complaint.answer"}
# Invoices offered in the form's select (the newest; older ones can be named in the description).
INVOICE_CHOICES = 50


async def _invoices(rpc: Rpc, visitor: Visitor) -> list[tuple[str, str]]:
    page = await rpc.billing_view(
        billing.LIST_INVOICES,
        billing.InvoicesQuery(
            customer_number=visitor.session.customer_number, limit=INVOICE_CHOICES
        ),
    )
    return [(str(inv.invoice_id), inv.number) for inv in page.items]


class ComplaintPages(Controller):
    include_in_schema = False

    @get("/complaints", name="portal.complaints")
    async def complaints(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        visitor = await customer(request, rpc)
        page = await rpc.call(
            billing.LIST_COMPLAINTS,
            billing.ComplaintsQuery(
                customer_number=visitor.session.customer_number, limit=20, cursor=cursor
            ),
        )
        return render(
            request,
            "complaints.html",
            title=translate("complaints.title", lang_of(request)),
            visitor=visitor,
            page=page,
        )

    @get("/complaints/new", name="portal.complaints.new")
    async def new_complaint(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        visitor = await customer(request, rpc)
        return self._form(request, visitor, FormState(), await _invoices(rpc, visitor))

    @post("/complaints", name="portal.complaints.file")
    async def file(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template | Redirect:
        visitor = await customer(request, rpc)
        form = await posted_form(request, tuple(FILE_LABELS), visitor.token)
        invoices = await _invoices(rpc, visitor)
        chosen = form.value("invoice_id")
        # Only one of the customer's own invoices may be named (billing checks again).
        if chosen and chosen not in dict(invoices):
            form.add("invoice_id", translate("complaints.invoice_unknown", lang_of(request)))
        view = await submit_form(
            request,
            rpc,
            form,
            billing.FILE_COMPLAINT,
            lambda: billing.FileComplaint(
                request_id=uuid4(),
                customer_number=visitor.session.customer_number,
                channel="ibok",
                subject=form.value("subject"),
                description=form.value("description"),
                expected_resolution=form.value("expected_resolution"),
                invoice_id=UUID(chosen) if chosen else None,
            ),
            labels=FILE_LABELS,
            problem_fields={"invoice_not_found": "invoice_id"},
        )
        if view is not None:
            return redirect(f"/complaints/{view.complaint_id}", flash="flash.complaint_filed")
        return self._form(request, visitor, form, invoices, status=422)

    @staticmethod
    def _form(
        request: Request[Any, Any, Any],
        visitor: Visitor,
        form: FormState,
        invoices: list[tuple[str, str]],
        status: int = 200,
    ) -> Template:
        return render(
            request,
            "complaint_new.html",
            title=translate("complaints.new_title", lang_of(request)),
            visitor=visitor,
            form=form,
            status=status,
            invoices=invoices,
        )

    @get("/complaints/{complaint_id:uuid}", name="portal.complaint")
    async def complaint(
        self, request: Request[Any, Any, Any], rpc: Rpc, complaint_id: UUID
    ) -> Template:
        visitor = await customer(request, rpc)
        return await self._detail(request, rpc, visitor, complaint_id, FormState())

    @post("/complaints/{complaint_id:uuid}/messages", name="portal.complaint.answer")
    async def answer(
        self, request: Request[Any, Any, Any], rpc: Rpc, complaint_id: UUID
    ) -> Template | Redirect:
        visitor = await customer(request, rpc)
        form = await posted_form(request, tuple(ANSWER_LABELS), visitor.token)
        answered = await submit_form(
            request,
            rpc,
            form,
            billing.ANSWER_COMPLAINT,
            lambda: billing.AnswerComplaint(
                request_id=uuid4(),
                customer_number=visitor.session.customer_number,
                complaint_id=complaint_id,
                body=form.value("body"),
            ),
            labels=ANSWER_LABELS,
            not_found_is_page=True,
        )
        if answered is not None:
            return redirect(f"/complaints/{complaint_id}", flash="flash.complaint_answered")
        return await self._detail(request, rpc, visitor, complaint_id, form, status=422)

    @staticmethod
    async def _detail(
        request: Request[Any, Any, Any],
        rpc: Rpc,
        visitor: Visitor,
        complaint_id: UUID,
        form: FormState,
        status: int = 200,
    ) -> Template:
        # Scoped by the session's customer: another customer's complaint is "not found" (404).
        view = await rpc.call(
            billing.GET_COMPLAINT,
            billing.ComplaintRef(
                complaint_id=complaint_id, customer_number=visitor.session.customer_number
            ),
        )
        return render(
            request,
            "complaint.html",
            title=translate("complaint.title", lang_of(request), subject=view.subject),
            visitor=visitor,
            form=form,
            status=status,
            complaint=view,
        )
