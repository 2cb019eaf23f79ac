"""The mail sender: delivers the email outbox over kept-open SMTP connections, with retries and a log."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formatdate, parseaddr
from functools import lru_cache, partial

import aiosmtplib
from prometheus_client import Counter

from runtime import tls
from runtime.logs import get_logger
from runtime.service import ServiceRuntime
from runtime.settings import Settings
from runtime.worker import keep_draining
from services.notify import domain, store

log = get_logger(__name__)

# A connection unused for longer is closed before the next email: servers drop idle clients
# (RFC 5321 allows 5 minutes), and a fresh connection is cheaper than a failed attempt.
IDLE_SECONDS = 30.0


class SmtpConnection:
    """One SMTP connection, opened on first use, reused for the next emails, reopened after trouble."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._smtp: aiosmtplib.SMTP | None = None
        self._last_used = 0.0

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Send one email. Raises aiosmtplib's errors, OSError or TimeoutError when it was not accepted."""
        reused = self._usable()
        try:
            await self._send_once(sender, recipient, message)
        except aiosmtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # The server dropped a kept connection between emails: one fresh try, not an attempt.
            await self._send_once(sender, recipient, message)

    async def _send_once(self, sender: str, recipient: str, message: bytes) -> None:
        smtp = await self._open()
        try:
            await smtp.sendmail(sender, [recipient], message)
        except aiosmtplib.SMTPResponseException as exc:
            # After a refusal aiosmtplib resets the transaction; the connection stays usable
            # unless the server said it is closing (421) or went away.
            if exc.code == 421 or not smtp.is_connected:
                self.close()
            raise
        except aiosmtplib.SMTPRecipientsRefused:
            raise
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            self.close()
            raise
        self._last_used = time.monotonic()

    def _usable(self) -> bool:
        if self._smtp is None or not self._smtp.is_connected:
            return False
        if time.monotonic() - self._last_used > IDLE_SECONDS:
            self.close()
            return False
        return True

    async def _open(self) -> aiosmtplib.SMTP:
        if self._usable():
            assert self._smtp is not None
            return self._smtp
        s = self._settings
        # STARTTLS is required when asked for (never silently plain); the certificate is verified.
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls == "implicit",
            start_tls=True if s.smtp_tls == "starttls" else False,
            tls_context=tls.smtp_context(s.smtp_ca_file) if s.smtp_tls != "off" else None,
            timeout=s.smtp_timeout,
        )
        await smtp.connect()
        if s.smtp_username:
            await smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
        self._smtp = smtp
        self._last_used = time.monotonic()
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None


def failure_of(exc: BaseException) -> tuple[int | None, str]:
    """The SMTP code (None for connection trouble) and a short description of a failed attempt."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        refused = exc.recipients[0]
        return refused.code, f"{refused.code} {refused.message}"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code, f"{exc.code} {exc.message}"
    return None, f"{type(exc).__name__}: {exc}"


class MailSender:
    """Claims due emails with a lease and sends them, one worker per SMTP connection.

    A crash after the server accepted an email and before "sent" is recorded means the lease
    runs out and the email is sent again with the same Message-ID, which lets mail systems
    recognise the repeat; at most one email per connection is in that window at any time.
    """

    def __init__(self, rt: ServiceRuntime, *, poll_seconds: float = 1.0) -> None:
        self._rt = rt
        s = rt.settings
        self._batch = s.mail_batch
        self._lease = timedelta(seconds=s.mail_lease_seconds)
        self._retry_base = timedelta(seconds=s.mail_retry_base_seconds)
        self._max_attempts = s.mail_max_attempts
        self._mail_from = s.mail_from
        self._envelope_sender = parseaddr(s.mail_from)[1]
        self._poll = min(poll_seconds, s.mail_retry_base_seconds)
        self._connections = [SmtpConnection(s) for _ in range(s.smtp_connections)]
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._outcomes = Counter(
            "ibok_notify_email_attempts",
            "Email delivery attempts by outcome (sent, retry, failed).",
            ["outcome"],
            registry=rt.registry,
        )

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(connection), name=f"mail-sender-{i}")
            for i, connection in enumerate(self._connections)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        for connection in self._connections:
            connection.close()

    async def _run(self, connection: SmtpConnection) -> None:
        await keep_draining(
            partial(self.send_due, connection),
            wake=self._wake,
            poll_seconds=self._poll,
            full_batch=self._batch,
            name="mail",
        )

    async def send_due(self, connection: SmtpConnection) -> int:
        emails = await store.claim_due_emails(self._rt.pool, self._batch, self._lease)
        # Stop well inside the lease (a slow server): past it another sender could take the
        # same emails and send them twice.
        stop_at = time.monotonic() + self._lease.total_seconds() / 2
        for done, email in enumerate(emails):
            if time.monotonic() > stop_at:
                await store.release_emails(self._rt.pool, [e.id for e in emails[done:]])
                return done
            await self._deliver(connection, email)
        return len(emails)

    async def _deliver(self, connection: SmtpConnection, email: store.Email) -> None:
        attempt = email.attempts + 1
        pool = self._rt.pool
        try:
            await connection.send(
                self._envelope_sender, email.recipient, mime_bytes(email, self._mail_from)
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            smtp_code, detail = failure_of(exc)
            outcome = domain.after_failed_attempt(smtp_code, attempt, self._max_attempts)
            self._outcomes.labels(outcome).inc()
            if outcome == "failed":
                await store.record_failure(pool, email.id, attempt, smtp_code, detail)
                log.warning(
                    "mail.failed", email_id=str(email.id), smtp_code=smtp_code, attempt=attempt
                )
            else:
                delay = domain.retry_delay(attempt, self._retry_base)
                await store.record_retry(pool, email.id, attempt, smtp_code, detail, delay)
                log.info(
                    "mail.retry",
                    email_id=str(email.id),
                    smtp_code=smtp_code,
                    error=type(exc).__name__,
                    attempt=attempt,
                    delay_s=delay.total_seconds(),
                )
        else:
            # The end of DATA was answered 250 (aiosmtplib raises on anything else).
            await store.record_sent(pool, email.id, attempt, 250)
            self._outcomes.labels("sent").inc()
            log.info("mail.sent", email_id=str(email.id), template=email.template, attempt=attempt)


def mime_bytes(email: store.Email, sender: str) -> bytes:
    """The email as it goes over the wire: plain text and HTML alternatives, UTF-8.

    Built with the standard library's compat32 classes, about ten times faster than
    ``EmailMessage`` (whose header parsing dominated a 100,000-email fan-out), and the encoded
    body is reused across the emails of a fan-out, which share it. The addresses were
    validated when they entered IBOK and the subject is RFC 2047-encoded.
    """
    content_headers, body = _encoded_body(email.body_text, email.body_html)
    headers = (
        f"From: {sender}\n"
        f"To: {_header(email.recipient)}\n"
        f"Subject: {_header(email.subject)}\n"
        f"Date: {formatdate(localtime=False)}\n"
        # Stable across retries, so a repeat is recognisable.
        f"Message-ID: <{email.id}@ibok>\n"
    )
    return headers.encode("ascii") + content_headers + b"\n\n" + body


def _header(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("a header value must be one line")
    return value if value.isascii() else Header(value, "utf-8").encode()


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in a raw mailbox, unlike base64


@lru_cache(maxsize=32)
def _encoded_body(text: str, html: str) -> tuple[bytes, bytes]:
    """(the multipart's Content-Type and MIME-Version lines, its encoded parts)."""
    message = MIMEMultipart("alternative")
    for subtype, content in (("plain", text), ("html", html)):
        part = MIMENonMultipart("text", subtype)
        part.set_payload(content, _UTF8_QP)
        message.attach(part)
    head, _, body = message.as_bytes().partition(b"\n\n")
    return head, body
