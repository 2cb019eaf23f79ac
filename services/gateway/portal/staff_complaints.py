"""The staff console's complaints (R10): the queue by deadline with due and overdue marked, and one
complaint with the forms to ask the customer for information and to settle it."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from litestar import Controller, Request, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from pydantic import ValidationError

from contracts import billing
from runtime.rpc_client import RpcProblem
from services.gateway.portal.forms import (
    CSRF_FIELD,
    FormState,
    add_problem,
    add_validation_errors,
    session_form_is_genuine,
    submitted_form,
)
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
        return await _detail(request, staff, complaint_id, FormState(), FormState())

    @post("/{complaint_id:uuid}/request-info", name="staff.complaint.request_info")
    async def request_info(
        self, request: Request[Any, Any, Any], complaint_id: UUID
    ) -> Template | Redirect:
        staff = await staff_member(request)
        lang = lang_of(request)
        form = await submitted_form(request, tuple(QUESTION_LABELS))
        if not session_form_is_genuine(staff.token, form.value(CSRF_FIELD)):
            form.add(None, translate("form.expired", lang))
        else:
            try:
                command = billing.RequestComplaintInformation(
                    request_id=uuid4(),
                    staff_id=staff.staff.staff_id,
                    complaint_id=complaint_id,
                    question=form.value("question"),
                )
            except ValidationError as exc:
                add_validation_errors(form, exc, QUESTION_LABELS, lang)
            else:
                try:
                    await rpc_of(request.app.state).call(
                        billing.REQUEST_COMPLAINT_INFORMATION, command
                    )
                except RpcProblem as exc:
                    if exc.problem.status == 404:
                        raise
                    add_problem(form, exc, {}, lang)
                else:
                    return redirect(
                        f"/staff/complaints/{complaint_id}", flash="flash.complaint_info_requested"
                    )
        return await _detail(request, staff, complaint_id, form, FormState(), status=422)

    @post("/{complaint_id:uuid}/settle", name="staff.complaint.settle")
    async def settle(
        self, request: Request[Any, Any, Any], complaint_id: UUID
    ) -> Template | Redirect:
        staff = await staff_member(request)
        lang = lang_of(request)
        form = await submitted_form(request, tuple(SETTLE_LABELS))
        if not session_form_is_genuine(staff.token, form.value(CSRF_FIELD)):
            form.add(None, translate("form.expired", lang))
        else:
            try:
                command = billing.SettleComplaint(
                    staff_id=staff.staff.staff_id,
                    complaint_id=complaint_id,
                    outcome=form.value("outcome"),  # type: ignore[arg-type]
                    outcome_text=form.value("outcome_text"),
                )
            except ValidationError as exc:
                add_validation_errors(form, exc, SETTLE_LABELS, lang)
            else:
                try:
                    await rpc_of(request.app.state).call(billing.SETTLE_COMPLAINT, command)
                except RpcProblem as exc:
                    if exc.problem.status == 404:
                        raise
                    add_problem(form, exc, {}, lang)
                else:
                    return redirect(
                        f"/staff/complaints/{complaint_id}", flash="flash.complaint_settled"
                    )
        return await _detail(request, staff, complaint_id, FormState(), form, status=422)


async def _detail(
    request: Request[Any, Any, Any],
    staff: StaffVisitor,
    complaint_id: UUID,
    question_form: FormState,
    settle_form: FormState,
    status: int = 200,
) -> Template:
    view = await rpc_of(request.app.state).call(
        billing.GET_COMPLAINT, billing.ComplaintRef(complaint_id=complaint_id, staff_view=True)
    )
    # One error summary for the page: the refused form's (the other form is untouched).
    refused = question_form if question_form.invalid else settle_form
    return render(
        request,
        "staff/complaint.html",
        title=translate("staff.complaint.title", lang_of(request), subject=view.subject),
        staff=staff,
        form=refused,
        status=status,
        complaint=view,
        question_form=question_form,
        settle_form=settle_form,
    )
