"""Email delivery against a real SMTP server that answers as told: 4xx retried, 5xx final, refused retried.

A notify process of its own (own database, vhost and SMTP server) with a 50 ms backoff base,
so a retry comes in milliseconds rather than seconds.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from contracts.auth import PasswordResetRequested
from contracts.base import utc_now
from tests.support.events import publish_events
from tests.support.infra import Infra, free_port
from tools.system import System


@dataclass
class Attempt:
    recipient: str
    message_id: str
    answer: str
    peer_port: int
    parts: list[str] = field(default_factory=list)


class ScriptedSmtp:
    """Answers by recipient: ``tempfail.*`` gets 451 on its first DATA and 250 after; ``reject.*``
    always 550; anyone else 250. Every DATA is recorded with its Message-ID and client port."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        recipient = envelope.rcpt_tos[0]
        earlier = [a for a in self.attempts if a.recipient == recipient]
        if recipient.startswith("tempfail.") and not earlier:
            answer = "451 4.3.0 Temporary local problem, try again"
        elif recipient.startswith("reject."):
            answer = "550 5.1.1 Mailbox unavailable"
        else:
            answer = "250 OK"
        self.attempts.append(
            Attempt(
                recipient,
                str(message["Message-ID"]),
                answer,
                session.peer[1],
                [part.get_content_type() for part in message.walk()],
            )
        )
        return answer

    def of(self, recipient: str) -> list[Attempt]:
        return [a for a in self.attempts if a.recipient == recipient]

    def delivered(self, recipient: str) -> list[Attempt]:
        return [a for a in self.of(recipient) if a.answer.startswith("250")]


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.handler = ScriptedSmtp()
        self.port = port
        self.controller: Controller | None = None

    def start(self) -> None:
        if self.controller is None:
            self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
            self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lone_notify(
    own_infra: Infra, smtp_server: SmtpServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    from tests.conftest import system_env

    env = system_env(
        own_infra,
        SimpleNamespace(port=smtp_server.port),  # type: ignore[arg-type]
        IBOK_MAIL_RETRY_BASE_SECONDS="0.05",
        IBOK_MAIL_MAX_ATTEMPTS="10",
    )
    system = System(env, log_dir=tmp_path_factory.mktemp("mail-delivery-logs"))
    system.start("notify")
    try:
        system.wait_ready(("notify",), timeout=30)
        yield system
    finally:
        system.stop_all()


@pytest.fixture
async def notify_db(own_infra: Infra) -> Any:
    conn = await asyncpg.connect(own_infra.postgres_dsn)
    yield conn
    await conn.close()


def reset_requested(address: str) -> PasswordResetRequested:
    return PasswordResetRequested(
        account_id=uuid.uuid4(),
        login=address.split("@")[0],
        email=address,
        token="t" * 43,
        expires_at=utc_now() + timedelta(hours=1),
    )


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check.__name__}")
        await asyncio.sleep(0.05)


async def email_row(conn: asyncpg.Connection, address: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, status, attempts FROM notify.emails WHERE recipient = $1", address
    )


async def outcomes(conn: asyncpg.Connection, email_id: uuid.UUID) -> list[tuple[str, int | None]]:
    rows = await conn.fetch(
        "SELECT outcome, smtp_code FROM notify.email_deliveries WHERE email_id = $1 ORDER BY id",
        email_id,
    )
    return [(r["outcome"], r["smtp_code"]) for r in rows]


async def test_temporary_refusal_is_retried_and_the_email_delivered_once_with_the_same_message_id(
    lone_notify: System, own_infra: Infra, smtp_server: SmtpServer, notify_db: asyncpg.Connection
) -> None:
    smtp_server.start()
    address = "tempfail.reset@example.com"
    await publish_events(own_infra.amqp_url, [reset_requested(address)])

    async def sent() -> Any:
        row = await email_row(notify_db, address)
        return row if row and row["status"] == "sent" else None

    row = await eventually(sent)
    attempts = smtp_server.handler.of(address)
    assert [a.answer[:3] for a in attempts] == ["451", "250"]
    assert attempts[0].message_id == attempts[1].message_id == f"<{row['id']}@ibok>"
    assert len(smtp_server.handler.delivered(address)) == 1
    assert row["attempts"] == 2
    assert await outcomes(notify_db, row["id"]) == [("retry", 451), ("sent", 250)]


async def test_permanent_refusal_is_recorded_failed_and_not_retried(
    lone_notify: System, own_infra: Infra, smtp_server: SmtpServer, notify_db: asyncpg.Connection
) -> None:
    smtp_server.start()
    rejected, later = "reject.reset@example.com", "after-reject.reset@example.com"
    await publish_events(own_infra.amqp_url, [reset_requested(rejected)])

    async def failed() -> Any:
        row = await email_row(notify_db, rejected)
        return row if row and row["status"] == "failed" else None

    row = await eventually(failed)
    assert row["attempts"] == 1
    assert await outcomes(notify_db, row["id"]) == [("failed", 550)]
    # A later email goes through; by then a retry (50 ms backoff) would long have come.
    await publish_events(own_infra.amqp_url, [reset_requested(later)])

    async def later_delivered() -> bool:
        return bool(smtp_server.handler.delivered(later))

    await eventually(later_delivered)
    assert [a.answer[:3] for a in smtp_server.handler.of(rejected)] == ["550"]
    assert (await email_row(notify_db, rejected))["status"] == "failed"  # type: ignore[index]


async def test_refused_connection_is_retried_until_the_server_answers(
    lone_notify: System, own_infra: Infra, smtp_server: SmtpServer, notify_db: asyncpg.Connection
) -> None:
    smtp_server.stop()
    address = "refused.reset@example.com"
    await publish_events(own_infra.amqp_url, [reset_requested(address)])

    async def retried() -> Any:
        row = await email_row(notify_db, address)
        return row if row and row["attempts"] >= 1 else None

    row = await eventually(retried)
    assert row["status"] == "pending"
    assert (await outcomes(notify_db, row["id"]))[0] == ("retry", None)
    smtp_server.start()

    async def sent() -> Any:
        found = await email_row(notify_db, address)
        return found if found and found["status"] == "sent" else None

    row = await eventually(sent)
    assert len(smtp_server.handler.delivered(address)) == 1
    history = await outcomes(notify_db, row["id"])
    assert history[-1] == ("sent", 250)
    assert all(outcome == ("retry", None) for outcome in history[:-1])
    assert row["attempts"] == len(history) >= 2


async def test_emails_in_a_row_share_one_kept_smtp_connection_and_carry_both_parts(
    lone_notify: System, own_infra: Infra, smtp_server: SmtpServer, notify_db: asyncpg.Connection
) -> None:
    smtp_server.start()
    addresses = [f"pooled{i}.reset@example.com" for i in range(6)]
    await publish_events(own_infra.amqp_url, [reset_requested(a) for a in addresses])

    async def all_delivered() -> bool:
        return all(smtp_server.handler.delivered(a) for a in addresses)

    await eventually(all_delivered)
    attempts = [smtp_server.handler.delivered(a)[0] for a in addresses]
    # Each of the sender's kept connections (IBOK_SMTP_CONNECTIONS, 2) carries several emails.
    assert len({a.peer_port for a in attempts}) <= 2, "emails opened connections of their own"
    for attempt in attempts:
        assert attempt.parts == ["multipart/alternative", "text/plain", "text/html"]
