"""One short function per event and request the notify service receives."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import asyncpg

from contracts import notify as msgs
from contracts.auth import (
    AccountErased,
    CustomerContactChanged,
    EmailChangeRequested,
    EmailVerificationRequested,
    LoginCodeRequested,
    PasswordResetRequested,
)
from contracts.base import Envelope
from contracts.billing import ComplaintInformationRequested, ComplaintOutcome
from contracts.readings import LegalizationExpiring, ReadingFlagged
from contracts.retention import CustomerRetentionEnded
from runtime.clock import WARSAW, business_today
from runtime.errors import DomainError, NotFound
from runtime.logs import get_logger
from runtime.messaging import first_delivery
from runtime.paging import decode_cursor, encode_cursor
from runtime.retention import log_erased
from runtime.service import ServiceRuntime
from services.notify import domain, store
from services.notify.fanout import FanoutRunner
from services.notify.mailer import MailSender

log = get_logger(__name__)


@dataclass
class Notify:
    """The notify service's dependencies, wired once in app.py."""

    rt: ServiceRuntime
    sender: MailSender
    fanout: FanoutRunner

    def link(self, path: str) -> str:
        return f"{self.rt.settings.public_url}{path}"


# --- emails addressed by the event (R3, R16, R17) ----------------------------------------------


async def send_email_verification(n: Notify, msg: EmailVerificationRequested) -> None:
    """R17, R16: an address is verified by a link before it is used (registration or a change)."""
    template = "email_verification" if msg.purpose == "registration" else "email_change"
    await _send_link_email(n, msg, template, f"/verify-email?token={quote(msg.token)}")


async def send_email_change_notice(n: Notify, msg: EmailChangeRequested) -> None:
    """R16: the old address hears that a new one was asked for (no link: nothing to click)."""
    email = domain.render_email(
        "email_change_notice",
        msg.language,
        login=msg.login,
        new_email=msg.new_email_hint,
        link=n.link("/me/contact"),
    )
    async with n.rt.pool.acquire() as conn, conn.transaction():
        if await first_delivery(conn, msg):
            _, email_id = domain.event_message_ids(msg.message_id)
            await store.queue_email(
                conn,
                email_id,
                str(msg.old_email),
                "email_change_notice",
                email,
                account_id=msg.account_id,
            )
    n.sender.wake()


async def send_login_code(n: Notify, msg: LoginCodeRequested) -> None:
    """R4: the one-time code that stands in for the captcha, to the account's verified address."""
    expires = msg.expires_at.astimezone(WARSAW).strftime("%d.%m.%Y %H:%M")
    email = domain.render_email(
        "login_code",
        msg.language,
        login=msg.login,
        code=msg.code,
        expires=expires,
        link=n.link("/login"),
    )
    async with n.rt.pool.acquire() as conn, conn.transaction():
        if await first_delivery(conn, msg):
            _, email_id = domain.event_message_ids(msg.message_id)
            await store.queue_email(
                conn, email_id, str(msg.email), "login_code", email, account_id=msg.account_id
            )
    n.sender.wake()


async def send_password_reset(n: Notify, msg: PasswordResetRequested) -> None:
    """R3: "forgot password" by an emailed, single-use link."""
    await _send_link_email(n, msg, "password_reset", f"/password-reset?token={quote(msg.token)}")


async def _send_link_email(
    n: Notify,
    msg: EmailVerificationRequested | PasswordResetRequested,
    template: str,
    path: str,
) -> None:
    expires = msg.expires_at.astimezone(WARSAW).strftime("%d.%m.%Y %H:%M")
    email = domain.render_email(
        template, msg.language, login=msg.login, link=n.link(path), expires=expires
    )
    async with n.rt.pool.acquire() as conn, conn.transaction():
        if await first_delivery(conn, msg):
            _, email_id = domain.event_message_ids(msg.message_id)
            await store.queue_email(
                conn, email_id, str(msg.email), template, email, account_id=msg.account_id
            )
    n.sender.wake()


# --- recipients (R15, R16, R14) ----------------------------------------------------------------


async def update_recipient(n: Notify, msg: CustomerContactChanged) -> None:
    """The verified address, language and marketing consent; the newest revision wins."""
    async with n.rt.pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, msg):
            return
        await store.upsert_recipient(
            conn,
            customer_number=msg.customer_number,
            account_id=msg.account_id,
            email=str(msg.email),
            language=domain.language_of(msg.language),
            marketing_consent=msg.marketing_consent,
            revision=msg.revision,
        )


async def forget_customer(n: Notify, msg: CustomerRetentionEnded | AccountErased) -> None:
    """R14: retention ended; notify forgets the recipient, their inbox and their emails' content.

    Billing's event reaches notify for every customer due (an inbox without an account too);
    auth's ``account-erased`` follows for those who had an account, with its id."""
    account_id = msg.account_id if isinstance(msg, AccountErased) else None
    async with n.rt.pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, msg):
            return
        counts = await store.forget_customer(conn, msg.customer_number, account_id)
    log_erased(msg.customer_number, counts, message_id=str(msg.message_id), schema=msg.SCHEMA)


# --- messages to a customer: inbox always, email when the address is known ---------------------


async def tell_complaint_outcome(n: Notify, msg: ComplaintOutcome) -> None:
    """R10: the outcome reaches the customer by email and in the IBOK inbox."""
    await _tell_customer(
        n,
        msg,
        msg.customer_number,
        "complaint_outcome",
        lambda lang: {
            "subject": msg.subject,
            "outcome": msg.outcome,
            "outcome_text": msg.outcome_text,
            "settled": domain.format_date(msg.settled_on, lang),
            "link": n.link(f"/complaints/{msg.complaint_id}"),
        },
    )


async def ask_complaint_information(n: Notify, msg: ComplaintInformationRequested) -> None:
    """R10: staff asked for more information; the customer answers in IBOK."""
    await _tell_customer(
        n,
        msg,
        msg.customer_number,
        "complaint_information_requested",
        lambda lang: {
            "subject": msg.subject,
            "question": msg.question,
            "due": domain.format_date(msg.due_on, lang),
            "link": n.link(f"/complaints/{msg.complaint_id}"),
        },
    )


async def remind_legalization(n: Notify, msg: LegalizationExpiring) -> None:
    """R7.6: the main meter's legal verification ends soon."""
    await _tell_customer(
        n,
        msg,
        msg.customer_number,
        "legalization_expiring",
        lambda lang: {
            "serial": msg.serial,
            "expires": domain.format_date(msg.expires_on, lang),
            "link": n.link("/meters"),
        },
    )


async def tell_reading_flagged(n: Notify, msg: ReadingFlagged) -> None:
    """R8: a reading far above recent use was accepted and flagged for staff review."""
    await _tell_customer(
        n,
        msg,
        msg.customer_number,
        "reading_flagged",
        lambda lang: {
            "serial": msg.serial,
            "value": domain.format_volume(msg.value, lang),
            "read": domain.format_date(msg.read_on, lang),
            "daily_average": domain.format_volume(msg.daily_average_m3, lang),
            "link": n.link("/readings"),
        },
    )


async def _tell_customer(
    n: Notify,
    msg: Envelope,
    customer_number: str,
    kind: str,
    context_in: Callable[[str], dict[str, Any]],
) -> None:
    """An inbox message always; an email only when notify knows the customer's address.

    Without a known address (no IBOK account yet, or its contact event has not arrived) the
    email is skipped, not deferred: the inbox keeps the message for when they log in.
    """
    emailed = False
    async with n.rt.pool.acquire() as conn, conn.transaction():
        if not await first_delivery(conn, msg):
            return
        recipient = await store.recipient_of(conn, customer_number)
        lang = domain.language_of(recipient.language if recipient else None)
        context = context_in(lang)
        inbox_id, email_id = domain.event_message_ids(msg.message_id)
        note = domain.render_inbox(kind, lang, **context)
        await store.add_inbox_message(conn, inbox_id, customer_number, note)
        if recipient is not None:
            email = domain.render_email(kind, lang, **context)
            await store.queue_email(
                conn, email_id, recipient.email, kind, email, customer_number=customer_number
            )
            emailed = True
    if emailed:
        n.sender.wake()
    else:
        log.info("email.skipped", reason="no_recipient", kind=kind, message_id=str(msg.message_id))


# --- the inbox (R10, R11, R15) -----------------------------------------------------------------


async def inbox(n: Notify, q: msgs.InboxQuery) -> msgs.InboxPage:
    before = _inbox_cursor(q.cursor)
    rows = await store.inbox_page(n.rt.pool, q.customer_number, q.limit + 1, before)
    unread = await store.unread_count(n.rt.pool, q.customer_number)
    items = [msgs.InboxMessage(**dict(r)) for r in rows[: q.limit]]
    next_cursor = None
    if len(rows) > q.limit:
        last = items[-1]
        next_cursor = encode_cursor(last.created_at.isoformat(), str(last.id))
    return msgs.InboxPage(items=items, next_cursor=next_cursor, unread=unread)


def _inbox_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        created_at, message_id = key
        return datetime.fromisoformat(created_at), uuid.UUID(message_id)
    except (TypeError, ValueError) as exc:
        raise _invalid_cursor() from exc


def _invalid_cursor() -> DomainError:
    return DomainError(
        "invalid_cursor", "Nieprawidłowy kursor strony.", detail_en="Invalid page cursor."
    )


async def mark_read(n: Notify, cmd: msgs.MarkRead) -> msgs.InboxMessage:
    row = await store.mark_read(n.rt.pool, cmd.customer_number, cmd.message_id)
    if row is None:
        # Another customer's message is as absent as one that never existed.
        raise NotFound(
            "message_not_found", "Nie ma takiej wiadomości.", detail_en="No such message."
        )
    return msgs.InboxMessage(**dict(row))


# --- terms (R11) -------------------------------------------------------------------------------


async def terms_in_force(n: Notify, q: msgs.TermsInForceQuery) -> msgs.TermsVersion:
    row = await store.terms_in_force(n.rt.pool, q.on or business_today())
    if row is None:
        raise NotFound("terms_not_found", "Brak regulaminu.", detail_en="No terms of service.")
    return msgs.TermsVersion(**dict(row))


async def terms_version(n: Notify, q: msgs.TermsVersionQuery) -> msgs.TermsVersion:
    row = await store.terms_version(n.rt.pool, q.version)
    if row is None:
        raise NotFound(
            "terms_not_found", "Nie ma takiej wersji regulaminu.", detail_en="No such version."
        )
    return msgs.TermsVersion(**dict(row))


async def terms_versions(n: Notify, q: msgs.TermsVersionsQuery) -> msgs.TermsVersionsPage:
    key = decode_cursor(q.cursor)
    before: int | None = None
    if key is not None:
        if len(key) != 1 or not isinstance(key[0], int):
            raise _invalid_cursor()
        before = key[0]
    rows = await store.terms_versions_page(n.rt.pool, q.limit + 1, before)
    current = await store.terms_in_force(n.rt.pool, business_today())
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
    async with n.rt.pool.acquire() as conn, conn.transaction():
        version = await store.add_terms_version(conn, text, cmd.effective_on, cmd.published_by)
        await store.add_fanout_job(conn, job_id, "terms", terms_version=version)
    log.info("terms.published", version=version, effective_on=str(cmd.effective_on))
    n.fanout.wake()
    return msgs.TermsPublished(version=version, effective_on=cmd.effective_on, fanout_job_id=job_id)


# --- commercial information (R15) --------------------------------------------------------------


async def send_announcement(n: Notify, cmd: msgs.SendAnnouncement) -> msgs.AnnouncementSent:
    """R15: email only to customers who consented; every customer sees it in the inbox."""
    body = domain.check_text_given("body", cmd.body)
    announcement_id, job_id = uuid.uuid4(), uuid.uuid4()
    async with n.rt.pool.acquire() as conn, conn.transaction():
        await store.add_announcement(conn, announcement_id, cmd.subject, body, cmd.sent_by)
        await store.add_fanout_job(conn, job_id, "announcement", announcement_id=announcement_id)
    log.info("announcement.accepted", announcement_id=str(announcement_id))
    n.fanout.wake()
    return msgs.AnnouncementSent(announcement_id=announcement_id, fanout_job_id=job_id)


async def fanout_status(n: Notify, q: msgs.FanoutStatusQuery) -> msgs.FanoutStatus:
    row = await store.fanout_status(n.rt.pool, q.job_id)
    if row is None:
        raise NotFound("fanout_not_found", "Nie ma takiego zadania.", detail_en="No such job.")
    return msgs.FanoutStatus(**dict(row))


async def seed_terms(pool: asyncpg.Pool, text: str) -> None:
    """The utility's terms in force since 11 August 2025 (§10.6) are version 1."""
    if await store.seed_terms(pool, text.strip() + "\n", domain.SEED_TERMS_EFFECTIVE_ON):
        log.info("terms.seeded", version=1)
