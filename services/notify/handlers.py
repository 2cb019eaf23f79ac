"""One short function per event the notify service receives."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from contracts.auth import EmailVerificationRequested
from runtime.clock import WARSAW
from runtime.messaging import first_delivery
from runtime.service import ServiceRuntime
from services.notify import domain, store
from services.notify.mailer import MailSender


async def send_email_verification(
    rt: ServiceRuntime, sender: MailSender, msg: EmailVerificationRequested
) -> None:
    """R17: the address is verified by a link before the account is usable."""
    link = f"{rt.settings.public_url}/verify-email?token={quote(msg.token)}"
    expires = msg.expires_at.astimezone(WARSAW).strftime("%d.%m.%Y %H:%M")
    email = domain.render_email(
        "email_verification", msg.language, login=msg.login, link=link, expires=expires
    )
    async with rt.pool.acquire() as conn, conn.transaction():
        if await first_delivery(conn, msg):
            email_id = uuid.uuid5(msg.message_id, "email_verification")
            await store.queue_email(conn, email_id, str(msg.email), "email_verification", email)
    sender.wake()
