"""The SQL of the notify service, as named functions over asyncpg."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import asyncpg

from services.notify.domain import RenderedEmail


@dataclass(frozen=True)
class Email:
    id: UUID
    recipient: str
    subject: str
    body_text: str
    body_html: str
    template: str
    attempts: int


async def queue_email(
    conn: asyncpg.Connection, email_id: UUID, recipient: str, template: str, email: RenderedEmail
) -> None:
    await conn.execute(
        "INSERT INTO emails (id, recipient, subject, body_text, body_html, template)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        email_id,
        recipient,
        email.subject,
        email.text,
        email.html,
        template,
    )


async def claim_due_emails(
    pool: asyncpg.Pool, limit: int, lease: timedelta = timedelta(minutes=2)
) -> list[Email]:
    """Take due emails for ``lease``; another sender skips them meanwhile."""
    rows = await pool.fetch(
        """
        UPDATE emails SET next_attempt_at = now() + $2::interval
        WHERE id IN (
            SELECT id FROM emails WHERE status = 'pending' AND next_attempt_at <= now()
            ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id, recipient, subject, body_text, body_html, template, attempts
        """,
        limit,
        lease,
    )
    return [Email(**dict(r)) for r in rows]


async def record_sent(pool: asyncpg.Pool, email_id: UUID, attempt: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE emails SET status = 'sent', attempts = $2, sent_at = now() WHERE id = $1",
            email_id,
            attempt,
        )
        await conn.execute(
            "INSERT INTO email_deliveries (email_id, attempt, outcome, smtp_code) VALUES ($1, $2, 'sent', 250)",
            email_id,
            attempt,
        )


async def record_retry(
    pool: asyncpg.Pool,
    email_id: UUID,
    attempt: int,
    code: int | None,
    detail: str,
    delay: timedelta,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE emails SET attempts = $2, next_attempt_at = now() + $3::interval WHERE id = $1",
            email_id,
            attempt,
            delay,
        )
        await conn.execute(
            "INSERT INTO email_deliveries (email_id, attempt, outcome, smtp_code, detail)"
            " VALUES ($1, $2, 'retry', $3, $4)",
            email_id,
            attempt,
            code,
            detail[:500],
        )


async def record_failure(
    pool: asyncpg.Pool, email_id: UUID, attempt: int, code: int | None, detail: str
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE emails SET status = 'failed', attempts = $2 WHERE id = $1", email_id, attempt
        )
        await conn.execute(
            "INSERT INTO email_deliveries (email_id, attempt, outcome, smtp_code, detail)"
            " VALUES ($1, $2, 'failed', $3, $4)",
            email_id,
            attempt,
            code,
            detail[:500],
        )
