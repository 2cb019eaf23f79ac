"""The SQL of what goes to every customer: terms versions, announcements and fan-out jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

import asyncpg

_TERMS_COLUMNS = "version, effective_on, published_at, text"


async def seed_terms(pool: asyncpg.Pool, text: str, effective_on: date) -> bool:
    """The utility's current terms as version 1, once, on a fresh database."""
    inserted = await pool.fetchval(
        "INSERT INTO terms_versions (version, text, effective_on, published_by)"
        " VALUES (1, $1, $2, 'seed') ON CONFLICT (version) DO NOTHING RETURNING true",
        text,
        effective_on,
    )
    return bool(inserted)


async def add_terms_version(
    conn: asyncpg.Connection, text: str, effective_on: date, published_by: str
) -> int:
    """The next version number; call inside a transaction (the lock makes numbers gapless)."""
    await conn.execute("LOCK TABLE terms_versions IN SHARE ROW EXCLUSIVE MODE")
    return int(
        await conn.fetchval(
            "INSERT INTO terms_versions (version, text, effective_on, published_by)"
            " SELECT coalesce(max(version), 0) + 1, $1, $2, $3 FROM terms_versions"
            " RETURNING version",
            text,
            effective_on,
            published_by,
        )
    )


async def terms_in_force(pool: asyncpg.Pool, on: date) -> asyncpg.Record | None:
    return await pool.fetchrow(
        f"SELECT {_TERMS_COLUMNS} FROM terms_versions WHERE effective_on <= $1"
        " ORDER BY effective_on DESC, version DESC LIMIT 1",
        on,
    )


async def terms_version(
    conn: asyncpg.Connection | asyncpg.Pool, version: int
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_TERMS_COLUMNS} FROM terms_versions WHERE version = $1", version
    )


async def terms_versions_page(
    pool: asyncpg.Pool, limit: int, before_version: int | None
) -> list[asyncpg.Record]:
    """Newest version first, without the texts."""
    return await pool.fetch(
        "SELECT version, effective_on, published_at FROM terms_versions"
        " WHERE $2::int IS NULL OR version < $2 ORDER BY version DESC LIMIT $1",
        limit,
        before_version,
    )


async def add_announcement(
    conn: asyncpg.Connection, announcement_id: UUID, subject: str, body: str, sent_by: str
) -> None:
    await conn.execute(
        "INSERT INTO announcements (id, subject, body, sent_by) VALUES ($1, $2, $3, $4)",
        announcement_id,
        subject,
        body,
        sent_by,
    )


async def announcement(conn: asyncpg.Connection, announcement_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, subject, body FROM announcements WHERE id = $1", announcement_id
    )


@dataclass(frozen=True)
class FanoutJob:
    id: UUID
    kind: str
    terms_version: int | None
    announcement_id: UUID | None
    after_customer: str | None
    total: int
    done: int
    emails: int


_JOB_COLUMNS = "id, kind, terms_version, announcement_id, after_customer, total, done, emails"


async def add_fanout_job(
    conn: asyncpg.Connection,
    job_id: UUID,
    kind: str,
    *,
    terms_version: int | None = None,
    announcement_id: UUID | None = None,
) -> None:
    """A job for every recipient known now (``total`` counts them, for progress)."""
    await conn.execute(
        "INSERT INTO fanout_jobs (id, kind, terms_version, announcement_id, total)"
        " SELECT $1, $2, $3, $4, count(*) FROM recipients",
        job_id,
        kind,
        terms_version,
        announcement_id,
    )


async def running_fanout_jobs(pool: asyncpg.Pool) -> list[UUID]:
    rows = await pool.fetch(
        "SELECT id FROM fanout_jobs WHERE status = 'running' ORDER BY created_at"
    )
    return [r["id"] for r in rows]


async def fanout_job(conn: asyncpg.Connection, job_id: UUID) -> FanoutJob | None:
    row = await conn.fetchrow(f"SELECT {_JOB_COLUMNS} FROM fanout_jobs WHERE id = $1", job_id)
    return FanoutJob(**dict(row)) if row else None


async def lock_running_job(conn: asyncpg.Connection, job_id: UUID) -> FanoutJob | None:
    """The job's row, locked for this batch's transaction: two runners never take one batch."""
    row = await conn.fetchrow(
        f"SELECT {_JOB_COLUMNS} FROM fanout_jobs WHERE id = $1 AND status = 'running' FOR UPDATE",
        job_id,
    )
    return FanoutJob(**dict(row)) if row else None


async def advance_fanout_job(
    conn: asyncpg.Connection,
    job_id: UUID,
    after_customer: str | None,
    recipients: int,
    emails: int,
    finished: bool,
) -> None:
    await conn.execute(
        """
        UPDATE fanout_jobs SET after_customer = $2, done = done + $3, emails = emails + $4,
            updated_at = now(),
            status = CASE WHEN $5 THEN 'done' ELSE status END,
            finished_at = CASE WHEN $5 THEN now() ELSE finished_at END,
            total = CASE WHEN $5 THEN greatest(total, done + $3) ELSE total END
        WHERE id = $1
        """,
        job_id,
        after_customer,
        recipients,
        emails,
        finished,
    )


async def fanout_status(pool: asyncpg.Pool, job_id: UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT id AS job_id, kind, status, total, done, emails, created_at, updated_at,"
        " finished_at FROM fanout_jobs WHERE id = $1",
        job_id,
    )
