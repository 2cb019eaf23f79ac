"""The customer's session: the cookie, and who it belongs to (asked of auth on every request)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException

from contracts import auth
from runtime.settings import Settings
from services.gateway.rpc import rpc_of

SESSION_COOKIE = "ibok_session"


async def current_session(request: Request[Any, Any, Any]) -> auth.SessionInfo:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or not 20 <= len(token) <= 100:
        raise NotAuthorizedException("Zaloguj się, aby kontynuować.")
    return await rpc_of(request.app.state).call(auth.RESOLVE_SESSION, auth.SessionRef(token=token))


def session_cookie(settings: Settings, token: str, expires_at: datetime | None = None) -> Cookie:
    """R13: HttpOnly, Secure (switchable for local http), SameSite=Lax, Path=/."""
    del expires_at  # a browser-session cookie; the server enforces idle and absolute timeouts
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def clear_session_cookie(response: Response[Any], settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    del settings
