"""The SQL of the auth service's customer side and its audit trail, as named functions over asyncpg.

Staff, their sessions and blocks are in ``staff/store.py``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

from runtime.db import execute_counted

# Functions that run one statement take a pool or a connection (inside a caller's transaction).
Db: TypeAlias = asyncpg.Connection | asyncpg.Pool

# The open block of an account, if any; whether it is still in effect is the domain's call (R5).
OPEN_BLOCK = """
    LEFT JOIN LATERAL (
        SELECT b.id AS block_id, b.blocked_until FROM blocks b
        WHERE b.account_id = a.id AND b.lifted_at IS NULL
    ) ob ON true
"""
_CONTACT = (
    "a.id, a.login, a.customer_number, a.customer_name, a.email, a.email_verified_at,"
    " a.language, a.created_at, a.phone, a.correspondence_address, a.marketing_consent,"
    " a.pending_email, a.contact_revision"
)


async def insert_account(
    conn: asyncpg.Connection,
    *,
    account_id: UUID,
    login: str,
    login_key: str,
    customer_number: str,
    customer_name: str,
    email: str,
    language: str,
    password_hash: str,
) -> None:
    await conn.execute(
        """
        INSERT INTO accounts (id, login, login_key, customer_number, customer_name, email,
                              language, password_hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        account_id,
        login,
        login_key,
        customer_number,
        customer_name,
        email,
        language,
        password_hash,
    )


# --- emailed tokens ----------------------------------------------------------------------------


async def insert_email_token(
    conn: asyncpg.Connection,
    digest: bytes,
    account_id: UUID,
    purpose: str,
    email: str,
    expires_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO email_tokens (token_digest, account_id, purpose, email, expires_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        digest,
        account_id,
        purpose,
        email,
        expires_at,
    )


async def use_email_token(
    db: Db, digest: bytes, purposes: tuple[str, ...]
) -> asyncpg.Record | None:
    """Spend a single-use token; None when it is unknown, used or expired."""
    return await db.fetchrow(
        """
        UPDATE email_tokens SET used_at = now()
        WHERE token_digest = $1 AND purpose = ANY($2::text[]) AND used_at IS NULL
          AND expires_at > now()
        RETURNING account_id, email, purpose
        """,
        digest,
        list(purposes),
    )


async def revoke_email_tokens(conn: asyncpg.Connection, account_id: UUID, purpose: str) -> None:
    """An earlier link of this kind stops working when a newer one is sent."""
    await conn.execute(
        "UPDATE email_tokens SET used_at = now()"
        " WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL",
        account_id,
        purpose,
    )


async def email_tokens_since(
    conn: asyncpg.Connection, account_id: UUID, purpose: str, since: datetime
) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM email_tokens WHERE account_id = $1 AND purpose = $2"
        " AND created_at > $3",
        account_id,
        purpose,
        since,
    )
    return int(count)


# --- accounts ----------------------------------------------------------------------------------


async def mark_email_verified(
    conn: asyncpg.Connection, account_id: UUID, email: str
) -> asyncpg.Record | None:
    """R17: the registration address is verified; the account is active (contact revision 1)."""
    return await conn.fetchrow(
        f"""
        UPDATE accounts a SET email_verified_at = now(), contact_revision = contact_revision + 1
        WHERE id = $1 AND email = $2 AND email_verified_at IS NULL
        RETURNING {_CONTACT}
        """,
        account_id,
        email,
    )


async def apply_email_change(
    conn: asyncpg.Connection, account_id: UUID, email: str
) -> asyncpg.Record | None:
    """R16: the new address, now verified, replaces the old; None if another change came since."""
    return await conn.fetchrow(
        f"""
        UPDATE accounts a SET email = pending_email, pending_email = NULL,
                              contact_revision = contact_revision + 1
        WHERE id = $1 AND pending_email = $2
        RETURNING {_CONTACT}
        """,
        account_id,
        email,
    )


async def account_by_login(db: Db, key: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""
        SELECT a.id, a.login, a.customer_number, a.email, a.language, a.password_hash,
               a.email_verified_at, ob.block_id, ob.blocked_until
        FROM accounts a {OPEN_BLOCK}
        WHERE a.login_key = $1
        """,
        key,
    )


async def account_of_customer(db: Db, customer_number: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, login, email, language FROM accounts WHERE customer_number = $1",
        customer_number,
    )


async def account_by_id(db: Db, account_id: UUID) -> asyncpg.Record | None:
    return await db.fetchrow(f"SELECT {_CONTACT} FROM accounts a WHERE a.id = $1", account_id)


async def account_for_update(conn: asyncpg.Connection, account_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_CONTACT}, a.password_hash FROM accounts a WHERE a.id = $1 FOR UPDATE",
        account_id,
    )


async def update_password_hash(db: Db, account_id: UUID, password_hash: str) -> None:
    """A rehash with new parameters (same password)."""
    await db.execute(
        "UPDATE accounts SET password_hash = $2 WHERE id = $1", account_id, password_hash
    )


async def set_password(conn: asyncpg.Connection, account_id: UUID, password_hash: str) -> None:
    """A new password (change or reset)."""
    await conn.execute(
        "UPDATE accounts SET password_hash = $2, password_changed_at = now() WHERE id = $1",
        account_id,
        password_hash,
    )


async def update_contact(
    conn: asyncpg.Connection,
    account_id: UUID,
    *,
    phone: str | None,
    correspondence_address: dict[str, Any] | None,
    marketing_consent: bool,
    pending_email: str | None,
    bump_revision: bool,
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""
        UPDATE accounts a SET phone = $2, correspondence_address = $3::jsonb,
            marketing_consent = $4, pending_email = $5,
            contact_revision = contact_revision + CASE WHEN $6 THEN 1 ELSE 0 END
        WHERE id = $1
        RETURNING {_CONTACT}
        """,
        account_id,
        phone,
        json.dumps(correspondence_address) if correspondence_address is not None else None,
        marketing_consent,
        pending_email,
        bump_revision,
    )


# --- sessions ----------------------------------------------------------------------------------


async def insert_session(
    db: Db, digest: bytes, account_id: UUID, client_address: str, user_agent: str
) -> asyncpg.Record:
    return await db.fetchrow(
        "INSERT INTO sessions (token_digest, account_id, client_address, user_agent)"
        " VALUES ($1, $2, $3, $4) RETURNING id, created_at, last_seen_at",
        digest,
        account_id,
        client_address,
        user_agent,
    )


async def session_with_account(db: Db, digest: bytes) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""
        SELECT s.id, s.account_id, s.created_at, s.last_seen_at, a.login, a.customer_number,
               ob.block_id, ob.blocked_until
        FROM sessions s JOIN accounts a ON a.id = s.account_id {OPEN_BLOCK}
        WHERE s.token_digest = $1
        """,
        digest,
    )


async def touch_session(db: Db, digest: bytes) -> None:
    await db.execute("UPDATE sessions SET last_seen_at = now() WHERE token_digest = $1", digest)


async def delete_session(db: Db, digest: bytes) -> UUID | None:
    """The account whose session this was, or None when there was none."""
    return await db.fetchval(
        "DELETE FROM sessions WHERE token_digest = $1 RETURNING account_id", digest
    )


async def delete_sessions_of_account(db: Db, account_id: UUID, *, keep: bytes | None = None) -> int:
    """End every session of the account (but ``keep``); R5 blocks and password changes use it."""
    status = await db.execute(
        "DELETE FROM sessions WHERE account_id = $1 AND token_digest IS DISTINCT FROM $2",
        account_id,
        keep,
    )
    return int(status.split()[-1])


async def live_sessions_of_account(
    db: Db,
    account_id: UUID,
    *,
    seen_since: datetime,
    created_since: datetime,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The account's sessions not yet past their timeouts, newest first (keyset by created_at, id)."""
    return await db.fetch(
        """
        SELECT id, token_digest, created_at, last_seen_at, client_address, user_agent
        FROM sessions
        WHERE account_id = $1 AND last_seen_at > $2 AND created_at > $3
          AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))
        ORDER BY created_at DESC, id DESC
        LIMIT $6
        """,
        account_id,
        seen_since,
        created_since,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def delete_session_by_id(db: Db, account_id: UUID, session_id: UUID) -> bool:
    status = await db.execute(
        "DELETE FROM sessions WHERE id = $1 AND account_id = $2", session_id, account_id
    )
    return status != "DELETE 0"


# --- captcha and throttling (R4) ---------------------------------------------------------------


# --- audit trail ------------------------------------------------------------------------------


async def audit(
    db: Db,
    action: str,
    *,
    actor_kind: str,
    actor_id: UUID | None = None,
    account_id: UUID | None = None,
    staff_id: UUID | None = None,
    client_address: str = "",
    detail: dict[str, str | int | bool | None] | None = None,
) -> None:
    await db.execute(
        """
        INSERT INTO audit_trail (action, actor_kind, actor_id, account_id, staff_id,
                                 client_address, detail)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
        """,
        action,
        actor_kind,
        actor_id,
        account_id,
        staff_id,
        client_address,
        json.dumps(detail or {}),
    )


# --- housekeeping ------------------------------------------------------------------------------


async def purge_expired(
    db: Db,
    *,
    failures_before: datetime,
    sessions_idle_before: datetime,
    sessions_created_before: datetime,
) -> dict[str, int]:
    """Delete what can no longer be used: old challenges, failures, sessions and tokens.

    (Sent outbox rows, where an emailed token's event body holds it in clear, are deleted by
    the outbox relay, as in every service: ``IBOK_OUTBOX_KEEP_HOURS``.)
    """
    statements = {
        "captcha_challenges": (
            "DELETE FROM captcha_challenges WHERE expires_at < now() - interval '1 hour'",
            (),
        ),
        "login_failures": ("DELETE FROM login_failures WHERE at < $1", (failures_before,)),
        "sessions": (
            "DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2",
            (sessions_idle_before, sessions_created_before),
        ),
        "staff_sessions": (
            "DELETE FROM staff_sessions WHERE last_seen_at < $1 OR created_at < $2",
            (sessions_idle_before, sessions_created_before),
        ),
        "email_tokens": (
            "DELETE FROM email_tokens WHERE expires_at < now() - interval '7 days'",
            (),
        ),
    }
    return await execute_counted(db, statements)


async def email_token_usable(db: Db, digest: bytes, purpose: str) -> bool:
    """Whether a token would be accepted now, without spending it (checked before slow hashing)."""
    return bool(
        await db.fetchval(
            "SELECT true FROM email_tokens WHERE token_digest = $1 AND purpose = $2"
            " AND used_at IS NULL AND expires_at > now()",
            digest,
            purpose,
        )
    )


# --- maintenance mode (R6) --------------------------------------------------------------------
