"""Wiring of the notify service: its queues, its handlers, the mail sender, fan-out and HTTP side."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from faststream.asgi import AsgiFastStream

from contracts import notify as ops
from contracts import topology
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
from runtime.service import ServiceRuntime
from runtime.settings import Settings, get_settings
from services.notify import handlers
from services.notify.fanout import handlers as broadcast
from services.notify.fanout.runner import FanoutRunner
from services.notify.mailer import MailSender

HERE = Path(__file__).parent
SEED_TERMS = HERE / "seed" / "regulamin-ibok.txt"


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    rt = ServiceRuntime("notify", settings or get_settings(), HERE / "migrations")
    sender = MailSender(rt)
    fanout = FanoutRunner(rt, sender.wake, batch=rt.settings.fanout_batch)
    n = handlers.Notify(rt, sender, fanout)
    rt.consume(
        topology.events_queue("notify"),
        topology.EVENTS_EXCHANGE,
        {
            EmailVerificationRequested: partial(handlers.send_email_verification, n),
            PasswordResetRequested: partial(handlers.send_password_reset, n),
            EmailChangeRequested: partial(handlers.send_email_change_notice, n),
            LoginCodeRequested: partial(handlers.send_login_code, n),
            RegistrationRepeated: partial(handlers.warn_registration_repeated, n),
            CustomerContactChanged: partial(handlers.update_recipient, n),
            AccountErased: partial(handlers.forget_customer, n),
            CustomerRetentionEnded: partial(handlers.forget_customer, n),
            ComplaintOutcome: partial(handlers.tell_customer, n),
            ComplaintInformationRequested: partial(handlers.tell_customer, n),
            LegalizationExpiring: partial(handlers.tell_customer, n),
            ReadingFlagged: partial(handlers.tell_customer, n),
        },
    )
    rt.answer(ops.INBOX, partial(handlers.inbox, n))
    rt.answer(ops.MARK_READ, partial(handlers.mark_read, n))
    rt.answer(ops.TERMS_IN_FORCE, partial(broadcast.terms_in_force, n))
    rt.answer(ops.TERMS_VERSION, partial(broadcast.terms_version, n))
    rt.answer(ops.TERMS_VERSIONS, partial(broadcast.terms_versions, n))
    rt.answer(ops.PUBLISH_TERMS, partial(broadcast.publish_terms, n))
    rt.answer(ops.SEND_ANNOUNCEMENT, partial(broadcast.send_announcement, n))
    rt.answer(ops.FANOUT_STATUS, partial(broadcast.fanout_status, n))

    async def seed_terms() -> None:
        await broadcast.seed_terms(rt.pool, SEED_TERMS.read_text(encoding="utf-8"))

    rt.startup_hooks += [seed_terms, sender.start, fanout.start]
    rt.shutdown_hooks += [fanout.stop, sender.stop]
    return rt.asgi_app()
