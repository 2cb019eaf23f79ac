"""The SQL of the auth service, as named functions over asyncpg."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg


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
    conn: asyncpg.Connection, digest: bytes, purpose: str
) -> asyncpg.Record | None:
    """Spend a single-use token; None when it is unknown, used or expired."""
    return await conn.fetchrow(
        """
        UPDATE email_tokens SET used_at = now()
        WHERE token_digest = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
        RETURNING account_id, email
        """,
        digest,
        purpose,
    )


async def mark_email_verified(
    conn: asyncpg.Connection, account_id: UUID, email: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE accounts SET email_verified_at = coalesce(email_verified_at, now())"
        " WHERE id = $1 AND email = $2 RETURNING id, login, customer_number",
        account_id,
        email,
    )


async def account_by_login(pool: asyncpg.Pool, key: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT id, login, password_hash, email_verified_at FROM accounts WHERE login_key = $1", key
    )


async def account_by_id(pool: asyncpg.Pool, account_id: UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT id, login, customer_number, customer_name, email, email_verified_at, language,"
        " created_at FROM accounts WHERE id = $1",
        account_id,
    )


async def update_password_hash(pool: asyncpg.Pool, account_id: UUID, password_hash: str) -> None:
    await pool.execute(
        "UPDATE accounts SET password_hash = $2 WHERE id = $1", account_id, password_hash
    )


async def insert_session(
    pool: asyncpg.Pool, digest: bytes, account_id: UUID, client_address: str, user_agent: str
) -> asyncpg.Record:
    return await pool.fetchrow(
        "INSERT INTO sessions (token_digest, account_id, client_address, user_agent)"
        " VALUES ($1, $2, $3, $4) RETURNING created_at, last_seen_at",
        digest,
        account_id,
        client_address,
        user_agent,
    )


async def session_with_account(pool: asyncpg.Pool, digest: bytes) -> asyncpg.Record | None:
    return await pool.fetchrow(
        """
        SELECT s.account_id, s.created_at, s.last_seen_at, a.login, a.customer_number
        FROM sessions s JOIN accounts a ON a.id = s.account_id
        WHERE s.token_digest = $1
        """,
        digest,
    )


async def touch_session(pool: asyncpg.Pool, digest: bytes) -> None:
    await pool.execute("UPDATE sessions SET last_seen_at = now() WHERE token_digest = $1", digest)


async def delete_session(pool: asyncpg.Pool, digest: bytes) -> None:
    await pool.execute("DELETE FROM sessions WHERE token_digest = $1", digest)
