"""The demo admin's second factor for ``make run``: a key confirmed at once, and its current code.

Only for a key ``make run`` made (marked ``demo``): every other staff member enrols at the first
login, and no command prints their key or code.
"""

from __future__ import annotations

from datetime import UTC, datetime

from runtime import db
from runtime.settings import Settings
from services.auth import domain as auth_domain
from services.auth.mfa import domain, store
from services.auth.mfa.domain import Subject
from services.auth.staff import store as staff_store


class NotForDeployment(Exception):
    """Asked for a login whose key is not the demo's."""


async def ensure_demo_totp(settings: Settings, login: str) -> str | None:
    """The demo key of the staff member, made and confirmed now when there is no factor;
    None when the member enrolled a factor of their own (never printed)."""
    pool = await db.create_pool(settings.postgres_dsn, "auth", min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            user = await staff_store.staff_by_login(conn, auth_domain.login_key(login))
            if user is None:
                raise NotForDeployment(f"no staff user {login!r}")
            subject = Subject("staff", user["id"])
            factor = await store.factor_of(conn, subject, lock=True)
            if factor is not None and factor["confirmed_at"] is not None:
                return str(factor["secret"]) if factor["demo"] else None
            await store.start_factor(conn, subject, domain.new_totp_secret())
            factor = await store.factor_of(conn, subject)
            assert factor is not None
            await store.confirm_factor(conn, factor["id"], 0)
            await store.mark_demo(conn, factor["id"])
            return str(factor["secret"])
    finally:
        await pool.close()


async def current_code(settings: Settings, login: str) -> tuple[str, int]:
    """The code an authenticator app would show now for the staff member, and its seconds left."""
    pool = await db.create_pool(settings.postgres_dsn, "auth", min_size=1, max_size=1)
    try:
        user = await staff_store.staff_by_login(pool, auth_domain.login_key(login))
        factor = None if user is None else await store.factor_of(pool, Subject("staff", user["id"]))
    finally:
        await pool.close()
    if factor is None or not factor["demo"]:
        raise NotForDeployment(f"{login!r} has no demo key: staff enrol at their first login")
    now = datetime.now(UTC)
    left = domain.STEP_SECONDS - int(now.timestamp()) % domain.STEP_SECONDS
    return domain.totp_code(factor["secret"], now), left
