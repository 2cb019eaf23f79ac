"""The SQL of the notify service, as named functions over asyncpg."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from runtime.db import execute_counted
from services.notify.domain import InboxNote, RenderedEmail

# --- the email outbox --------------------------------------------------------------------------


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
    conn: asyncpg.Connection,
    email_id: UUID,
    recipient: str,
    template: str,
    email: RenderedEmail,
    *,
    customer_number: str | None = None,
    account_id: UUID | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO emails (id, recipient, subject, body_text, body_html, template,"
        " customer_number, account_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        email_id,
        recipient,
        email.subject,
        email.text,
        email.html,
        template,
        customer_number,
        account_id,
    )


async def queue_same_email(
    conn: asyncpg.Connection,
    template: str,
    email: RenderedEmail,
    ids: Sequence[UUID],
    recipients: Sequence[str],
    customer_numbers: Sequence[str],
) -> int:
    """One email to many recipients (a fan-out: after personal emails) in one statement; rows added."""
    result = await conn.execute(
        "INSERT INTO emails"
        " (id, recipient, customer_number, template, subject, body_text, body_html, priority)"
        " SELECT t.id, t.recipient, t.customer_number, $4, $5, $6, $7, 1"
        " FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(id, recipient, customer_number)"
        " ON CONFLICT (id) DO NOTHING",
        list(ids),
        list(recipients),
        list(customer_numbers),
        template,
        email.subject,
        email.text,
        email.html,
    )
    return int(result.split()[-1])


async def claim_due_emails(pool: asyncpg.Pool, limit: int, lease: timedelta) -> list[Email]:
    """Take due emails for ``lease``; another sender skips them meanwhile."""
    rows = await pool.fetch(
        """
        UPDATE emails SET next_attempt_at = now() + $2::interval
        WHERE id IN (
            SELECT id FROM emails WHERE status = 'pending' AND next_attempt_at <= now()
            ORDER BY priority, next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id, recipient, subject, body_text, body_html, template, attempts
        """,
        limit,
        lease,
    )
    return [Email(**dict(r)) for r in rows]


async def release_emails(pool: asyncpg.Pool, ids: Sequence[UUID]) -> None:
    """Give back claimed emails not tried yet, so they need not wait for their lease to run out."""
    await pool.execute(
        "UPDATE emails SET next_attempt_at = now() WHERE id = ANY($1::uuid[]) AND status = 'pending'",
        list(ids),
    )


async def record_sent(pool: asyncpg.Pool, email_id: UUID, attempt: int, code: int) -> None:
    # One statement (one round trip): the sooner "sent" commits, the smaller the window in
    # which a crash makes the email go out again.
    await pool.execute(
        """
        WITH sent AS (
            UPDATE emails SET status = 'sent', attempts = $2, sent_at = now()
            WHERE id = $1 AND status = 'pending' RETURNING id)
        INSERT INTO email_deliveries (email_id, attempt, outcome, smtp_code)
        SELECT id, $2, 'sent', $3 FROM sent
        """,
        email_id,
        attempt,
        code,
    )


async def record_retry(
    pool: asyncpg.Pool,
    email_id: UUID,
    attempt: int,
    code: int | None,
    detail: str,
    delay: timedelta,
) -> None:
    await pool.execute(
        """
        WITH retry AS (
            UPDATE emails SET attempts = $2, next_attempt_at = now() + $5::interval
            WHERE id = $1 AND status = 'pending' RETURNING id)
        INSERT INTO email_deliveries (email_id, attempt, outcome, smtp_code, detail)
        SELECT id, $2, 'retry', $3, $4 FROM retry
        """,
        email_id,
        attempt,
        code,
        detail[:500],
        delay,
    )


async def record_failure(
    pool: asyncpg.Pool, email_id: UUID, attempt: int, code: int | None, detail: str
) -> None:
    await pool.execute(
        """
        WITH failed AS (
            UPDATE emails SET status = 'failed', attempts = $2
            WHERE id = $1 AND status = 'pending' RETURNING id)
        INSERT INTO email_deliveries (email_id, attempt, outcome, smtp_code, detail)
        SELECT id, $2, 'failed', $3, $4 FROM failed
        """,
        email_id,
        attempt,
        code,
        detail[:500],
    )


# --- recipients (R15, R16) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    customer_number: str
    email: str
    language: str
    marketing_consent: bool


async def upsert_recipient(
    conn: asyncpg.Connection,
    *,
    customer_number: str,
    account_id: UUID,
    email: str,
    language: str,
    marketing_consent: bool,
    revision: int,
) -> bool:
    """Newest revision wins; an erased account never comes back. True when the row changed."""
    changed = await conn.fetchval(
        """
        INSERT INTO recipients AS r
            (customer_number, account_id, email, language, marketing_consent, revision)
        SELECT $1, $2, $3, $4, $5, $6
        WHERE NOT EXISTS (SELECT 1 FROM erased_accounts WHERE account_id = $2)
        ON CONFLICT (customer_number) DO UPDATE SET
            account_id = EXCLUDED.account_id, email = EXCLUDED.email,
            language = EXCLUDED.language, marketing_consent = EXCLUDED.marketing_consent,
            revision = EXCLUDED.revision, updated_at = now()
        WHERE r.revision < EXCLUDED.revision OR r.account_id <> EXCLUDED.account_id
        RETURNING true
        """,
        customer_number,
        account_id,
        email,
        language,
        marketing_consent,
        revision,
    )
    return bool(changed)


async def forget_customer(
    conn: asyncpg.Connection, customer_number: str, account_id: UUID | None
) -> dict[str, int]:
    """R14: the recipient, their inbox and the addresses and texts of their emails go (the email
    rows stay, blank and owned by nobody); rows touched per table. ``account_id`` (when known) is remembered as erased, so a contact event
    still in flight never brings the recipient back."""
    if account_id is None:
        account_id = await conn.fetchval(
            "SELECT account_id FROM recipients WHERE customer_number = $1", customer_number
        )
    statements: dict[str, tuple[str, tuple[Any, ...]]] = {
        "erased_accounts": (
            "INSERT INTO erased_accounts (account_id) SELECT $1::uuid WHERE $1::uuid IS NOT NULL"
            " ON CONFLICT DO NOTHING",
            (account_id,),
        ),
        "recipients": (
            "DELETE FROM recipients WHERE customer_number = $1 OR account_id = $2",
            (customer_number, account_id),
        ),
        "inbox_messages": (
            "DELETE FROM inbox_messages WHERE customer_number = $1",
            (customer_number,),
        ),
        # An SMTP server's answer may quote the address.
        "email_deliveries": (
            """
            UPDATE email_deliveries d SET detail = '' FROM emails e
            WHERE e.id = d.email_id AND d.detail <> ''
              AND (e.customer_number = $1 OR e.account_id = $2)
            """,
            (customer_number, account_id),
        ),
        # The rows stay (the delivery log refers to them), blank and owned by nobody.
        "emails": (
            """
            UPDATE emails SET recipient = 'erased', subject = '', body_text = '', body_html = '',
                status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END,
                customer_number = NULL, account_id = NULL
            WHERE customer_number = $1 OR account_id = $2
            """,
            (customer_number, account_id),
        ),
    }
    return await execute_counted(conn, statements)


async def recipient_of(conn: asyncpg.Connection, customer_number: str) -> Recipient | None:
    row = await conn.fetchrow(
        "SELECT customer_number, email, language, marketing_consent FROM recipients"
        " WHERE customer_number = $1",
        customer_number,
    )
    return Recipient(**dict(row)) if row else None


async def recipients_after(
    conn: asyncpg.Connection, after: str | None, limit: int
) -> list[Recipient]:
    """The next keyset batch of recipients, in customer-number order."""
    rows = await conn.fetch(
        "SELECT customer_number, email, language, marketing_consent FROM recipients"
        " WHERE $1::text IS NULL OR customer_number > $1 ORDER BY customer_number LIMIT $2",
        after,
        limit,
    )
    return [Recipient(**dict(r)) for r in rows]


async def count_recipients(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM recipients"))


# --- the inbox (R10, R11, R15) -----------------------------------------------------------------


async def add_inbox_message(
    conn: asyncpg.Connection, message_id: UUID, customer_number: str, note: InboxNote
) -> None:
    await conn.execute(
        "INSERT INTO inbox_messages (id, customer_number, kind, title, body)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        message_id,
        customer_number,
        note.kind,
        note.title,
        note.body,
    )


async def add_same_inbox_message(
    conn: asyncpg.Connection, note: InboxNote, ids: Sequence[UUID], customer_numbers: Sequence[str]
) -> None:
    await conn.execute(
        "INSERT INTO inbox_messages (id, customer_number, kind, title, body)"
        " SELECT t.id, t.customer_number, $3, $4, $5"
        " FROM unnest($1::uuid[], $2::text[]) AS t(id, customer_number)"
        " ON CONFLICT (id) DO NOTHING",
        list(ids),
        list(customer_numbers),
        note.kind,
        note.title,
        note.body,
    )


_INBOX_COLUMNS = "id, kind, title, body, created_at, read_at"


async def inbox_page(
    pool: asyncpg.Pool,
    customer_number: str,
    limit: int,
    before: tuple[datetime, UUID] | None,
) -> list[asyncpg.Record]:
    """Newest first; ``before`` is the (created_at, id) of the previous page's last message."""
    if before is None:
        return await pool.fetch(
            f"SELECT {_INBOX_COLUMNS} FROM inbox_messages WHERE customer_number = $1"
            " ORDER BY created_at DESC, id DESC LIMIT $2",
            customer_number,
            limit,
        )
    return await pool.fetch(
        f"SELECT {_INBOX_COLUMNS} FROM inbox_messages WHERE customer_number = $1"
        " AND (created_at, id) < ($3, $4) ORDER BY created_at DESC, id DESC LIMIT $2",
        customer_number,
        limit,
        before[0],
        before[1],
    )


async def unread_count(pool: asyncpg.Pool, customer_number: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM inbox_messages WHERE customer_number = $1 AND read_at IS NULL",
            customer_number,
        )
    )


async def mark_read(
    pool: asyncpg.Pool, customer_number: str, message_id: UUID
) -> asyncpg.Record | None:
    """The message after marking; None when this customer has no such message."""
    return await pool.fetchrow(
        f"UPDATE inbox_messages SET read_at = coalesce(read_at, now())"
        f" WHERE id = $1 AND customer_number = $2 RETURNING {_INBOX_COLUMNS}",
        message_id,
        customer_number,
    )


# --- terms (R11) -------------------------------------------------------------------------------


# --- announcements (R15) -----------------------------------------------------------------------


# --- fan-out jobs ------------------------------------------------------------------------------
