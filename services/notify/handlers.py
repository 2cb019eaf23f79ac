"""One short function per event and request the notify service receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from contracts import notify as msgs
from contracts.auth import (
    AccountErased,
    CustomerContactChanged,
    EmailChangeRequested,
    EmailVerificationRequested,
    LoginCodeRequested,
    PasswordResetRequested,
    RegistrationRepeated,
)
from contracts.billing import ComplaintInformationRequested, ComplaintOutcome
from contracts.readings import LegalizationExpiring, ReadingFlagged
from contracts.retention import CustomerRetentionEnded
from runtime.clock import WARSAW
from runtime.errors import NotFound
from runtime.logs import get_logger
from runtime.paging import cursor_key, encode_cursor
from runtime.retention import log_erased
from runtime.service import ServiceRuntime
from runtime.unit_of_work import UnitOfWork
from services.notify import domain, store
from services.notify.fanout.runner import FanoutRunner
from services.notify.mailer import MailSender

log = get_logger(__name__)

# The events that become a message to one customer.
CustomerMessage = (
    ComplaintOutcome | ComplaintInformationRequested | LegalizationExpiring | ReadingFlagged
)


@dataclass
class Notify:
    """The notify service's dependencies, wired once in app.py."""

    rt: ServiceRuntime
    sender: MailSender
    fanout: FanoutRunner

    def link(self, path: str) -> str:
        return f"{self.rt.settings.public_url}{path}"


# --- emails addressed by the event (R3, R16, R17) ----------------------------------------------


async def send_email_verification(
    n: Notify, uow: UnitOfWork, msg: EmailVerificationRequested
) -> None:
    """R17, R16: an address is verified by a link before it is used (registration or a change)."""
    template = "email_verification" if msg.purpose == "registration" else "email_change"
    await _send_link_email(n, uow, msg, template, f"/verify-email?token={quote(msg.token)}")


async def send_email_change_notice(n: Notify, uow: UnitOfWork, msg: EmailChangeRequested) -> None:
    """R16: the old address hears that a new one was asked for (no link: nothing to click)."""
    email = domain.render_email(
        "email_change_notice",
        msg.language,
        login=msg.login,
        new_email=msg.new_email_hint,
        link=n.link("/me/contact"),
    )
    _, email_id = domain.event_message_ids(msg.message_id)
    await store.queue_email(
        uow.conn,
        email_id,
        str(msg.old_email),
        "email_change_notice",
        email,
        account_id=msg.account_id,
    )
    uow.after_commit(n.sender.wake)


async def send_login_code(n: Notify, uow: UnitOfWork, msg: LoginCodeRequested) -> None:
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
    _, email_id = domain.event_message_ids(msg.message_id)
    await store.queue_email(
        uow.conn, email_id, str(msg.email), "login_code", email, account_id=msg.account_id
    )
    uow.after_commit(n.sender.wake)


async def send_password_reset(n: Notify, uow: UnitOfWork, msg: PasswordResetRequested) -> None:
    """R3: "forgot password" by an emailed, single-use link."""
    path = f"/password-reset?token={quote(msg.token)}"
    await _send_link_email(n, uow, msg, "password_reset", path)


async def _send_link_email(
    n: Notify,
    uow: UnitOfWork,
    msg: EmailVerificationRequested | PasswordResetRequested,
    template: str,
    path: str,
) -> None:
    expires = msg.expires_at.astimezone(WARSAW).strftime("%d.%m.%Y %H:%M")
    email = domain.render_email(
        template, msg.language, login=msg.login, link=n.link(path), expires=expires
    )
    _, email_id = domain.event_message_ids(msg.message_id)
    await store.queue_email(
        uow.conn, email_id, str(msg.email), template, email, account_id=msg.account_id
    )
    uow.after_commit(n.sender.wake)


async def warn_registration_repeated(n: Notify, uow: UnitOfWork, msg: RegistrationRepeated) -> None:
    """Someone proved the customer's identity at registration, but the account exists: its
    owner is told (the form itself answered as for a mismatch)."""
    email = domain.render_email(
        "registration_repeated", msg.language, login=msg.login, link=n.link("/password-reset")
    )
    _, email_id = domain.event_message_ids(msg.message_id)
    await store.queue_email(
        uow.conn,
        email_id,
        str(msg.email),
        "registration_repeated",
        email,
        account_id=msg.account_id,
    )
    uow.after_commit(n.sender.wake)


# --- recipients (R15, R16, R14) ----------------------------------------------------------------


async def update_recipient(n: Notify, uow: UnitOfWork, msg: CustomerContactChanged) -> None:
    """The verified address, language and marketing consent; the newest revision wins."""
    await store.upsert_recipient(
        uow.conn,
        customer_number=msg.customer_number,
        account_id=msg.account_id,
        email=str(msg.email),
        language=domain.language_of(msg.language),
        marketing_consent=msg.marketing_consent,
        revision=msg.revision,
    )


async def forget_customer(
    n: Notify, uow: UnitOfWork, msg: CustomerRetentionEnded | AccountErased
) -> None:
    """R14: retention ended; notify forgets the recipient, their inbox and their emails' content.

    Billing's event reaches notify for every customer due (an inbox without an account too);
    auth's ``account-erased`` follows for those who had an account, with its id."""
    account_id = msg.account_id if isinstance(msg, AccountErased) else None
    counts = await store.forget_customer(uow.conn, msg.customer_number, account_id)
    uow.after_commit(
        partial(
            log_erased,
            msg.customer_number,
            counts,
            message_id=str(msg.message_id),
            schema=msg.SCHEMA,
        )
    )


# --- messages to a customer: inbox always, email when the address is known ---------------------


async def tell_customer(n: Notify, uow: UnitOfWork, msg: CustomerMessage) -> None:
    """An inbox message always; an email only when notify knows the customer's address.

    Without a known address (no IBOK account yet, or its contact event has not arrived) the
    email is skipped, not deferred: the inbox keeps the message for when they log in.
    """
    recipient = await store.recipient_of(uow.conn, msg.customer_number)
    lang = domain.language_of(recipient.language if recipient else None)
    kind, context = message_to_customer(n, msg, lang)
    inbox_id, email_id = domain.event_message_ids(msg.message_id)
    note = domain.render_inbox(kind, lang, **context)
    await store.add_inbox_message(uow.conn, inbox_id, msg.customer_number, note)
    if recipient is None:
        log.info("email.skipped", reason="no_recipient", kind=kind, message_id=str(msg.message_id))
        return
    email = domain.render_email(kind, lang, **context)
    await store.queue_email(
        uow.conn, email_id, recipient.email, kind, email, customer_number=msg.customer_number
    )
    uow.after_commit(n.sender.wake)


def message_to_customer(n: Notify, msg: CustomerMessage, lang: str) -> tuple[str, dict[str, Any]]:
    """The template and its values for ``msg`` in the customer's language."""
    match msg:
        case ComplaintOutcome():  # R10: the outcome, by email and in the IBOK inbox
            return "complaint_outcome", {
                "subject": msg.subject,
                "outcome": msg.outcome,
                "outcome_text": msg.outcome_text,
                "settled": domain.format_date(msg.settled_on, lang),
                "link": n.link(f"/complaints/{msg.complaint_id}"),
            }
        case ComplaintInformationRequested():  # R10: staff ask; the customer answers in IBOK
            return "complaint_information_requested", {
                "subject": msg.subject,
                "question": msg.question,
                "due": domain.format_date(msg.due_on, lang),
                "link": n.link(f"/complaints/{msg.complaint_id}"),
            }
        case LegalizationExpiring():  # R7.6: the main meter's legal verification ends soon
            return "legalization_expiring", {
                "serial": msg.serial,
                "expires": domain.format_date(msg.expires_on, lang),
                "link": n.link("/meters"),
            }
        case ReadingFlagged():  # R8: a reading far above recent use, accepted and flagged
            return "reading_flagged", {
                "serial": msg.serial,
                "value": domain.format_volume(msg.value, lang),
                "read": domain.format_date(msg.read_on, lang),
                "daily_average": domain.format_volume(msg.daily_average_m3, lang),
                "link": n.link("/readings"),
            }


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
    return cursor_key(cursor, datetime.fromisoformat, uuid.UUID)  # type: ignore[return-value]


async def mark_read(n: Notify, cmd: msgs.MarkRead) -> msgs.InboxMessage:
    row = await store.mark_read(n.rt.pool, cmd.customer_number, cmd.message_id)
    if row is None:
        # Another customer's message is as absent as one that never existed.
        raise NotFound(
            "message_not_found", "Nie ma takiej wiadomości.", detail_en="No such message."
        )
    return msgs.InboxMessage(**dict(row))


# --- terms (R11) -------------------------------------------------------------------------------


# --- commercial information (R15) --------------------------------------------------------------
