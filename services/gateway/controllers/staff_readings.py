"""Staff review of flagged readings (R8): the list and the decision, which the customer sees."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK

from contracts import auth, readings
from services.gateway.rpc import Rpc
from services.gateway.schemas.common import Page
from services.gateway.schemas.readings import FlaggedReading, ReviewReadingRequest
from services.gateway.sessions import any_staff, current_staff


class StaffReadingsController(Controller):
    """Roles ``care`` and ``admin``."""

    path = "/staff/readings"
    tags = ["staff"]
    guards = [any_staff]
    dependencies = {"staff": Provide(current_staff)}

    @get("/flagged", summary="Readings flagged as implausible jumps, oldest first (R8)")
    async def flagged(
        self,
        rpc: Rpc,
        staff: auth.StaffInfo,
        status: Literal["pending_review", "all"] = "pending_review",
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
    ) -> Page[FlaggedReading]:
        page = await rpc.call(
            readings.FLAGGED_READINGS,
            readings.FlaggedReadingsQuery(status=status, limit=limit, cursor=cursor),
        )
        return Page[FlaggedReading](
            items=[FlaggedReading.model_validate(r.model_dump()) for r in page.items],
            next_cursor=page.next_cursor,
        )

    @post(
        "/{reading_id:uuid}/review",
        status_code=HTTP_200_OK,
        summary="Accept or reject a flagged reading; a rejection's reason is shown to the customer",
    )
    async def review(
        self,
        rpc: Rpc,
        staff: auth.StaffInfo,
        reading_id: UUID,
        data: ReviewReadingRequest,
    ) -> FlaggedReading:
        reviewed = await rpc.call(
            readings.REVIEW_READING,
            readings.ReviewReading(
                reading_id=reading_id,
                decision=data.decision,
                reason=data.reason,
                reviewer=staff.login,
            ),
        )
        return FlaggedReading.model_validate(reviewed.model_dump())
