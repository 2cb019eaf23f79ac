"""Messages to every customer: a terms change survives a SIGKILL halfway; announcements respect consent.

Notify and a gateway of their own (own database, vhost and SMTP sink) with 2,000 recipients
from contact events: every 7th chose English, every 100th consented to commercial information.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx
import pytest

from contracts import notify
from contracts.auth import CustomerContactChanged, PasswordResetRequested
from contracts.base import utc_now
from runtime.clock import business_today
from runtime.rpc_client import RpcClient, RpcProblem
from tests.support.events import publish_events
from tests.support.infra import Infra, free_port
from tests.support.mail import MailSink, text_part
from tools.system import System

RECIPIENTS = 2000


def number(i: int) -> str:
    return f"NF{i:05d}"


def address(i: int) -> str:
    return f"nf{i:05d}@example.com"


def english(i: int) -> bool:
    return i % 7 == 0


def consents(i: int) -> bool:
    return i % 100 == 0


@pytest.fixture(scope="module")
def sink() -> Iterator[MailSink]:
    running = MailSink(free_port()).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def fanout_system(
    own_infra: Infra, sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    from tests.conftest import system_env

    env = system_env(
        own_infra,
        sink,
        # Small batches so a kill lands halfway; a short lease so the emails the killed
        # process had claimed go out soon after the restart.
        IBOK_FANOUT_BATCH="25",
        IBOK_MAIL_LEASE_SECONDS="2",
        IBOK_MAIL_RETRY_BASE_SECONDS="0.2",
    )
    system = System(env, log_dir=tmp_path_factory.mktemp("fanout-logs"))
    system.start("notify")
    system.start("gateway")
    try:
        system.wait_ready(("notify", "gateway"), timeout=30)
        yield system
    finally:
        system.stop_all()


@pytest.fixture
async def rpc(own_infra: Infra) -> AsyncIterator[RpcClient]:
    client = RpcClient(own_infra.amqp_url, timeout=10)
    await client.start()
    yield client
    await client.stop()


@pytest.fixture
async def notify_db(own_infra: Infra) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(own_infra.postgres_dsn)
    yield conn
    await conn.close()


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if result := await check():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check.__name__}")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def recipients(fanout_system: System, own_infra: Infra) -> list[int]:
    async def load() -> None:
        await publish_events(
            own_infra.amqp_url,
            [
                CustomerContactChanged(
                    account_id=uuid.uuid5(uuid.NAMESPACE_URL, number(i)),
                    customer_number=number(i),
                    login=number(i).lower(),
                    email=address(i),
                    language="en" if english(i) else "pl",
                    marketing_consent=consents(i),
                    revision=1,
                )
                for i in range(RECIPIENTS)
            ],
        )
        conn = await asyncpg.connect(own_infra.postgres_dsn)
        try:

            async def all_known() -> bool:
                return await conn.fetchval("SELECT count(*) FROM notify.recipients") == RECIPIENTS

            await eventually(all_known)
        finally:
            await conn.close()

    asyncio.run(load())
    return list(range(RECIPIENTS))


def received(sink: MailSink, subject_contains: tuple[str, ...]) -> list[EmailMessage]:
    return [
        m
        for m in list(sink.handler.messages)
        if any(s in str(m["Subject"]) for s in subject_contains)
    ]


async def finished(rpc: RpcClient, job_id: Any) -> notify.FanoutStatus:
    async def done() -> notify.FanoutStatus | None:
        status = await rpc.call(notify.FANOUT_STATUS, notify.FanoutStatusQuery(job_id=job_id))
        return status if status.status == "done" else None

    result: notify.FanoutStatus = await eventually(done)
    return result


async def test_terms_fanout_killed_halfway_resumes_and_reaches_everyone_exactly_once(
    fanout_system: System,
    own_infra: Infra,
    recipients: list[int],
    rpc: RpcClient,
    notify_db: asyncpg.Connection,
    sink: MailSink,
) -> None:
    gateway = fanout_system.url("gateway")
    async with httpx.AsyncClient(base_url=gateway) as client:
        before = (await client.get("/api/v1/terms")).json()
    assert before["version"] == 1 and "REGULAMIN" in before["text"]

    today = business_today()
    published = await rpc.call(
        notify.PUBLISH_TERMS,
        notify.PublishTerms(
            text="Regulamin IBOK, wersja 2.\n§ 1 ...", effective_on=today, published_by="t"
        ),
    )
    assert published.version == 2

    async def halfway() -> asyncpg.Record | None:
        row = await notify_db.fetchrow(
            "SELECT status, done FROM notify.fanout_jobs WHERE id = $1", published.fanout_job_id
        )
        assert row["status"] == "running", "the fan-out finished before it could be killed"
        return row if row["done"] >= 300 else None

    await eventually(halfway, timeout=30)
    fanout_system.kill("notify")
    at_kill = await notify_db.fetchrow(
        "SELECT status, done, total FROM notify.fanout_jobs WHERE id = $1", published.fanout_job_id
    )
    assert at_kill["status"] == "running" and 0 < at_kill["done"] < RECIPIENTS
    assert at_kill["total"] == RECIPIENTS

    fanout_system.start("notify")
    fanout_system.wait_ready(("notify",), timeout=30)
    # A personal email meanwhile does not wait behind the fan-out's emails.
    reset = PasswordResetRequested(
        account_id=uuid.uuid4(),
        login="nf.reset",
        email="nf-reset@example.com",
        token="p" * 43,
        expires_at=utc_now() + timedelta(hours=1),
    )
    await publish_events(own_infra.amqp_url, [reset])
    status = await finished(rpc, published.fanout_job_id)
    assert (status.done, status.total, status.emails) == (RECIPIENTS, RECIPIENTS, RECIPIENTS)

    async def all_sent() -> bool:
        sent = await notify_db.fetchval(
            "SELECT count(*) FROM notify.emails WHERE template = 'terms_changed' AND status = 'sent'"
        )
        return bool(sent == RECIPIENTS)

    await eventually(all_sent, timeout=120)
    after_reset = await notify_db.fetchval(
        "SELECT count(*) FROM notify.emails WHERE template = 'terms_changed' AND sent_at >"
        " (SELECT sent_at FROM notify.emails WHERE recipient = 'nf-reset@example.com')"
    )
    assert after_reset > 100, "the password reset waited behind the terms notices"

    # One inbox message per customer.
    inbox = await notify_db.fetch(
        "SELECT customer_number, count(*) AS n FROM notify.inbox_messages"
        " WHERE kind = 'terms_changed' GROUP BY customer_number"
    )
    assert {r["customer_number"] for r in inbox} == {number(i) for i in recipients}
    assert {r["n"] for r in inbox} == {1}

    # One email per customer. An email the killed sender had in flight when it died (one per
    # SMTP connection at most) can arrive a second time, and then with the same Message-ID.
    mails = received(sink, ("zmiana regulaminu", "terms of service change"))
    by_recipient: dict[str, set[str]] = defaultdict(set)
    for mail in mails:
        by_recipient[str(mail["To"])].add(str(mail["Message-ID"]))
    assert set(by_recipient) == {address(i) for i in recipients}
    assert {len(ids) for ids in by_recipient.values()} == {1}
    # At most one per SMTP connection (IBOK_SMTP_CONNECTIONS, 2 by default).
    assert len(mails) - RECIPIENTS <= 2, Counter(str(m["To"]) for m in mails).most_common(3)
    for i in (0, 1):
        mail = next(m for m in mails if m["To"] == address(i))
        assert ("terms of service" if english(i) else "zmiana regulaminu") in str(mail["Subject"])
        assert "Regulamin IBOK, wersja 2." not in text_part(mail)  # the text stays in IBOK

    # Progress is reported in the logs.
    assert fanout_system.log_dir is not None
    log = (fanout_system.log_dir / "notify.log").read_text()
    assert '"fanout.progress"' in log and '"fanout.finished"' in log

    # The new version is in force today; the old one stays readable.
    async with httpx.AsyncClient(base_url=gateway) as client:
        now = (await client.get("/api/v1/terms")).json()
        versions = (await client.get("/api/v1/terms/versions")).json()
        first = (await client.get("/api/v1/terms/versions/1")).json()
    assert now["version"] == 2 and now["text"].startswith("Regulamin IBOK, wersja 2.")
    assert [(v["version"], v["in_force"]) for v in versions["items"]] == [(2, True), (1, False)]
    assert first["text"] == before["text"]
    yesterday = await rpc.call(
        notify.TERMS_IN_FORCE, notify.TermsInForceQuery(on=today - timedelta(days=1))
    )
    assert yesterday.version == 1


async def test_terms_cannot_be_published_retroactively(
    fanout_system: System, rpc: RpcClient, notify_db: asyncpg.Connection
) -> None:
    versions = await notify_db.fetchval("SELECT count(*) FROM notify.terms_versions")
    jobs = await notify_db.fetchval("SELECT count(*) FROM notify.fanout_jobs")
    with pytest.raises(RpcProblem) as refused:
        await rpc.call(
            notify.PUBLISH_TERMS,
            notify.PublishTerms(
                text="Wsteczny", effective_on=business_today() - timedelta(days=1), published_by="t"
            ),
        )
    assert refused.value.problem.code == "terms_effective_in_past"
    assert await notify_db.fetchval("SELECT count(*) FROM notify.terms_versions") == versions
    assert await notify_db.fetchval("SELECT count(*) FROM notify.fanout_jobs") == jobs


async def test_announcement_is_emailed_only_to_consenting_customers_and_reaches_every_inbox(
    fanout_system: System,
    recipients: list[int],
    rpc: RpcClient,
    notify_db: asyncpg.Connection,
    sink: MailSink,
) -> None:
    subject = "Nowa taryfa od lipca"
    sent = await rpc.call(
        notify.SEND_ANNOUNCEMENT,
        notify.SendAnnouncement(
            subject=subject,
            body="Szanowni Państwo,\n\nod lipca <b>nowa</b> taryfa.",
            sent_by="t",
        ),
    )
    consenting = {address(i) for i in recipients if consents(i)}
    status = await finished(rpc, sent.fanout_job_id)
    assert (status.done, status.emails) == (RECIPIENTS, len(consenting))

    async def all_sent() -> bool:
        count = await notify_db.fetchval(
            "SELECT count(*) FROM notify.emails WHERE template = 'announcement' AND status = 'sent'"
        )
        return bool(count == len(consenting))

    await eventually(all_sent)
    mails = received(sink, (subject,))
    assert sorted(str(m["To"]) for m in mails) == sorted(consenting)
    html = mails[0].get_body(preferencelist=("html",))
    assert html is not None
    assert "&lt;b&gt;nowa&lt;/b&gt;" in str(html.get_content())
    assert "<b>nowa</b>" in text_part(mails[0])

    inbox = await notify_db.fetchval(
        "SELECT count(DISTINCT customer_number) FROM notify.inbox_messages"
        " WHERE kind = 'announcement' AND title = $1",
        subject,
    )
    assert inbox == RECIPIENTS
