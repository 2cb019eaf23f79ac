"""The SQL of the login guard (R4, R5): captcha challenges, demands and failed attempts."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from services.auth.store import Db


async def insert_captcha(db: Db, challenge_id: UUID, digest: bytes, expires_at: datetime) -> None:
    await db.execute(
        "INSERT INTO captcha_challenges (id, answer_digest, expires_at) VALUES ($1, $2, $3)",
        challenge_id,
        digest,
        expires_at,
    )


async def spend_captcha(db: Db, challenge_id: UUID) -> bytes | None:
    """Single use: the first attempt spends the challenge, right or wrong; None if unusable."""
    value = await db.fetchval(
        """
        UPDATE captcha_challenges SET used_at = now()
        WHERE id = $1 AND used_at IS NULL AND expires_at > now()
        RETURNING answer_digest
        """,
        challenge_id,
    )
    return bytes(value) if value is not None else None


async def failure_windows(
    db: Db,
    scope: str,
    login_key: str,
    client_address: str,
    *,
    since: datetime,
    login_limit: int,
    address_limit: int,
) -> asyncpg.Record:
    """Wrong passwords for this login and failures of any kind from this address, since ``since``."""
    return await db.fetchrow(
        """
        SELECT
          (SELECT count(*) FROM login_failures
            WHERE scope = $1 AND login_key = $2 AND kind = 'password' AND at > $4) AS login_count,
          (SELECT at FROM login_failures
            WHERE scope = $1 AND login_key = $2 AND kind = 'password' AND at > $4
            ORDER BY at DESC OFFSET $5 - 1 LIMIT 1) AS login_nth,
          (SELECT count(*) FROM login_failures
            WHERE client_address = $3 AND at > $4) AS address_count,
          (SELECT at FROM login_failures WHERE client_address = $3 AND at > $4
            ORDER BY at DESC OFFSET $6 - 1 LIMIT 1) AS address_nth
        """,
        scope,
        login_key,
        client_address,
        since,
        login_limit,
        address_limit,
    )


async def record_failure(
    db: Db, scope: str, login_key: str, client_address: str, kind: str
) -> None:
    await db.execute(
        "INSERT INTO login_failures (scope, login_key, client_address, kind)"
        " VALUES ($1, $2, $3, $4)",
        scope,
        login_key,
        client_address,
        kind,
    )


async def captcha_required(db: Db, scope: str, login_key: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT true FROM login_guards WHERE scope = $1 AND login_key = $2", scope, login_key
        )
    )


async def require_captcha(db: Db, scope: str, login_key: str) -> bool:
    """Demand a captcha at the next attempt; True when it was not demanded already."""
    return bool(
        await db.fetchval(
            "INSERT INTO login_guards (scope, login_key) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING true",
            scope,
            login_key,
        )
    )


async def release_captcha(db: Db, scope: str, login_key: str) -> None:
    await db.execute(
        "DELETE FROM login_guards WHERE scope = $1 AND login_key = $2", scope, login_key
    )
