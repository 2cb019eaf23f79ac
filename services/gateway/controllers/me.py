"""The logged-in customer's own account: profile, contact data (R15, R16) and sessions (R13)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, delete, get, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from contracts import auth
from services.gateway.rpc import Rpc
from services.gateway.schemas.auth import ContactRequest, Me, SessionItem
from services.gateway.schemas.common import Page
from services.gateway.sessions import SESSION_COOKIE, client_address, usable_token


class MeController(Controller):
    path = "/me"
    tags = ["account"]

    @get("", summary="The logged-in customer's account, contact data and consent")
    async def me(self, rpc: Rpc, session: auth.SessionInfo) -> Me:
        profile = await rpc.call(auth.PROFILE, auth.ProfileQuery(account_id=session.account_id))
        return Me(**profile.model_dump())

    @put(
        "/contact",
        summary="Change contact data and marketing consent (R15, R16)",
        description="Phone, address and consent apply at once and are sent to the billing"
        " system. A new email is used only after the link sent to it is followed (it shows as"
        " `pending_email` until then).",
    )
    async def update_contact(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        data: ContactRequest,
        session: auth.SessionInfo,
    ) -> Me:
        profile = await rpc.call(
            auth.UPDATE_CONTACT,
            auth.UpdateContact(
                account_id=session.account_id,
                **data.model_dump(),
                client_address=client_address(request),
            ),
        )
        return Me(**profile.model_dump())

    @get("/sessions", summary="The customer's live sessions, newest first (R13)")
    async def sessions(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        session: auth.SessionInfo,
        limit: int = Parameter(default=20, ge=1, le=100),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> Page[SessionItem]:
        page = await rpc.call(
            auth.SESSIONS,
            auth.SessionsQuery(
                account_id=session.account_id,
                current_token=usable_token(request.cookies.get(SESSION_COOKIE)),
                limit=limit,
                cursor=cursor,
            ),
        )
        return Page[SessionItem](
            items=[SessionItem(**item.model_dump()) for item in page.items],
            next_cursor=page.next_cursor,
        )

    @delete(
        "/sessions/{session_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="End one of the customer's sessions (R13)",
    )
    async def end_session(
        self, request: Request[Any, Any, Any], rpc: Rpc, session_id: UUID, session: auth.SessionInfo
    ) -> None:
        await rpc.call(
            auth.END_SESSION,
            auth.EndSession(
                account_id=session.account_id,
                session_id=session_id,
                client_address=client_address(request),
            ),
        )
