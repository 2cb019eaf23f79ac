"""Wiring of the notify service: its queues, its handlers, the mail sender and its HTTP side."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from faststream.asgi import AsgiFastStream

from contracts import topology
from contracts.auth import EmailVerificationRequested
from runtime.service import ServiceRuntime
from runtime.settings import Settings, get_settings
from services.notify import handlers
from services.notify.mailer import MailSender


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    rt = ServiceRuntime("notify", settings or get_settings(), Path(__file__).parent / "migrations")
    sender = MailSender(rt)
    rt.consume(
        topology.events_queue("notify"),
        topology.EVENTS_EXCHANGE,
        {EmailVerificationRequested: partial(handlers.send_email_verification, rt, sender)},
    )
    rt.startup_hooks.append(sender.start)
    rt.shutdown_hooks.append(sender.stop)
    return rt.asgi_app()
