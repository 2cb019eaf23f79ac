"""The staff console: flagged readings (R8) and maintenance mode (R6, admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from contracts import readings
from contracts.maintenance import (
    GET_MAINTENANCE,
    SET_MAINTENANCE,
    MaintenanceStateQuery,
    SetMaintenance,
)
from services.gateway.portal.forms import FormState, posted_form, submit_form
from services.gateway.portal.i18n import translate
from services.gateway.portal.pages import client_address, lang_of, redirect
from services.gateway.portal.staff import WARSAW, staff_member, staff_page
from services.gateway.rpc import Rpc


class StaffContentPages(Controller):
    path = "/staff"
    include_in_schema = False

    # --- flagged readings (R8) -----------------------------------------------------------

    @get("/readings/flagged", name="staff.flagged")
    async def flagged(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        staff = await staff_member(request, rpc)
        page = await rpc.call(
            readings.FLAGGED_READINGS, readings.FlaggedReadingsQuery(limit=50, cursor=cursor)
        )
        return staff_page(request, "staff/flagged.html", "staff.flagged.title", staff, page=page)

    @post("/readings/{reading_id:uuid}/review", name="staff.review")
    async def review(self, request: Request[Any, Any, Any], rpc: Rpc, reading_id: UUID) -> Redirect:
        staff = await staff_member(request, rpc)
        form = await posted_form(request, ("decision", "reason"), staff.token)
        if not form.invalid and form.value("decision") in ("accepted", "rejected"):
            await rpc.call(
                readings.REVIEW_READING,
                readings.ReviewReading(
                    reading_id=reading_id,
                    decision=form.value("decision"),  # type: ignore[arg-type]
                    reason=form.value("reason")[:500],
                    reviewer=staff.staff.login,
                ),
            )
            return redirect("/staff/readings/flagged", flash="flash.reading_reviewed")
        return redirect("/staff/readings/flagged")

    # --- maintenance (R6, admins) --------------------------------------------------------

    @get("/maintenance", name="staff.maintenance")
    async def maintenance_page(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        staff = await staff_member(request, rpc, admin=True)
        state = await rpc.call(GET_MAINTENANCE, MaintenanceStateQuery())
        end = (
            state.expected_end.astimezone(WARSAW).strftime("%Y-%m-%dT%H:%M")
            if state.expected_end
            else ""
        )
        form = FormState(
            values={
                "on": "yes" if state.on else "",
                "message": state.message,
                "message_en": state.message_en,
                "expected_end": end,
            }
        )
        return staff_page(
            request,
            "staff/maintenance.html",
            "staff.maintenance.title",
            staff,
            form=form,
            state=state,
        )

    @post("/maintenance", name="staff.maintenance.set")
    async def set_maintenance(
        self, request: Request[Any, Any, Any], rpc: Rpc
    ) -> Template | Redirect:
        staff = await staff_member(request, rpc, admin=True)
        lang = lang_of(request)
        form = await posted_form(
            request, ("on", "message", "message_en", "expected_end"), staff.token
        )
        end: datetime | None = None
        if form.value("expected_end"):
            try:
                end = datetime.fromisoformat(form.value("expected_end")).replace(tzinfo=WARSAW)
            except ValueError:
                form.add("expected_end", translate("staff.maintenance.end_invalid", lang))
        saved = await submit_form(
            request,
            rpc,
            form,
            SET_MAINTENANCE,
            lambda: SetMaintenance(
                on=form.value("on") == "yes",
                message=form.value("message"),
                message_en=form.value("message_en"),
                expected_end=end,
                staff_id=str(staff.staff.staff_id),
                client_address=client_address(request),
            ),
            labels={
                "message": "staff.maintenance.message",
                "message_en": "staff.maintenance.message_en",
            },
        )
        if saved is not None:
            return redirect("/staff/maintenance", flash="flash.maintenance_saved")
        state = await rpc.call(GET_MAINTENANCE, MaintenanceStateQuery())
        return staff_page(
            request,
            "staff/maintenance.html",
            "staff.maintenance.title",
            staff,
            form=form,
            status=422,
            state=state,
        )
