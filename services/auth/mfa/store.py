"""The SQL of the second factor: TOTP factors, recovery codes and login challenges."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from services.auth.mfa.domain import Subject
from services.auth.store import Db


def owner_column(subject: Subject) -> str:
    """The column naming the factor's owner (a fixed name, never input)."""
    return "account_id" if subject.kind == "customer" else "staff_id"


# --- factors -----------------------------------------------------------------------------------


async def factor_of(db: Db, subject: Subject, *, lock: bool = False) -> asyncpg.Record | None:
    lock_clause = " FOR UPDATE" if lock else ""
    return await db.fetchrow(
        f"SELECT id, secret, confirmed_at, last_step, demo FROM totp_factors"
        f" WHERE {owner_column(subject)} = $1{lock_clause}",
        subject.id,
    )


async def start_factor(db: Db, subject: Subject, secret: str) -> None:
    """A new, unconfirmed factor; an earlier unconfirmed one is replaced (never a confirmed one)."""
    column = owner_column(subject)
    await db.execute(
        f"""
        INSERT INTO totp_factors ({column}, secret) VALUES ($1, $2)
        ON CONFLICT ({column}) DO UPDATE SET secret = EXCLUDED.secret, created_at = now()
        WHERE totp_factors.confirmed_at IS NULL
        """,
        subject.id,
        secret,
    )


async def confirm_factor(conn: asyncpg.Connection, factor_id: UUID, step: int) -> None:
    await conn.execute(
        "UPDATE totp_factors SET confirmed_at = now(), last_step = $2 WHERE id = $1",
        factor_id,
        step,
    )


async def mark_demo(conn: asyncpg.Connection, factor_id: UUID) -> None:
    """``make run``'s demo admin: the one key ``ibok totp-code`` may show (tools/demo_totp.py)."""
    await conn.execute("UPDATE totp_factors SET demo = true WHERE id = $1", factor_id)


async def spend_step(conn: asyncpg.Connection, factor_id: UUID, step: int) -> None:
    await conn.execute("UPDATE totp_factors SET last_step = $2 WHERE id = $1", factor_id, step)


async def delete_factor(db: Db, subject: Subject) -> bool:
    deleted = await db.fetchval(
        f"DELETE FROM totp_factors WHERE {owner_column(subject)} = $1 RETURNING id", subject.id
    )
    return deleted is not None


# --- recovery codes ----------------------------------------------------------------------------


async def replace_recovery_codes(
    conn: asyncpg.Connection, factor_id: UUID, digests: list[bytes]
) -> None:
    await conn.execute("DELETE FROM recovery_codes WHERE factor_id = $1", factor_id)
    await conn.executemany(
        "INSERT INTO recovery_codes (factor_id, digest) VALUES ($1, $2)",
        [(factor_id, d) for d in digests],
    )


async def spend_recovery_code(conn: asyncpg.Connection, factor_id: UUID, digest: bytes) -> bool:
    used = await conn.fetchval(
        "UPDATE recovery_codes SET used_at = now()"
        " WHERE factor_id = $1 AND digest = $2 AND used_at IS NULL RETURNING true",
        factor_id,
        digest,
    )
    return bool(used)


async def recovery_codes_left(db: Db, factor_id: UUID) -> int:
    count = await db.fetchval(
        "SELECT count(*) FROM recovery_codes WHERE factor_id = $1 AND used_at IS NULL", factor_id
    )
    return int(count or 0)


# --- challenges --------------------------------------------------------------------------------


async def insert_challenge(
    db: Db,
    digest: bytes,
    subject: Subject,
    purpose: str,
    client_address: str,
    user_agent: str,
    expires_at: datetime,
) -> None:
    await db.execute(
        f"""
        INSERT INTO mfa_challenges (token_digest, {owner_column(subject)}, purpose,
                                    client_address, user_agent, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        digest,
        subject.id,
        purpose,
        client_address,
        user_agent,
        expires_at,
    )


async def challenge_for_update(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    """The challenge with its owner's login, locked so two codes for it never race."""
    return await conn.fetchrow(
        """
        SELECT c.account_id, c.staff_id, c.purpose, c.client_address, c.user_agent, c.attempts,
               c.expires_at, coalesce(a.login, s.login) AS login
        FROM mfa_challenges c
        LEFT JOIN accounts a ON a.id = c.account_id
        LEFT JOIN staff_users s ON s.id = c.staff_id
        WHERE c.token_digest = $1
        FOR UPDATE OF c
        """,
        digest,
    )


async def count_attempt(conn: asyncpg.Connection, digest: bytes) -> int:
    attempts = await conn.fetchval(
        "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE token_digest = $1"
        " RETURNING attempts",
        digest,
    )
    return int(attempts or 0)


async def delete_challenge(db: Db, digest: bytes) -> None:
    await db.execute("DELETE FROM mfa_challenges WHERE token_digest = $1", digest)


async def delete_challenges_of(db: Db, subject: Subject) -> None:
    await db.execute(f"DELETE FROM mfa_challenges WHERE {owner_column(subject)} = $1", subject.id)


async def purge_expired_challenges(db: Db) -> int:
    status = await db.execute("DELETE FROM mfa_challenges WHERE expires_at < now()")
    return int(status.split()[-1])


# --- the people the factors belong to ----------------------------------------------------------


async def account_password(db: Db, account_id: UUID) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT login, password_hash FROM accounts WHERE id = $1", account_id)


async def delete_staff_sessions(conn: asyncpg.Connection, staff_id: UUID) -> int:
    status = await conn.execute("DELETE FROM staff_sessions WHERE staff_id = $1", staff_id)
    return int(status.split()[-1])


async def staff_by_id(db: Db, staff_id: UUID) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, login, name, role, disabled_at FROM staff_users WHERE id = $1", staff_id
    )
