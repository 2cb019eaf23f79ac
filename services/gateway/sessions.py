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

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from contracts import auth
from contracts.auth import StaffRole
from runtime.settings import Settings
from services.gateway.rpc import Rpc

SESSION_COOKIE = "ibok_session"
STAFF_SESSION_COOKIE = "ibok_staff_session"
# Where a resolved staff session is kept for the rest of one request (guards, then handler).
_STAFF_STATE_KEY = "ibok_staff"


def usable_token(value: str | None) -> str | None:
    return value if value and 20 <= len(value) <= 100 else None


def client_address(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The caller's address as the HTTP server saw it (X-Forwarded-For only from trusted proxies)."""
    return (request.client.host if request.client else "")[:64]


async def current_session(request: Request[Any, Any, Any], rpc: Rpc) -> auth.SessionInfo:
    """The customer's session (cookie ``ibok_session``) or 401."""
    token = usable_token(request.cookies.get(SESSION_COOKIE))
    if token is None:
        raise NotAuthorizedException("Zaloguj się, aby kontynuować.")
    cache: SessionCache = request.app.state.session_cache
    now = time.monotonic()
    if (known := cache.get(token, now)) is not None:
        return known
    info = await cache.resolve(
        token, lambda: rpc.call(auth.RESOLVE_SESSION, auth.SessionRef(token=token))
    )
    cache.put(token, info, now)
    return info


async def staff_of(
    connection: ASGIConnection[Any, Any, Any, Any], rpc: Rpc | None = None
) -> auth.StaffInfo:
    """The staff member's session (cookie ``ibok_staff_session``) or 401, resolved once per request.

    A guard gets no dependencies, so without ``rpc`` the client comes from the app's state."""
    cached = connection.scope.get("state", {}).get(_STAFF_STATE_KEY)
    if isinstance(cached, auth.StaffInfo):
        return cached
    token = usable_token(connection.cookies.get(STAFF_SESSION_COOKIE))
    if token is None:
        raise NotAuthorizedException("Zaloguj się jako pracownik.")
    client: Rpc = rpc or connection.app.state.rpc
    staff = await client.call(auth.RESOLVE_STAFF_SESSION, auth.SessionRef(token=token))
    connection.scope.setdefault("state", {})[_STAFF_STATE_KEY] = staff
    return staff


async def current_staff(request: Request[Any, Any, Any], rpc: Rpc) -> auth.StaffInfo:
    """Dependency: any logged-in staff member (roles ``care`` and ``admin``)."""
    return await staff_of(request, rpc)


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


async def current_admin(request: Request[Any, Any, Any], rpc: Rpc) -> auth.StaffInfo:
    """Dependency: a logged-in admin, or 403 for other staff (401 without a staff session)."""
    staff = await staff_of(request, rpc)
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


class SessionCache:
    """Who a customer session belongs to, remembered for a few seconds (the invoice list and
    every other customer page would otherwise ask auth first, each time).

    Safe because every early end of a session (logout, block, password change or reset, ending
    a session from the list) makes auth announce ``auth.sessions-ended.v1`` before it answers,
    and every gateway process drops that account's entries on hearing it (``forget_account``);
    after a broker reconnect, when such an event may have been missed, the cache is cleared.
    Idle and absolute timeouts are checked by auth on each miss, so they hold to within
    ``ttl`` seconds.
    """

    def __init__(self, ttl: float, *, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, auth.SessionInfo]] = {}
        self._asking: dict[str, asyncio.Future[auth.SessionInfo]] = {}

    async def resolve(
        self, token: str, ask: Callable[[], Awaitable[auth.SessionInfo]]
    ) -> auth.SessionInfo:
        """Ask auth once for a token however many requests wait for it at that moment: when an
        entry expires under load, every request in flight with that session would otherwise
        ask at once (and auth updates the same session row for each)."""
        asking = self._asking.get(token)
        if asking is None:
            asking = self._asking[token] = asyncio.ensure_future(ask())
            asking.add_done_callback(lambda _: self._asking.pop(token, None))
        return await asyncio.shield(asking)

    def get(self, token: str, now: float) -> auth.SessionInfo | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._entries[token]
            return None
        return entry[1]

    def put(self, token: str, info: auth.SessionInfo, now: float) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self._max:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self._max:
                self._entries.clear()
        self._entries[token] = (now + self.ttl, info)

    def forget_token(self, token: str) -> None:
        self._entries.pop(token, None)

    def forget_account(self, account_id: UUID) -> None:
        for token in [t for t, (_, info) in self._entries.items() if info.account_id == account_id]:
            del self._entries[token]

    def forget_login(self, login: str) -> None:
        key = login.casefold()
        for token in [t for t, (_, info) in self._entries.items() if info.login.casefold() == key]:
            del self._entries[token]

    def clear(self) -> None:
        self._entries.clear()

    def on_sessions_ended(self, body: bytes) -> None:
        self.forget_account(auth.SessionsEnded.model_validate_json(body).account_id)
