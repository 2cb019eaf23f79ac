"""Terms (R11) and announcements (R15): read, published and fanned out to every customer."""

from __future__ import annotations

import uuid

import asyncpg

from contracts import notify as msgs
from runtime.clock import business_today
from runtime.errors import NotFound
from runtime.logs import get_logger
from runtime.paging import cursor_key, encode_cursor, integer
from services.notify import domain
from services.notify.fanout import store as fanout_store
from services.notify.handlers import Notify

log = get_logger(__name__)


async def terms_in_force(n: Notify, q: msgs.TermsInForceQuery) -> msgs.TermsVersion:
    row = await fanout_store.terms_in_force(n.rt.pool, q.on or business_today())
    if row is None:
        raise NotFound("terms_not_found", "Brak regulaminu.", detail_en="No terms of service.")
    return msgs.TermsVersion(**dict(row))


async def terms_version(n: Notify, q: msgs.TermsVersionQuery) -> msgs.TermsVersion:
    row = await fanout_store.terms_version(n.rt.pool, q.version)
    if row is None:
        raise NotFound(
            "terms_not_found", "Nie ma takiej wersji regulaminu.", detail_en="No such version."
        )
    return msgs.TermsVersion(**dict(row))


async def terms_versions(n: Notify, q: msgs.TermsVersionsQuery) -> msgs.TermsVersionsPage:
    key = cursor_key(q.cursor, integer)
    before: int | None = key[0] if key else None
    rows = await fanout_store.terms_versions_page(n.rt.pool, q.limit + 1, before)
    current = await fanout_store.terms_in_force(n.rt.pool, business_today())
    in_force = current["version"] if current else None
    items = [
        msgs.TermsVersionSummary(**dict(r), in_force=r["version"] == in_force)
        for r in rows[: q.limit]
    ]
    next_cursor = encode_cursor(items[-1].version) if len(rows) > q.limit else None
    return msgs.TermsVersionsPage(items=items, next_cursor=next_cursor)


async def publish_terms(n: Notify, cmd: msgs.PublishTerms) -> msgs.TermsPublished:
    """R11: a new version with its effective date; every customer is told by email and inbox."""
    domain.check_terms_effective_date(cmd.effective_on, business_today())
    text = domain.check_text_given("text", cmd.text)
    job_id = uuid.uuid4()
    async with n.rt.unit_of_work() as uow:
        version = await fanout_store.add_terms_version(
            uow.conn, text, cmd.effective_on, cmd.published_by
        )
        await fanout_store.add_fanout_job(uow.conn, job_id, "terms", terms_version=version)
    log.info("terms.published", version=version, effective_on=str(cmd.effective_on))
    n.fanout.wake()
    return msgs.TermsPublished(version=version, effective_on=cmd.effective_on, fanout_job_id=job_id)


async def send_announcement(n: Notify, cmd: msgs.SendAnnouncement) -> msgs.AnnouncementSent:
    """R15: email only to customers who consented; every customer sees it in the inbox."""
    body = domain.check_text_given("body", cmd.body)
    announcement_id, job_id = uuid.uuid4(), uuid.uuid4()
    async with n.rt.unit_of_work() as uow:
        await fanout_store.add_announcement(
            uow.conn, announcement_id, cmd.subject, body, cmd.sent_by
        )
        await fanout_store.add_fanout_job(
            uow.conn, job_id, "announcement", announcement_id=announcement_id
        )
    log.info("announcement.accepted", announcement_id=str(announcement_id))
    n.fanout.wake()
    return msgs.AnnouncementSent(announcement_id=announcement_id, fanout_job_id=job_id)


async def fanout_status(n: Notify, q: msgs.FanoutStatusQuery) -> msgs.FanoutStatus:
    row = await fanout_store.fanout_status(n.rt.pool, q.job_id)
    if row is None:
        raise NotFound("fanout_not_found", "Nie ma takiego zadania.", detail_en="No such job.")
    return msgs.FanoutStatus(**dict(row))


async def seed_terms(pool: asyncpg.Pool, text: str) -> None:
    """The utility's terms in force since 11 August 2025 (§10.6) are version 1."""
    if await fanout_store.seed_terms(pool, text.strip() + "\n", domain.SEED_TERMS_EFFECTIVE_ON):
        log.info("terms.seeded", version=1)
