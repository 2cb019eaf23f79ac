"""Staff messages to every customer: a new version of the terms (R11) and commercial information (R15)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.status_codes import HTTP_202_ACCEPTED

from contracts import auth, notify
from services.gateway.rpc import Rpc
from services.gateway.schemas.notify import (
    AnnouncementRequest,
    AnnouncementResponse,
    FanoutStatus,
    PublishTermsRequest,
    TermsPublishedResponse,
)
from services.gateway.sessions import any_staff, current_staff


class StaffNotifyController(Controller):
    """Roles ``care`` and ``admin``."""

    guards = [any_staff]
    dependencies = {"staff": Provide(current_staff)}
    path = "/staff"
    tags = ["staff"]

    @post(
        "/terms",
        status_code=HTTP_202_ACCEPTED,
        summary="Publish a new version of the terms; every customer is told (R11)",
        # The terms are long documents; the gateway's default body limit is for forms.
        request_max_body_size=1024 * 1024,
    )
    async def publish_terms(
        self,
        rpc: Rpc,
        staff: auth.StaffInfo,
        data: PublishTermsRequest,
    ) -> TermsPublishedResponse:
        published = await rpc.call(
            notify.PUBLISH_TERMS,
            notify.PublishTerms(
                text=data.text, effective_on=data.effective_on, published_by=staff.login
            ),
        )
        return TermsPublishedResponse(**published.model_dump())

    @post(
        "/announcements",
        status_code=HTTP_202_ACCEPTED,
        summary="Send commercial information: email to those who consented, inbox for all (R15)",
    )
    async def announce(
        self,
        rpc: Rpc,
        staff: auth.StaffInfo,
        data: AnnouncementRequest,
    ) -> AnnouncementResponse:
        sent = await rpc.call(
            notify.SEND_ANNOUNCEMENT,
            notify.SendAnnouncement(subject=data.subject, body=data.body, sent_by=staff.login),
        )
        return AnnouncementResponse(**sent.model_dump())

    @get("/fanouts/{job_id:uuid}", summary="Progress of a message to every customer")
    async def fanout(self, rpc: Rpc, staff: auth.StaffInfo, job_id: UUID) -> FanoutStatus:
        status = await rpc.call(notify.FANOUT_STATUS, notify.FanoutStatusQuery(job_id=job_id))
        return FanoutStatus(**status.model_dump())
