"""Maintenance mode (R6): admins switch it on and off; any staff member can see it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, put
from litestar.di import Provide

from contracts import auth
from contracts.maintenance import (
    GET_MAINTENANCE,
    SET_MAINTENANCE,
    MaintenanceStateQuery,
    SetMaintenance,
)
from services.gateway.rpc import Rpc
from services.gateway.schemas.staff import MaintenanceOut, MaintenanceRequest
from services.gateway.sessions import admin_only, any_staff, client_address, current_staff


class StaffMaintenanceController(Controller):
    path = "/staff/maintenance"
    tags = ["staff"]
    dependencies = {"staff": Provide(current_staff)}

    @get("", guards=[any_staff], summary="The maintenance state every gateway follows")
    async def state(self, rpc: Rpc, staff: auth.StaffInfo) -> MaintenanceOut:
        state = await rpc.call(GET_MAINTENANCE, MaintenanceStateQuery())
        return MaintenanceOut(**state.model_dump())

    @put(
        "",
        guards=[admin_only],
        summary="Switch maintenance on or off (admin)",
        description="While on, customer routes answer 503 with Retry-After (until the expected"
        " end) and the message; staff and health routes keep working, on every gateway process.",
    )
    async def switch(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        staff: auth.StaffInfo,
        data: MaintenanceRequest,
    ) -> MaintenanceOut:
        state = await rpc.call(
            SET_MAINTENANCE,
            SetMaintenance(
                **data.model_dump(),
                staff_id=str(staff.staff_id),
                client_address=client_address(request),
            ),
        )
        # This process applies it at once; the others follow the event within moments.
        request.app.state.maintenance.apply(state)
        return MaintenanceOut(**state.model_dump())
