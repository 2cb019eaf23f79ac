"""One short function per staff request: staff login and sessions, staff users, blocks (R5), audit."""

from __future__ import annotations

import json
import uuid
from uuid import UUID

import asyncpg

from contracts import auth as msgs
from contracts.rpc import Empty
from runtime.clock import business_today, utc_now
from runtime.errors import Conflict, Forbidden, NotFound, Unauthorized
from runtime.logs import get_logger
from runtime.paging import decode_cursor, encode_cursor
from services.auth import domain, store
from services.auth.common_passwords import common_passwords
from services.auth.handlers import (
    Auth,
    blocked_now,
    checked_credentials,
    session_ended,
    sessions_ended,
)
from services.auth.mfa import guard as mfa_guard
from services.auth.mfa.domain import Subject
from services.auth.staff import store as staff_store

log = get_logger(__name__)


async def require_role(a: Auth, actor_id: UUID, *roles: str) -> None:
    """The gateway checks roles; auth checks again, so no other caller can skip the check."""
    role = await staff_store.active_staff_role(a.rt.pool, actor_id)
    if role is None:
        raise Unauthorized("session_invalid", "Zaloguj się ponownie.", detail_en="Log in again.")
    if role not in roles:
        raise Forbidden("forbidden", "Brak uprawnień.", detail_en="Not allowed.")


def no_such_account() -> NotFound:
    return NotFound("account_not_found", "Nie ma takiego konta.", detail_en="No such account.")


# --- staff login and sessions ------------------------------------------------------------------


async def staff_log_in(a: Auth, cmd: msgs.StaffLogIn) -> msgs.StaffSessionOpened:
    """Staff log in like customers (R4 guard), against their own accounts and sessions."""
    address = cmd.client_address
    user = await checked_credentials(
        a, "staff", cmd, staff_store.staff_by_login, staff_store.update_staff_password_hash
    )
    # Staff never get a session on a password alone: the second factor (or its enrolment) first.
    raise await mfa_guard.staff_second_factor(
        a, Subject("staff", user["id"]), user["login"], address, cmd.user_agent
    )


async def open_staff_session(
    a: Auth,
    conn: asyncpg.Connection,
    user: asyncpg.Record,
    address: str,
    user_agent: str,
    **detail: str,
) -> msgs.StaffSessionOpened:
    """A staff session, only ever after the second factor (services/auth/mfa/handlers.py)."""
    token = domain.new_token()
    row = await staff_store.insert_staff_session(
        conn, domain.token_digest(token), user["id"], address, user_agent
    )
    await store.audit(
        conn,
        "staff_login",
        actor_kind="staff",
        actor_id=user["id"],
        staff_id=user["id"],
        client_address=address,
        detail=domain.audit_detail(**detail) if detail else None,
    )
    log.info("staff_session.opened", staff_id=str(user["id"]))
    return msgs.StaffSessionOpened(
        token=token,
        staff_id=user["id"],
        login=user["login"],
        role=user["role"],
        expires_at=a.expires_at(row),
    )


async def resolve_staff_session(a: Auth, ref: msgs.SessionRef) -> msgs.StaffInfo:
    """Only staff sessions: a customer's token is unknown here (and the reverse in resolve_session)."""
    digest = domain.token_digest(ref.token)
    row = await staff_store.staff_session_with_user(a.rt.pool, digest)
    if row is None:
        raise session_ended()
    times = domain.SessionTimes(row["created_at"], row["last_seen_at"])
    expired = domain.session_expired(times, utc_now(), idle=a.idle, absolute=a.absolute)
    if expired or row["disabled_at"] is not None:
        await staff_store.delete_staff_session(a.rt.pool, digest)
        raise session_ended()
    await staff_store.touch_staff_session(a.rt.pool, digest)
    return msgs.StaffInfo(
        staff_id=row["staff_id"], login=row["login"], name=row["name"], role=row["role"]
    )


async def staff_log_out(a: Auth, ref: msgs.SessionRef) -> Empty:
    async with a.rt.unit_of_work() as uow:
        ended = await staff_store.delete_staff_session(uow.conn, domain.token_digest(ref.token))
        if ended is not None:
            await store.audit(
                uow.conn,
                "staff_logout",
                actor_kind="staff",
                actor_id=ended["staff_id"],
                staff_id=ended["staff_id"],
                client_address=ended["client_address"],
            )
    return Empty()


# --- staff users (admin) -----------------------------------------------------------------------


def staff_user_of(row: asyncpg.Record) -> msgs.StaffUser:
    return msgs.StaffUser(
        id=row["id"],
        login=row["login"],
        name=row["name"],
        role=row["role"],
        created_at=row["created_at"],
        active=row["disabled_at"] is None,
    )


async def create_staff_user(a: Auth, cmd: msgs.CreateStaffUser) -> msgs.StaffUser:
    await require_role(a, cmd.actor_id, "admin")
    domain.check_staff_password_policy(cmd.password)
    domain.check_password_not_guessable(cmd.password, cmd.login, None, common_passwords())
    password_hash = await a.passwords.hash(cmd.password)
    staff_id = uuid.uuid4()
    try:
        async with a.rt.unit_of_work() as uow:
            row = await staff_store.insert_staff_user(
                uow.conn,
                staff_id=staff_id,
                login=cmd.login,
                login_key=domain.login_key(cmd.login),
                name=cmd.name,
                role=cmd.role,
                password_hash=password_hash,
                created_by=cmd.actor_id,
            )
            await store.audit(
                uow.conn,
                "staff_created",
                actor_kind="staff",
                actor_id=cmd.actor_id,
                staff_id=staff_id,
                client_address=cmd.client_address,
                detail=domain.audit_detail(login=cmd.login, role=cmd.role),
            )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(
            "login_taken", "Ten login jest już zajęty.", detail_en="This login is taken."
        ) from exc
    return staff_user_of(row)


async def staff_users(a: Auth, query: msgs.StaffUsersQuery) -> msgs.StaffUsersPage:
    await require_role(a, query.actor_id, "admin")
    key = decode_cursor(query.cursor)
    rows = await staff_store.staff_users_page(
        a.rt.pool, after=str(key[0]) if key else None, limit=query.limit + 1
    )
    last = rows[query.limit - 1] if len(rows) > query.limit else None
    return msgs.StaffUsersPage(
        items=[staff_user_of(row) for row in rows[: query.limit]],
        next_cursor=encode_cursor(last["login_key"]) if last else None,
    )


# --- blocks (R5) -------------------------------------------------------------------------------


async def block_account(a: Auth, cmd: msgs.BlockAccount) -> msgs.AccountBlock:
    """R5: after the identity check (kind recorded, number never stored); every session ends now."""
    await require_role(a, cmd.actor_id, "care", "admin")
    today = business_today()
    domain.check_block_request(cmd.until, cmd.permanent, cmd.identity_verified, today)
    async with a.rt.unit_of_work() as uow:
        account = await staff_store.account_for_block(uow.conn, domain.login_key(cmd.login))
        if account is None:
            raise no_such_account()
        replaced = account["block_id"] is not None
        if replaced:
            # A new block replaces the open one (or one that has lifted itself by its date).
            await staff_store.lift_block(uow.conn, account["block_id"], cmd.actor_id, "replaced")
        row = await staff_store.insert_block(
            uow.conn,
            block_id=uuid.uuid4(),
            account_id=account["id"],
            reason=cmd.reason,
            blocked_until=cmd.until,
            identity_check=cmd.identity_check_used,
            blocked_by=cmd.actor_id,
        )
        ended = await store.delete_sessions_of_account(uow.conn, account["id"])
        await store.audit(
            uow.conn,
            "account_blocked",
            actor_kind="staff",
            actor_id=cmd.actor_id,
            account_id=account["id"],
            client_address=cmd.client_address,
            detail=domain.audit_detail(
                reason=cmd.reason,
                until=cmd.until.isoformat() if cmd.until else "permanent",
                identity_check=cmd.identity_check_used,
                identity_verified=True,
                sessions_ended=ended,
                replaced_open_block=replaced,
            ),
        )
    await sessions_ended(a, account["id"], "blocked")
    log.info("account.blocked", account_id=str(account["id"]), sessions_ended=ended)
    return msgs.AccountBlock(
        login=account["login"],
        blocked=True,
        until=cmd.until,
        permanent=cmd.until is None,
        reason=cmd.reason,
        identity_check_used=cmd.identity_check_used,
        blocked_at=row["blocked_at"],
    )


async def unblock_account(a: Auth, cmd: msgs.UnblockAccount) -> msgs.AccountBlock:
    await require_role(a, cmd.actor_id, "care", "admin")
    async with a.rt.unit_of_work() as uow:
        account = await staff_store.account_for_block(uow.conn, domain.login_key(cmd.login))
        if account is None:
            raise no_such_account()
        if account["block_id"] is None or not domain.block_in_effect(
            account["blocked_until"], business_today()
        ):
            raise Conflict(
                "not_blocked",
                "To konto nie jest zastrzeżone.",
                detail_en="The account is not blocked.",
            )
        await staff_store.lift_block(uow.conn, account["block_id"], cmd.actor_id, cmd.reason)
        await store.audit(
            uow.conn,
            "account_unblocked",
            actor_kind="staff",
            actor_id=cmd.actor_id,
            account_id=account["id"],
            client_address=cmd.client_address,
            detail=domain.audit_detail(reason=cmd.reason or None),
        )
    return msgs.AccountBlock(login=account["login"], blocked=False)


# --- audit trail -------------------------------------------------------------------------------


async def account_audit(a: Auth, query: msgs.AccountAuditQuery) -> msgs.AuditPage:
    """Staff read an account's trail, newest first."""
    await require_role(a, query.actor_id, "care", "admin")
    account_id = await staff_store.account_id_by_login(a.rt.pool, domain.login_key(query.login))
    if account_id is None:
        raise no_such_account()
    key = decode_cursor(query.cursor)
    before = int(key[0]) if key and isinstance(key[0], int) else None
    rows = await staff_store.audit_of_account(
        a.rt.pool, account_id, before_id=before, limit=query.limit + 1
    )
    items = [
        msgs.AuditEntry(
            id=row["id"],
            at=row["at"],
            action=row["action"],
            actor_kind=row["actor_kind"],
            actor_id=row["actor_id"],
            actor_login=row["actor_login"],
            client_address=row["client_address"],
            detail=json.loads(row["detail"]),
        )
        for row in rows[: query.limit]
    ]
    last = rows[query.limit - 1] if len(rows) > query.limit else None
    return msgs.AuditPage(items=items, next_cursor=encode_cursor(last["id"]) if last else None)


async def accounts_of_customers(
    a: Auth, query: msgs.AccountsOfCustomersQuery
) -> msgs.AccountsOfCustomers:
    """For staff views: each customer's login and account status; nothing secret."""
    rows = await staff_store.accounts_of_customers(a.rt.pool, query.customer_numbers)
    accounts = []
    for row in rows:
        blocked = blocked_now(row)
        accounts.append(
            msgs.CustomerAccount(
                customer_number=row["customer_number"],
                login=row["login"],
                status=domain.account_status(row["email_verified_at"] is not None, blocked),
                blocked_until=row["blocked_until"] if blocked else None,
                email_verified=row["email_verified_at"] is not None,
            )
        )
    return msgs.AccountsOfCustomers(accounts=accounts)
