"""The staff console's complaints (R10): the queue by deadline with due and overdue marked, and one
complaint with the forms to ask the customer for information and to settle it."""

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
from services.gateway.rpc import rpc_of

QUEUE_FILTERS = ("open", "filed", "waiting_for_customer", "settled")
QUESTION_LABELS = {"question": "staff.complaint.question"}
SETTLE_LABELS = {
    "outcome": "staff.complaint.outcome",
    "outcome_text": "staff.complaint.outcome_text",
}


class StaffComplaintPages(Controller):
    path = "/staff/complaints"
    include_in_schema = False

    @get("", name="staff.complaints")
    async def queue(
        self,
        request: Request[Any, Any, Any],
        status: Annotated[str | None, QueryParameter(max_length=30)] = "open",
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        staff = await staff_member(request)
        chosen = status if status in QUEUE_FILTERS else None
        page = await rpc_of(request.app.state).call(
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
    async def complaint(self, request: Request[Any, Any, Any], complaint_id: UUID) -> Template:
        staff = await staff_member(request)
        return await _detail(request, staff, complaint_id)

    @post("/{complaint_id:uuid}/request-info", name="staff.complaint.request_info")
    async def request_info(
        self, request: Request[Any, Any, Any], complaint_id: UUID
    ) -> Template | Redirect:
        staff = await staff_member(request)
        form = await posted_form(request, tuple(QUESTION_LABELS), staff.token)
        asked = await submit_form(
            request,
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
        return await _detail(request, staff, complaint_id, question_form=form)

    @post("/{complaint_id:uuid}/settle", name="staff.complaint.settle")
    async def settle(
        self, request: Request[Any, Any, Any], complaint_id: UUID
    ) -> Template | Redirect:
        staff = await staff_member(request)
        form = await posted_form(request, tuple(SETTLE_LABELS), staff.token)
        settled = await submit_form(
            request,
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
        return await _detail(request, staff, complaint_id, settle_form=form)


def _back(complaint_id: UUID, flash: str) -> Redirect:
    return redirect(f"/staff/complaints/{complaint_id}", flash=flash)


async def _detail(
    request: Request[Any, Any, Any],
    staff: StaffVisitor,
    complaint_id: UUID,
    *,
    question_form: FormState | None = None,
    settle_form: FormState | None = None,
) -> Template:
    """The complaint's page; with a refused form (its errors shown, the others empty): 422."""
    view = await rpc_of(request.app.state).call(
        billing.GET_COMPLAINT, billing.ComplaintRef(complaint_id=complaint_id, staff_view=True)
    )
    # One error summary for the page: the refused form's (the others are untouched).
    refused = question_form or settle_form
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
    )
