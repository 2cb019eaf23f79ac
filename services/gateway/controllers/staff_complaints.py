"""Staff handle complaints (R10, R12): register one from a call or letter, see what is due,
ask the customer for information, settle, and hide an unlawful customer message."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from contracts import auth, billing
from services.gateway.controllers.complaints import IDEMPOTENCY_DOC, request_id
from services.gateway.rpc import Rpc
from services.gateway.schemas.common import Page
from services.gateway.schemas.complaints import (
    HideRequest,
    InformationRequest,
    SettleRequest,
    StaffComplaintCreate,
    StaffComplaintDetailOut,
    StaffComplaintOut,
)
from services.gateway.sessions import any_staff, current_staff


def staff_out(view: billing.ComplaintView) -> StaffComplaintOut:
    return StaffComplaintOut.model_validate(view.model_dump(exclude={"messages"}))


def staff_detail(view: billing.ComplaintView) -> StaffComplaintDetailOut:
    return StaffComplaintDetailOut.model_validate(view.model_dump())


class StaffComplaintsController(Controller):
    """Roles ``care`` and ``admin``."""

    path = "/staff/complaints"
    tags = ["staff"]
    guards = [any_staff]
    dependencies = {"staff": Provide(current_staff)}

    @post(
        "",
        status_code=HTTP_201_CREATED,
        summary="Register a complaint received by phone or letter (R10)",
        description="The 10 days run from `received_on`, the day it reached the utility. "
        + IDEMPOTENCY_DOC,
    )
    async def file(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        data: StaffComplaintCreate,
        staff: auth.StaffInfo,
    ) -> StaffComplaintDetailOut:
        view = await rpc.call(
            billing.FILE_COMPLAINT,
            billing.FileComplaint(
                request_id=request_id(request, f"staff:{staff.staff_id}"),
                filed_by=staff.staff_id,
                **data.model_dump(),
            ),
        )
        return staff_detail(view)

    @get(
        "",
        summary="Complaints, the oldest deadline first, with `overdue` and `due_in_days` (R10)",
        description="`status=open` gives every unsettled complaint; `due_before` those whose "
        "last day is before that date.",
    )
    async def list_complaints(
        self,
        rpc: Rpc,
        staff: auth.StaffInfo,
        status: Literal["open", "filed", "waiting_for_customer", "settled"] | None = None,
        due_before: date | None = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
    ) -> Page[StaffComplaintOut]:
        page = await rpc.call(
            billing.STAFF_COMPLAINTS,
            billing.StaffComplaintsQuery(
                status=status, due_before=due_before, limit=limit, cursor=cursor
            ),
        )
        return Page[StaffComplaintOut](
            items=[staff_out(v) for v in page.items], next_cursor=page.next_cursor
        )

    @get("/{complaint_id:uuid}", summary="One complaint with its thread and the hiding audit")
    async def complaint(
        self, rpc: Rpc, complaint_id: UUID, staff: auth.StaffInfo
    ) -> StaffComplaintDetailOut:
        view = await rpc.call(
            billing.GET_COMPLAINT, billing.ComplaintRef(complaint_id=complaint_id, staff_view=True)
        )
        return staff_detail(view)

    @post(
        "/{complaint_id:uuid}/request-info",
        status_code=HTTP_200_OK,
        summary="Ask the customer for more information (email and inbox); the deadline stays",
        description=IDEMPOTENCY_DOC,
    )
    async def request_info(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        complaint_id: UUID,
        data: InformationRequest,
        staff: auth.StaffInfo,
    ) -> StaffComplaintDetailOut:
        view = await rpc.call(
            billing.REQUEST_COMPLAINT_INFORMATION,
            billing.RequestComplaintInformation(
                request_id=request_id(request, f"staff:{staff.staff_id}"),
                staff_id=staff.staff_id,
                complaint_id=complaint_id,
                question=data.question,
            ),
        )
        return staff_detail(view)

    @post(
        "/{complaint_id:uuid}/settle",
        status_code=HTTP_200_OK,
        summary="Settle: accepted or rejected, with the outcome's text (email and inbox)",
        description="Settling again with the same outcome answers the complaint as it is; "
        "another outcome answers 409 `complaint_settled`.",
    )
    async def settle(
        self,
        rpc: Rpc,
        complaint_id: UUID,
        data: SettleRequest,
        staff: auth.StaffInfo,
    ) -> StaffComplaintDetailOut:
        view = await rpc.call(
            billing.SETTLE_COMPLAINT,
            billing.SettleComplaint(
                staff_id=staff.staff_id,
                complaint_id=complaint_id,
                outcome=data.outcome,
                outcome_text=data.outcome_text,
            ),
        )
        return staff_detail(view)

    @post(
        "/{complaint_id:uuid}/messages/{message_id:uuid}/hide",
        status_code=HTTP_200_OK,
        summary="Hide a customer's unlawful message (R12); it stays in the audit trail",
    )
    async def hide(
        self,
        rpc: Rpc,
        complaint_id: UUID,
        message_id: UUID,
        data: HideRequest,
        staff: auth.StaffInfo,
    ) -> StaffComplaintDetailOut:
        view = await rpc.call(
            billing.HIDE_COMPLAINT_MESSAGE,
            billing.HideComplaintMessage(
                staff_id=staff.staff_id,
                complaint_id=complaint_id,
                message_id=message_id,
                reason=data.reason,
            ),
        )
        return staff_detail(view)
