"""The mail sender: delivers the email outbox over SMTP with retries and a delivery log."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from runtime.db import TRANSIENT_DB_ERRORS
from runtime.logs import get_logger
from runtime.service import ServiceRuntime
from services.notify import domain, store

log = get_logger(__name__)


class MailSender:
    """Claims due emails with a lease, sends them over one kept-open SMTP connection.

    A crash after sending and before recording means the lease runs out and the email is
    sent again with the same Message-ID, which lets mail systems recognise the repeat.
    """

    def __init__(self, rt: ServiceRuntime, *, batch: int = 20, poll_seconds: float = 1.0) -> None:
        self._rt = rt
        self._batch = batch
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._smtp: aiosmtplib.SMTP | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mail-sender")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._disconnect()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.send_due()
            except TRANSIENT_DB_ERRORS as exc:
                log.warning("mail.db_unavailable", error=type(exc).__name__)
                sent = 0
            except Exception:
                log.exception("mail.sender_failed")
                sent = 0
            if sent >= self._batch:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except TimeoutError:
                pass
            self._wake.clear()

    async def send_due(self) -> int:
        emails = await store.claim_due_emails(self._rt.pool, self._batch)
        for email in emails:
            await self._deliver(email)
        return len(emails)

    async def _deliver(self, email: store.Email) -> None:
        attempt = email.attempts + 1
        try:
            smtp = await self._connection()
            await smtp.send_message(_mime(email, self._rt.settings.mail_from))
        except aiosmtplib.SMTPResponseException as exc:
            await self._disconnect()
            if domain.is_permanent_smtp_failure(exc.code) or attempt >= domain.MAX_ATTEMPTS:
                await store.record_failure(self._rt.pool, email.id, attempt, exc.code, exc.message)
                log.warning("mail.failed", email_id=str(email.id), smtp_code=exc.code)
            else:
                await store.record_retry(
                    self._rt.pool,
                    email.id,
                    attempt,
                    exc.code,
                    exc.message,
                    domain.retry_delay(attempt),
                )
                log.info("mail.retry", email_id=str(email.id), smtp_code=exc.code, attempt=attempt)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._disconnect()
            if attempt >= domain.MAX_ATTEMPTS:
                await store.record_failure(self._rt.pool, email.id, attempt, None, repr(exc))
            else:
                await store.record_retry(
                    self._rt.pool, email.id, attempt, None, repr(exc), domain.retry_delay(attempt)
                )
            log.info(
                "mail.retry", email_id=str(email.id), error=type(exc).__name__, attempt=attempt
            )
        else:
            await store.record_sent(self._rt.pool, email.id, attempt)
            log.info("mail.sent", email_id=str(email.id), template=email.template)

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        s = self._rt.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host, port=s.smtp_port, start_tls=s.smtp_tls or None, timeout=10
        )
        await smtp.connect()
        if s.smtp_username:
            await smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
        self._smtp = smtp
        return smtp

    async def _disconnect(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None


def _mime(email: store.Email, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    # Stable across retries, so a repeat is recognisable.
    message["Message-ID"] = f"<{email.id}@ibok>"
    message.set_content(email.body_text)
    message.add_alternative(email.body_html, subtype="html")
    return message
