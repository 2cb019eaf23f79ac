"""Messages to every customer (terms changes, announcements): keyset batches that survive a crash.

A job walks the recipients in customer-number order. Each batch is one transaction that locks
the job's row, writes the batch's inbox messages and emails (ids derived from the job and the
customer, so a repeated batch adds nothing) and moves the job's cursor. A process killed
halfway leaves the cursor at the last committed batch; the next start continues from there.
Memory stays bounded by one batch whatever the number of customers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from runtime.logs import get_logger
from runtime.service import ServiceRuntime
from runtime.worker import cancel_and_wait, keep_draining
from services.notify import domain, store
from services.notify.fanout import store as fanout_store

log = get_logger(__name__)

LANGUAGES: tuple[domain.Language, ...] = ("pl", "en")


@dataclass(frozen=True)
class Content:
    """What one job says, rendered once per language rather than once per customer."""

    template: str
    inbox: dict[str, domain.InboxNote]
    email: dict[str, domain.RenderedEmail]


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    emails: int
    finished: bool


class FanoutRunner:
    def __init__(
        self,
        rt: ServiceRuntime,
        on_emails_queued: Callable[[], None],
        *,
        batch: int,
        poll_seconds: float = 5.0,
    ) -> None:
        self._rt = rt
        self._on_emails_queued = on_emails_queued
        self._batch = batch
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="fanout")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        await keep_draining(
            self._run_jobs, wake=self._wake, poll_seconds=self._poll, full_batch=None, name="fanout"
        )

    async def _run_jobs(self) -> int:
        jobs = await fanout_store.running_fanout_jobs(self._rt.pool)
        for job_id in jobs:
            await self.run(job_id)
        return len(jobs)

    async def run(self, job_id: UUID) -> None:
        """Work through one job's remaining batches (from its cursor) to the end."""
        content = await self._content(job_id)
        if content is None:
            return
        started, first_done = time.monotonic(), None
        while True:
            progress = await self._next_batch(job_id, content)
            if progress is None:
                return
            self._on_emails_queued()
            first_done = progress.done if first_done is None else first_done
            elapsed = time.monotonic() - started
            log.info(
                "fanout.progress",
                job_id=str(job_id),
                kind=content.template,
                done=progress.done,
                total=progress.total,
                emails=progress.emails,
                per_second=round((progress.done - first_done) / elapsed) if elapsed > 0 else None,
            )
            if progress.finished:
                log.info("fanout.finished", job_id=str(job_id), done=progress.done)
                return

    async def _next_batch(self, job_id: UUID, content: Content) -> Progress | None:
        async with self._rt.unit_of_work() as uow:
            job = await fanout_store.lock_running_job(uow.conn, job_id)
            if job is None:
                return None  # finished meanwhile (another process), or unknown
            batch = await store.recipients_after(uow.conn, job.after_customer, self._batch)
            emails = 0
            for lang in LANGUAGES:
                group = [r for r in batch if domain.language_of(r.language) == lang]
                if not group:
                    continue
                ids = [domain.fanout_message_ids(job.id, r.customer_number) for r in group]
                await store.add_same_inbox_message(
                    uow.conn,
                    content.inbox[lang],
                    [inbox_id for inbox_id, _ in ids],
                    [r.customer_number for r in group],
                )
                mailed = [
                    (email_id, r)
                    for (_, email_id), r in zip(ids, group, strict=True)
                    if domain.emails_broadcast(job.kind, r.marketing_consent)
                ]
                if mailed:
                    emails += await store.queue_same_email(
                        uow.conn,
                        content.template,
                        content.email[lang],
                        [email_id for email_id, _ in mailed],
                        [r.email for _, r in mailed],
                        [r.customer_number for _, r in mailed],
                    )
            finished = len(batch) < self._batch
            cursor = batch[-1].customer_number if batch else job.after_customer
            await fanout_store.advance_fanout_job(
                uow.conn, job.id, cursor, len(batch), emails, finished
            )
        return Progress(job.done + len(batch), job.total, job.emails + emails, finished)

    async def _content(self, job_id: UUID) -> Content | None:
        async with self._rt.pool.acquire() as conn:
            job = await fanout_store.fanout_job(conn, job_id)
            if job is None:
                return None
            render = _RENDERERS[job.kind]
            return await render(self._rt.settings.public_url, conn, job)


async def _terms_content(
    public_url: str, conn: asyncpg.Connection, job: fanout_store.FanoutJob
) -> Content:
    assert job.terms_version is not None
    row = await fanout_store.terms_version(conn, job.terms_version)
    assert row is not None

    def context(lang: str) -> dict[str, object]:
        return {
            "version": row["version"],
            "effective": domain.format_date(row["effective_on"], lang),
            "link": f"{public_url}/terms",
        }

    return Content(
        "terms_changed",
        {lang: domain.render_inbox("terms_changed", lang, **context(lang)) for lang in LANGUAGES},
        {lang: domain.render_email("terms_changed", lang, **context(lang)) for lang in LANGUAGES},
    )


async def _announcement_content(
    public_url: str, conn: asyncpg.Connection, job: fanout_store.FanoutJob
) -> Content:
    assert job.announcement_id is not None
    row = await fanout_store.announcement(conn, job.announcement_id)
    assert row is not None
    context = {"title": row["subject"], "body": row["body"], "link": f"{public_url}/me/contact"}
    return Content(
        "announcement",
        {lang: domain.render_inbox("announcement", lang, **context) for lang in LANGUAGES},
        {lang: domain.render_email("announcement", lang, **context) for lang in LANGUAGES},
    )


_RENDERERS: dict[
    str, Callable[[str, asyncpg.Connection, fanout_store.FanoutJob], Awaitable[Content]]
] = {
    "terms": _terms_content,
    "announcement": _announcement_content,
}
