"""The SQL of staff accounts, staff sessions, blocks (R5) and reading the audit trail."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from services.auth.store import OPEN_BLOCK, Db

# --- staff users -------------------------------------------------------------------------------


async def insert_staff_user(
    db: Db,
    *,
    staff_id: UUID,
    login: str,
    login_key: str,
    name: str,
    role: str,
    password_hash: str,
    created_by: UUID | None,
) -> asyncpg.Record:
    return await db.fetchrow(
        """
        INSERT INTO staff_users (id, login, login_key, name, role, password_hash, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING id, login, name, role, created_at, disabled_at
        """,
        staff_id,
        login,
        login_key,
        name,
        role,
        password_hash,
        created_by,
    )


async def staff_by_login(db: Db, key: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, login, name, role, password_hash, disabled_at FROM staff_users"
        " WHERE login_key = $1",
        key,
    )


async def active_staff_role(db: Db, staff_id: UUID) -> str | None:
    role = await db.fetchval(
        "SELECT role FROM staff_users WHERE id = $1 AND disabled_at IS NULL", staff_id
    )
    return str(role) if role is not None else None


async def update_staff_password_hash(db: Db, staff_id: UUID, password_hash: str) -> None:
    await db.execute(
        "UPDATE staff_users SET password_hash = $2 WHERE id = $1", staff_id, password_hash
    )


async def staff_users_page(db: Db, *, after: str | None, limit: int) -> list[asyncpg.Record]:
    return await db.fetch(
        """
        SELECT id, login, login_key, name, role, created_at, disabled_at FROM staff_users
        WHERE $1::text IS NULL OR login_key > $1
        ORDER BY login_key LIMIT $2
        """,
        after,
        limit,
    )


# --- staff sessions ----------------------------------------------------------------------------


async def insert_staff_session(
    db: Db, digest: bytes, staff_id: UUID, client_address: str, user_agent: str
) -> asyncpg.Record:
    return await db.fetchrow(
        "INSERT INTO staff_sessions (token_digest, staff_id, client_address, user_agent)"
        " VALUES ($1, $2, $3, $4) RETURNING id, created_at, last_seen_at",
        digest,
        staff_id,
        client_address,
        user_agent,
    )


async def staff_session_with_user(db: Db, digest: bytes) -> asyncpg.Record | None:
    return await db.fetchrow(
        """
        SELECT s.staff_id, s.created_at, s.last_seen_at, u.login, u.name, u.role, u.disabled_at
        FROM staff_sessions s JOIN staff_users u ON u.id = s.staff_id
        WHERE s.token_digest = $1
        """,
        digest,
    )


async def touch_staff_session(db: Db, digest: bytes) -> None:
    await db.execute(
        "UPDATE staff_sessions SET last_seen_at = now() WHERE token_digest = $1", digest
    )


async def delete_staff_session(db: Db, digest: bytes) -> asyncpg.Record | None:
    return await db.fetchrow(
        "DELETE FROM staff_sessions WHERE token_digest = $1 RETURNING staff_id, client_address",
        digest,
    )


# --- blocks (R5) -------------------------------------------------------------------------------


async def account_for_block(conn: asyncpg.Connection, login_key: str) -> asyncpg.Record | None:
    """The account and its open block, locked so two staff members never race on one account."""
    return await conn.fetchrow(
        """
        SELECT a.id, a.login, b.id AS block_id, b.blocked_until, b.reason, b.identity_check,
               b.blocked_at
        FROM accounts a LEFT JOIN blocks b ON b.account_id = a.id AND b.lifted_at IS NULL
        WHERE a.login_key = $1
        FOR UPDATE OF a
        """,
        login_key,
    )


async def lift_block(
    conn: asyncpg.Connection, block_id: UUID, lifted_by: UUID | None, reason: str
) -> None:
    await conn.execute(
        "UPDATE blocks SET lifted_at = now(), lifted_by = $2, lift_reason = $3 WHERE id = $1",
        block_id,
        lifted_by,
        reason,
    )


async def insert_block(
    conn: asyncpg.Connection,
    *,
    block_id: UUID,
    account_id: UUID,
    reason: str,
    blocked_until: date | None,
    identity_check: str,
    blocked_by: UUID,
) -> asyncpg.Record:
    return await conn.fetchrow(
        """
        INSERT INTO blocks (id, account_id, reason, blocked_until, identity_check,
                            identity_verified, blocked_by)
        VALUES ($1, $2, $3, $4, $5, true, $6)
        RETURNING blocked_at
        """,
        block_id,
        account_id,
        reason,
        blocked_until,
        identity_check,
        blocked_by,
    )


# --- audit trail -------------------------------------------------------------------------------


async def account_id_by_login(db: Db, login_key: str) -> UUID | None:
    value = await db.fetchval("SELECT id FROM accounts WHERE login_key = $1", login_key)
    return value if isinstance(value, UUID) else None


async def audit_of_account(
    db: Db, account_id: UUID, *, before_id: int | None, limit: int
) -> list[asyncpg.Record]:
    """Newest first; the actor's login is resolved for staff and for the customer."""
    return await db.fetch(
        """
        SELECT t.id, t.at, t.action, t.actor_kind, t.actor_id, t.client_address, t.detail,
               coalesce(su.login, ac.login) AS actor_login
        FROM audit_trail t
        LEFT JOIN staff_users su ON t.actor_kind = 'staff' AND su.id = t.actor_id
        LEFT JOIN accounts ac ON t.actor_kind = 'customer' AND ac.id = t.actor_id
        WHERE t.account_id = $1 AND ($2::bigint IS NULL OR t.id < $2)
        ORDER BY t.id DESC LIMIT $3
        """,
        account_id,
        before_id,
        limit,
    )


def blocked_until_of(row: asyncpg.Record) -> tuple[bool, date | None]:
    """(has an open block, its last day) from a row joined with the open block."""
    return row["block_id"] is not None, row["blocked_until"]


async def accounts_of_customers(db: Db, customer_numbers: list[str]) -> list[asyncpg.Record]:
    return await db.fetch(
        f"""
        SELECT a.customer_number, a.login, a.email_verified_at, ob.block_id, ob.blocked_until
        FROM accounts a {OPEN_BLOCK}
        WHERE a.customer_number = ANY($1::text[])
        ORDER BY a.customer_number
        """,
        customer_numbers,
    )
