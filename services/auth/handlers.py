"""One short function per customer request: login and sessions.

Registration and email verification are in registration/handlers.py, passwords in
password_handlers.py, contact data in contact_handlers.py, staff in staff/handlers.py; the
dependencies and helpers they share are here.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from contracts import auth as msgs
from contracts import topology
from contracts.billing_system import ContactDataChanged
from contracts.rpc import Empty
from runtime.clock import business_today, utc_now
from runtime.errors import DomainError, NotFound, Unauthorized
from runtime.logs import get_logger
from runtime.paging import cursor_key, encode_cursor
from runtime.rpc_client import RpcClient
from runtime.service import ServiceRuntime
from runtime.unit_of_work import UnitOfWork
from services.auth import domain, store, views
from services.auth.guard.handlers import LoginGuard, Scope
from services.auth.mfa import guard as mfa_guard
from services.auth.mfa.domain import Subject
from services.auth.passwords import Passwords

log = get_logger(__name__)

SESSION_ENDED = "Sesja wygasła. Zaloguj się ponownie."
SESSION_ENDED_EN = "The session has ended. Log in again."


@dataclass
class Auth:
    """The auth service's dependencies, wired once in app.py."""

    rt: ServiceRuntime
    passwords: Passwords
    rpc: RpcClient
    guard: LoginGuard

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.rt.settings.session_idle_minutes)

    @property
    def absolute(self) -> timedelta:
        return timedelta(hours=self.rt.settings.session_absolute_hours)

    def expires_at(self, session: asyncpg.Record) -> datetime:
        """When ``session`` ends unless used again (R13)."""
        times = domain.SessionTimes(session["created_at"], session["last_seen_at"])
        return domain.session_expires_at(times, idle=self.idle, absolute=self.absolute)


def session_ended() -> Unauthorized:
    return Unauthorized("session_invalid", SESSION_ENDED, detail_en=SESSION_ENDED_EN)


def token_invalid() -> DomainError:
    return DomainError(
        "token_invalid",
        "Link jest nieprawidłowy albo wygasł.",
        detail_en="The link is invalid or has expired.",
        status=422,
    )


def emit_contact(uow: UnitOfWork, row: asyncpg.Record) -> None:
    """R15, R16: the verified contact data as it is now, to notify and to the billing system."""
    uow.emit(
        topology.EVENTS_EXCHANGE,
        msgs.CustomerContactChanged(
            account_id=row["id"],
            customer_number=row["customer_number"],
            login=row["login"],
            email=row["email"],
            phone=row["phone"],
            language=row["language"],
            marketing_consent=row["marketing_consent"],
            revision=row["contact_revision"],
        ),
    )
    uow.emit(
        topology.IBOK_OUT_EXCHANGE,
        ContactDataChanged(
            customer_number=row["customer_number"],
            email=row["email"],
            phone=row["phone"],
            correspondence_address=views.address_of(row),
            marketing_consent=row["marketing_consent"],
        ),
    )


def blocked_now(row: asyncpg.Record) -> bool:
    return row["block_id"] is not None and domain.block_in_effect(
        row["blocked_until"], business_today()
    )


# --- login and sessions ------------------------------------------------------------------------


async def new_captcha(a: Auth, request: msgs.CaptchaRequest) -> msgs.CaptchaChallenge:
    return await a.guard.new_challenge(request)


async def log_in(a: Auth, cmd: msgs.LogIn) -> msgs.SessionOpened:
    """R4, R5, R13: captcha and throttling first; one answer for an unknown login and a wrong
    password (a dummy hash is verified for an unknown login, so both take as long); blocked
    only after a correct password; a new session id."""
    address = cmd.client_address
    account = await checked_credentials(
        a, "customer", cmd, store.account_by_login, store.update_password_hash
    )
    if blocked_now(account):
        await store.audit(
            a.rt.pool,
            "login_refused_blocked",
            actor_kind="customer",
            actor_id=account["id"],
            account_id=account["id"],
            client_address=address,
        )
        raise domain.account_blocked_error(account["blocked_until"])
    if account["email_verified_at"] is None:
        raise DomainError(
            "email_not_verified",
            "Najpierw potwierdź adres e-mail.",
            detail_en="Confirm your email address first.",
            status=403,
        )
    # An enrolled second factor: no session yet, a challenge for POST /auth/mfa instead.
    await mfa_guard.demand_second_factor(
        a, Subject("customer", account["id"]), address, cmd.user_agent
    )
    async with a.rt.unit_of_work() as uow:
        return await open_session(a, uow.conn, account["id"], address, cmd.user_agent)


async def open_session(
    a: Auth,
    conn: asyncpg.Connection,
    account_id: uuid.UUID,
    address: str,
    user_agent: str,
    **detail: str,
) -> msgs.SessionOpened:
    """R13: a new session id, in the caller's unit of work, with the login in the audit trail."""
    token = domain.new_token()
    row = await store.insert_session(
        conn, domain.token_digest(token), account_id, address, user_agent
    )
    await store.audit(
        conn,
        "login",
        actor_kind="customer",
        actor_id=account_id,
        account_id=account_id,
        client_address=address,
        detail=domain.audit_detail(session=str(row["id"]), **detail),
    )
    log.info("session.opened", account_id=str(account_id))
    return msgs.SessionOpened(token=token, account_id=account_id, expires_at=a.expires_at(row))


async def checked_credentials(
    a: Auth,
    scope: Scope,
    cmd: msgs.LogIn | msgs.StaffLogIn,
    find: Callable[[asyncpg.Pool, str], Awaitable[asyncpg.Record | None]],
    save_hash: Callable[[asyncpg.Pool, uuid.UUID, str], Awaitable[None]],
) -> asyncpg.Record:
    """R4: throttling and the captcha first, then the password; the same refusal for an unknown
    login, a wrong password and (staff) a disabled user, which counts as a failure. A hash made
    with older parameters is replaced on success."""
    key, address = domain.login_key(cmd.login), cmd.client_address
    await a.guard.check_throttle(scope, key, address)
    email_code = cmd.email_code if isinstance(cmd, msgs.LogIn) else None
    await a.guard.check_captcha(scope, key, address, cmd.captcha_id, cmd.captcha_answer, email_code)
    row = await find(a.rt.pool, key)
    ok = await a.passwords.verify(row["password_hash"] if row else None, cmd.password)
    if not (row and ok and row.get("disabled_at") is None):
        who = {"account_id" if scope == "customer" else "staff_id": row["id"] if row else None}
        raise await a.guard.refuse(scope, key, address, **who)
    await a.guard.release(scope, key)
    if new_hash := await a.passwords.rehashed(row["password_hash"], cmd.password):
        await save_hash(a.rt.pool, row["id"], new_hash)
    return row


async def live_session(a: Auth, digest: bytes) -> asyncpg.Record:
    """The session and its account, or 401 when unknown, past a timeout (R13) or blocked (R5)."""
    row = await store.session_with_account(a.rt.pool, digest)
    if row is None:
        raise session_ended()
    times = domain.SessionTimes(row["created_at"], row["last_seen_at"])
    if domain.session_expired(times, utc_now(), idle=a.idle, absolute=a.absolute) or blocked_now(
        row
    ):
        await store.delete_session(a.rt.pool, digest)
        raise session_ended()
    return row


async def resolve_session(a: Auth, ref: msgs.SessionRef) -> msgs.SessionInfo:
    digest = domain.token_digest(ref.token)
    row = await live_session(a, digest)
    await store.touch_session(a.rt.pool, digest)
    return msgs.SessionInfo(
        account_id=row["account_id"], login=row["login"], customer_number=row["customer_number"]
    )


async def log_out(a: Auth, ref: msgs.SessionRef) -> Empty:
    account_id = await store.delete_session(a.rt.pool, domain.token_digest(ref.token))
    if account_id is not None:
        await sessions_ended(a, account_id, "logout")
    return Empty()


async def sessions_ended(a: Auth, account_id: uuid.UUID, reason: str) -> None:
    """Tell every gateway to forget the account's cached sessions before we answer (R13, R5)."""
    await a.rt.announce(
        topology.EVENTS_EXCHANGE, msgs.SessionsEnded(account_id=account_id, reason=reason)
    )


async def sessions(a: Auth, query: msgs.SessionsQuery) -> msgs.SessionsPage:
    """R13: the customer's live sessions, newest first; ids are not tokens."""
    after = session_cursor(query.cursor)
    now = utc_now()
    rows = await store.live_sessions_of_account(
        a.rt.pool,
        query.account_id,
        seen_since=now - a.idle,
        created_since=now - a.absolute,
        after=after,
        limit=query.limit + 1,
    )
    current = domain.token_digest(query.current_token) if query.current_token else None
    items = [
        msgs.SessionSummary(
            id=row["id"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            expires_at=a.expires_at(row),
            client_address=row["client_address"],
            user_agent=row["user_agent"],
            current=bytes(row["token_digest"]) == current,
        )
        for row in rows[: query.limit]
    ]
    last = rows[query.limit - 1] if len(rows) > query.limit else None
    return msgs.SessionsPage(
        items=items,
        next_cursor=encode_cursor(last["created_at"].isoformat(), str(last["id"]))
        if last
        else None,
    )


def session_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    return cursor_key(cursor, datetime.fromisoformat, uuid.UUID)  # type: ignore[return-value]


async def end_session(a: Auth, cmd: msgs.EndSession) -> Empty:
    """R13: the customer ends one of their own sessions; another account's id is not found."""
    async with a.rt.unit_of_work() as uow:
        if not await store.delete_session_by_id(uow.conn, cmd.account_id, cmd.session_id):
            raise NotFound(
                "session_not_found", "Nie ma takiej sesji.", detail_en="No such session."
            )
        await store.audit(
            uow.conn,
            "session_ended",
            actor_kind="customer",
            actor_id=cmd.account_id,
            account_id=cmd.account_id,
            client_address=cmd.client_address,
            detail=domain.audit_detail(session=str(cmd.session_id)),
        )
    await sessions_ended(a, cmd.account_id, "session_ended")
    return Empty()
