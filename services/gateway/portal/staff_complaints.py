"""The staff console's complaints (R10): the queue by deadline with due and overdue marked, and one
complaint with the forms to ask the customer for information, to settle it, and to hide a
customer's unlawful message (R12)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from litestar import Controller, Request, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from contracts import billing
from services.gateway.portal.forms import FormState, posted_form, submit_form
from services.gateway.portal.i18n import translate
from services.gateway.portal.pages import lang_of, redirect, render
from services.gateway.portal.staff import StaffVisitor, staff_member, staff_page
from services.gateway.rpc import Rpc

QUEUE_FILTERS = ("open", "filed", "waiting_for_customer", "settled")
QUESTION_LABELS = {"question": "staff.complaint.question"}
SETTLE_LABELS = {
    "outcome": "staff.complaint.outcome",
    "outcome_text": "staff.complaint.outcome_text",
}
HIDE_LABELS = {"reason": "staff.complaint.hide_reason"}


class StaffComplaintPages(Controller):
    path = "/staff/complaints"
    include_in_schema = False

    @get("", name="staff.complaints")
    async def queue(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        status: Annotated[str | None, QueryParameter(max_length=30)] = "open",
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        staff = await staff_member(request, rpc)
        chosen = status if status in QUEUE_FILTERS else None
        page = await rpc.call(
            billing.STAFF_COMPLAINTS,
            billing.StaffComplaintsQuery(
                status=chosen,  # type: ignore[arg-type]
                limit=50,
                cursor=cursor,
            ),
        )
        return staff_page(
            request,
            "staff/complaints.html",
            "staff.complaints.title",
            staff,
            page=page,
            status_filter=chosen or "",
            filters=QUEUE_FILTERS,
        )

    @get("/{complaint_id:uuid}", name="staff.complaint")
    async def complaint(
        self, request: Request[Any, Any, Any], rpc: Rpc, complaint_id: UUID
    ) -> Template:
        staff = await staff_member(request, rpc)
        return await _detail(request, rpc, staff, complaint_id)

    @post("/{complaint_id:uuid}/request-info", name="staff.complaint.request_info")
    async def request_info(
        self, request: Request[Any, Any, Any], rpc: Rpc, complaint_id: UUID
    ) -> Template | Redirect:
        staff = await staff_member(request, rpc)
        form = await posted_form(request, tuple(QUESTION_LABELS), staff.token)
        asked = await submit_form(
            request,
            rpc,
            form,
            billing.REQUEST_COMPLAINT_INFORMATION,
            lambda: billing.RequestComplaintInformation(
                request_id=uuid4(),
                staff_id=staff.staff.staff_id,
                complaint_id=complaint_id,
                question=form.value("question"),
            ),
            labels=QUESTION_LABELS,
            not_found_is_page=True,
        )
        if asked is not None:
            return _back(complaint_id, "flash.complaint_info_requested")
        return await _detail(request, rpc, staff, complaint_id, question_form=form)

    @post("/{complaint_id:uuid}/settle", name="staff.complaint.settle")
    async def settle(
        self, request: Request[Any, Any, Any], rpc: Rpc, complaint_id: UUID
    ) -> Template | Redirect:
        staff = await staff_member(request, rpc)
        form = await posted_form(request, tuple(SETTLE_LABELS), staff.token)
        settled = await submit_form(
            request,
            rpc,
            form,
            billing.SETTLE_COMPLAINT,
            lambda: billing.SettleComplaint(
                staff_id=staff.staff.staff_id,
                complaint_id=complaint_id,
                outcome=form.value("outcome"),  # type: ignore[arg-type]
                outcome_text=form.value("outcome_text"),
            ),
            labels=SETTLE_LABELS,
            not_found_is_page=True,
        )
        if settled is not None:
            return _back(complaint_id, "flash.complaint_settled")
        return await _detail(request, rpc, staff, complaint_id, settle_form=form)

    @post(
        "/{complaint_id:uuid}/messages/{message_id:uuid}/hide", name="staff.complaint.hide_message"
    )
    async def hide_message(
        self, request: Request[Any, Any, Any], rpc: Rpc, complaint_id: UUID, message_id: UUID
    ) -> Template | Redirect:
        staff = await staff_member(request, rpc)
        form = await posted_form(request, tuple(HIDE_LABELS), staff.token)
        hidden = await submit_form(
            request,
            rpc,
            form,
            billing.HIDE_COMPLAINT_MESSAGE,
            lambda: billing.HideComplaintMessage(
                staff_id=staff.staff.staff_id,
                complaint_id=complaint_id,
                message_id=message_id,
                reason=form.value("reason"),
            ),
            labels=HIDE_LABELS,
            not_found_is_page=True,
        )
        if hidden is not None:
            return _back(complaint_id, "flash.complaint_message_hidden", f"#message-{message_id}")
        form.prefix = hide_prefix(message_id)
        return await _detail(request, rpc, staff, complaint_id, hide_form=(message_id, form))


def hide_prefix(message_id: UUID) -> str:
    """The hiding form of each message names its fields apart (one page, many such forms)."""
    return f"hide-{message_id}-"


def _back(complaint_id: UUID, flash: str, anchor: str = "") -> Redirect:
    return redirect(f"/staff/complaints/{complaint_id}{anchor}", flash=flash)


async def _detail(
    request: Request[Any, Any, Any],
    rpc: Rpc,
    staff: StaffVisitor,
    complaint_id: UUID,
    *,
    question_form: FormState | None = None,
    settle_form: FormState | None = None,
    hide_form: tuple[UUID, FormState] | None = None,
) -> Template:
    """The complaint's page; with a refused form (its errors shown, the others empty): 422."""
    view = await rpc.call(
        billing.GET_COMPLAINT, billing.ComplaintRef(complaint_id=complaint_id, staff_view=True)
    )
    # R12: only a customer's message that is still shown can be hidden.
    hide_forms = {
        m.message_id: FormState(prefix=hide_prefix(m.message_id))
        for m in view.messages
        if m.author == "customer" and not m.hidden
    }
    if hide_form is not None:
        hide_forms[hide_form[0]] = hide_form[1]
    # One error summary for the page: the refused form's (the others are untouched).
    refused = question_form or settle_form or (hide_form[1] if hide_form else None)
    return render(
        request,
        "staff/complaint.html",
        title=translate("staff.complaint.title", lang_of(request), subject=view.subject),
        staff=staff,
        form=refused,
        status=200 if refused is None else 422,
        complaint=view,
        question_form=question_form or FormState(),
        settle_form=settle_form or FormState(),
        hide_forms=hide_forms,
    )
