"""Staff work on customer accounts (block, unblock, audit trail: R5) and on staff users (admin)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from contracts import auth
from services.gateway.rpc import Rpc
from services.gateway.schemas.common import Page
from services.gateway.schemas.staff import (
    AuditEntryOut,
    BlockRequest,
    BlockResponse,
    StaffUserCreate,
    StaffUserOut,
    UnblockRequest,
)
from services.gateway.sessions import admin_only, any_staff, client_address, current_staff


class StaffAccountsController(Controller):
    """Roles ``care`` and ``admin``."""

    path = "/staff/accounts"
    tags = ["staff"]
    guards = [any_staff]
    dependencies = {"staff": Provide(current_staff)}

    @post(
        "/{login:str}/block",
        status_code=HTTP_200_OK,
        summary="Block a customer account (R5); all its sessions end at once",
        description="Only after checking the customer's identity: say which check was used"
        " (the number itself is never sent or stored). A temporary block lifts itself after"
        " its last day (Warsaw calendar).",
    )
    async def block(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        login: str,
        data: BlockRequest,
        staff: auth.StaffInfo,
    ) -> BlockResponse:
        reply = await rpc.call(
            auth.BLOCK_ACCOUNT,
            auth.BlockAccount(
                actor_id=staff.staff_id,
                login=login,
                reason=data.reason,
                until=data.until,
                permanent=data.permanent,
                identity_check_used=data.identity_check_used,
                identity_verified=data.identity_verified,
                client_address=client_address(request),
            ),
        )
        # Auth has told every gateway already; this one also forgets at once, by login.
        request.app.state.session_cache.forget_login(login)
        return BlockResponse(**reply.model_dump())

    @post(
        "/{login:str}/unblock",
        status_code=HTTP_200_OK,
        summary="Lift a customer account's block (R5)",
    )
    async def unblock(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        login: str,
        data: UnblockRequest,
        staff: auth.StaffInfo,
    ) -> BlockResponse:
        reply = await rpc.call(
            auth.UNBLOCK_ACCOUNT,
            auth.UnblockAccount(
                actor_id=staff.staff_id,
                login=login,
                reason=data.reason,
                client_address=client_address(request),
            ),
        )
        return BlockResponse(**reply.model_dump())

    @get("/{login:str}/audit", summary="An account's audit trail, newest first")
    async def audit(
        self,
        rpc: Rpc,
        login: str,
        staff: auth.StaffInfo,
        limit: int = Parameter(default=20, ge=1, le=100),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> Page[AuditEntryOut]:
        page = await rpc.call(
            auth.ACCOUNT_AUDIT,
            auth.AccountAuditQuery(
                actor_id=staff.staff_id, login=login, limit=limit, cursor=cursor
            ),
        )
        return Page[AuditEntryOut](
            items=[AuditEntryOut(**entry.model_dump()) for entry in page.items],
            next_cursor=page.next_cursor,
        )


class StaffUsersController(Controller):
    """Admins only."""

    path = "/staff/staff-users"
    tags = ["staff"]
    guards = [admin_only]
    dependencies = {"staff": Provide(current_staff)}

    @post("", status_code=HTTP_201_CREATED, summary="Create a staff user (admin)")
    async def create(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        data: StaffUserCreate,
        staff: auth.StaffInfo,
    ) -> StaffUserOut:
        user = await rpc.call(
            auth.CREATE_STAFF_USER,
            auth.CreateStaffUser(
                actor_id=staff.staff_id, **data.model_dump(), client_address=client_address(request)
            ),
        )
        return StaffUserOut(**user.model_dump())

    @get("", summary="Staff users by login (admin)")
    async def list_users(
        self,
        rpc: Rpc,
        staff: auth.StaffInfo,
        limit: int = Parameter(default=20, ge=1, le=100),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> Page[StaffUserOut]:
        page = await rpc.call(
            auth.STAFF_USERS,
            auth.StaffUsersQuery(actor_id=staff.staff_id, limit=limit, cursor=cursor),
        )
        return Page[StaffUserOut](
            items=[StaffUserOut(**user.model_dump()) for user in page.items],
            next_cursor=page.next_cursor,
        )
