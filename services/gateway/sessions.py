"""Sessions at the gateway: the customer's and the staff member's cookies, and who they belong to.

Customers and staff have separate cookies, separate session tables in auth and separate
resolve operations, so a customer's session never opens a staff route and the reverse.

Other areas reuse these dependencies::

    from services.gateway.sessions import admin_only, current_staff

    class StaffTermsController(Controller):
        dependencies = {"staff": Provide(current_staff)}   # any staff role
        guards = [admin_only]                               # admin only
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from contracts import auth
from contracts.auth import StaffRole
from runtime.settings import Settings
from services.gateway.rpc import rpc_of

SESSION_COOKIE = "ibok_session"
STAFF_SESSION_COOKIE = "ibok_staff_session"
# Where a resolved staff session is kept for the rest of one request (guards, then handler).
_STAFF_STATE_KEY = "ibok_staff"


def usable_token(value: str | None) -> str | None:
    return value if value and 20 <= len(value) <= 100 else None


def client_address(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The caller's address as the HTTP server saw it (X-Forwarded-For only from trusted proxies)."""
    return (request.client.host if request.client else "")[:64]


async def current_session(request: Request[Any, Any, Any]) -> auth.SessionInfo:
    """The customer's session (cookie ``ibok_session``) or 401."""
    token = usable_token(request.cookies.get(SESSION_COOKIE))
    if token is None:
        raise NotAuthorizedException("Zaloguj się, aby kontynuować.")
    return await rpc_of(request.app.state).call(auth.RESOLVE_SESSION, auth.SessionRef(token=token))


async def staff_of(connection: ASGIConnection[Any, Any, Any, Any]) -> auth.StaffInfo:
    """The staff member's session (cookie ``ibok_staff_session``) or 401, resolved once per request."""
    cached = connection.scope.get("state", {}).get(_STAFF_STATE_KEY)
    if isinstance(cached, auth.StaffInfo):
        return cached
    token = usable_token(connection.cookies.get(STAFF_SESSION_COOKIE))
    if token is None:
        raise NotAuthorizedException("Zaloguj się jako pracownik.")
    staff = await rpc_of(connection.app.state).call(
        auth.RESOLVE_STAFF_SESSION, auth.SessionRef(token=token)
    )
    connection.scope.setdefault("state", {})[_STAFF_STATE_KEY] = staff
    return staff


async def current_staff(request: Request[Any, Any, Any]) -> auth.StaffInfo:
    """Dependency: any logged-in staff member (roles ``care`` and ``admin``)."""
    return await staff_of(request)


def staff_roles(*roles: StaffRole) -> Guard:
    """A route guard: 401 without a staff session, 403 unless the staff member has one of ``roles``."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        staff = await staff_of(connection)
        if staff.role not in roles:
            raise PermissionDeniedException("Brak uprawnień.")

    return guard


# Guards other areas reuse: every staff role, or admins only.
any_staff = staff_roles("care", "admin")
admin_only = staff_roles("admin")


async def current_admin(request: Request[Any, Any, Any]) -> auth.StaffInfo:
    """Dependency: a logged-in admin, or 403 for other staff (401 without a staff session)."""
    staff = await staff_of(request)
    if staff.role != "admin":
        raise PermissionDeniedException("Brak uprawnień.")
    return staff


def _cookie(name: str, settings: Settings, token: str) -> Cookie:
    """R13: HttpOnly, Secure (switchable for local http), SameSite=Lax, Path=/.

    A browser-session cookie: the server enforces the idle and absolute timeouts.
    """
    return Cookie(
        key=name,
        value=token,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def session_cookie(settings: Settings, token: str, expires_at: datetime | None = None) -> Cookie:
    del expires_at
    return _cookie(SESSION_COOKIE, settings, token)


def staff_session_cookie(settings: Settings, token: str) -> Cookie:
    return _cookie(STAFF_SESSION_COOKIE, settings, token)


def clear_session_cookie(response: Response[Any], settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    del settings


def clear_staff_session_cookie(response: Response[Any]) -> None:
    response.delete_cookie(STAFF_SESSION_COOKIE, path="/")
