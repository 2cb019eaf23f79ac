"""The logged-in customer's own account."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get

from contracts import auth
from services.gateway.rpc import rpc_of
from services.gateway.schemas.auth import Me


class MeController(Controller):
    path = "/me"
    tags = ["account"]

    @get("", summary="The logged-in customer's account")
    async def me(self, request: Request[Any, Any, Any], session: auth.SessionInfo) -> Me:
        profile = await rpc_of(request.app.state).call(
            auth.PROFILE, auth.ProfileQuery(account_id=session.account_id)
        )
        return Me(**profile.model_dump())
