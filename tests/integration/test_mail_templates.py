"""Every event notify handles arrives by real SMTP: right recipient, subject, both parts; inbox too.

The events are published to the running system's ``ibok.events`` as the other services would;
the recipients (made-up customer numbers ``NT-TPL-*``) come from contact events like auth's.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import asyncpg
import pytest

from contracts.auth import (
    AccountErased,
    CustomerContactChanged,
    EmailVerificationRequested,
    PasswordResetRequested,
)
from contracts.base import Envelope, utc_now
from contracts.billing import ComplaintInformationRequested, ComplaintOutcome
from contracts.readings import LegalizationExpiring, ReadingFlagged
from services.notify.domain import event_message_ids
from tests.support.events import publish_events
from tests.support.infra import Infra
from tests.support.mail import MailSink, text_part
from tools.system import System


def contact(number: str, address: str, language: str = "pl", revision: int = 1, **kw: Any) -> Any:
    return CustomerContactChanged(
        account_id=kw.pop("account_id", uuid.uuid5(uuid.NAMESPACE_URL, number)),
        customer_number=number,
        login=number.lower(),
        email=address,
        language=language,
        revision=revision,
        **kw,
    )


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if result := await check():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check.__name__}")
        await asyncio.sleep(0.05)


async def recipient_email(db: asyncpg.Connection, number: str) -> str | None:
    return await db.fetchval(
        "SELECT email FROM notify.recipients WHERE customer_number = $1", number
    )


async def known(db: asyncpg.Connection, number: str, address: str) -> None:
    async def arrived() -> bool:
        return await recipient_email(db, number) == address

    await eventually(arrived)


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def customer_events(number: str, prefix: str) -> dict[str, Envelope]:
    """One event of each kind addressed to customer ``number``, keyed by what the subject says."""
    complaint = uuid.uuid4()
    return {
        "rozpatrzenie reklamacji" if prefix == "pl" else "decision on your complaint": (
            ComplaintOutcome(
                complaint_id=complaint,
                customer_number=number,
                subject="Faktura FV/2026/03/0001",
                outcome="accepted",
                outcome_text="Wystawiono korektę <b>faktury</b>.",
                settled_on=date(2026, 3, 5),
            )
        ),
        "prosimy o informacje" if prefix == "pl" else "information needed": (
            ComplaintInformationRequested(
                complaint_id=complaint,
                customer_number=number,
                subject="Faktura FV/2026/03/0001",
                question="Prosimy o zdjęcie wodomierza.",
                due_on=date(2026, 3, 12),
            )
        ),
        "legalizacja wodomierza" if prefix == "pl" else "legal verification": (
            LegalizationExpiring(
                customer_number=number, serial="WM-77", expires_on=date(2026, 6, 30)
            )
        ),
        "do sprawdzenia" if prefix == "pl" else "will be checked": ReadingFlagged(
            reading_id=uuid.uuid4(),
            customer_number=number,
            serial="WM-77",
            value=Decimal("1234.500"),
            read_on=date(2026, 3, 1),
            daily_average_m3=Decimal("0.300"),
        ),
    }


@pytest.mark.parametrize(("language", "number"), [("pl", "NT-TPL-PL"), ("en", "NT-TPL-EN")])
async def test_customer_events_arrive_as_emails_with_both_parts_and_land_in_the_inbox(
    system: System,
    infra: Infra,
    mail_sink: MailSink,
    db: asyncpg.Connection,
    language: str,
    number: str,
) -> None:
    address = f"{number.lower()}@example.com"
    await publish_events(infra.amqp_url, [contact(number, address, language)])
    await known(db, number, address)
    events = customer_events(number, language)
    await publish_events(infra.amqp_url, list(events.values()))

    for subject, event in events.items():
        mail = await asyncio.to_thread(mail_sink.wait_for, address, 15, subject)
        assert mail["To"] == address
        assert str(mail["Subject"]).startswith("IBOK: ")
        _, email_id = event_message_ids(event.message_id)
        assert mail["Message-ID"] == f"<{email_id}@ibok>"
        text, html = text_part(mail), html_part(mail)
        assert text.startswith("Dzień dobry" if language == "pl" else "Hello")
        assert html.startswith("<!doctype html>") and f'lang="{language}"' in html
        if isinstance(event, ComplaintOutcome):
            # Staff text: as written in the plain part, escaped in the HTML part (R12).
            assert "Wystawiono korektę <b>faktury</b>." in text
            assert "<b>faktury</b>" not in html and "&lt;b&gt;faktury&lt;/b&gt;" in html

    kinds = await db.fetch(
        "SELECT kind, id FROM notify.inbox_messages WHERE customer_number = $1", number
    )
    assert sorted(k["kind"] for k in kinds) == sorted(
        [
            "complaint_outcome",
            "complaint_information_requested",
            "legalization_expiring",
            "reading_flagged",
        ]
    )
    assert {k["id"] for k in kinds} == {event_message_ids(e.message_id)[0] for e in events.values()}


@pytest.mark.parametrize(
    ("purpose", "subject"),
    [("registration", "potwierdź adres e-mail"), ("email_change", "potwierdź nowy adres")],
)
async def test_verification_email_says_what_it_confirms(
    system: System, infra: Infra, mail_sink: MailSink, purpose: str, subject: str
) -> None:
    address = f"nt-verify-{purpose}@example.com"
    event = EmailVerificationRequested(
        account_id=uuid.uuid4(),
        login="nt.verify",
        email=address,
        token="v" * 43,
        expires_at=utc_now() + timedelta(hours=48),
        purpose=purpose,  # type: ignore[arg-type]
    )
    await publish_events(infra.amqp_url, [event])
    mail = await asyncio.to_thread(mail_sink.wait_for, address, 15, subject)
    assert f"/verify-email?token={'v' * 43}" in text_part(mail)
    assert f"/verify-email?token={'v' * 43}" in html_part(mail)


async def test_password_reset_email_carries_the_link_in_the_chosen_language(
    system: System, infra: Infra, mail_sink: MailSink
) -> None:
    address = "nt-reset-en@example.com"
    event = PasswordResetRequested(
        account_id=uuid.uuid4(),
        login="nt.reset",
        email=address,
        token="r" * 43,
        expires_at=utc_now() + timedelta(hours=1),
        language="en",
    )
    await publish_events(infra.amqp_url, [event])
    mail = await asyncio.to_thread(mail_sink.wait_for, address, 15, "set a new password")
    assert f"/password-reset?token={'r' * 43}" in text_part(mail)
    assert "nt.reset" in html_part(mail)


async def test_without_a_known_address_the_message_stays_in_the_inbox_and_no_email_is_queued(
    system: System, infra: Infra, db: asyncpg.Connection
) -> None:
    event = LegalizationExpiring(
        customer_number="NT-NOBODY", serial="WM-1", expires_on=date(2026, 9, 1)
    )
    await publish_events(infra.amqp_url, [event, event])  # and a duplicate delivery
    inbox_id, email_id = event_message_ids(event.message_id)

    async def in_inbox() -> bool:
        return bool(
            await db.fetchval("SELECT count(*) FROM notify.inbox_messages WHERE id = $1", inbox_id)
        )

    await eventually(in_inbox)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM notify.inbox_messages WHERE customer_number = 'NT-NOBODY'"
        )
        == 1
    )
    assert await db.fetchval("SELECT count(*) FROM notify.emails WHERE id = $1", email_id) == 0


async def test_an_older_contact_revision_never_overwrites_a_newer_one(
    system: System, infra: Infra, db: asyncpg.Connection
) -> None:
    number = "NT-REVISION"
    await publish_events(infra.amqp_url, [contact(number, "new@example.com", revision=5)])
    await known(db, number, "new@example.com")
    await publish_events(
        infra.amqp_url,
        [
            contact(number, "old@example.com", revision=4),
            contact(number, "newest@example.com", revision=6, marketing_consent=True),
        ],
    )
    await known(db, number, "newest@example.com")
    row = await db.fetchrow(
        "SELECT revision, marketing_consent FROM notify.recipients WHERE customer_number = $1",
        number,
    )
    assert (row["revision"], row["marketing_consent"]) == (6, True)


async def test_an_erased_account_is_forgotten_with_its_inbox_and_never_comes_back(
    system: System, infra: Infra, db: asyncpg.Connection
) -> None:
    number, address = "NT-ERASED", "nt-erased@example.com"
    created = contact(number, address)
    await publish_events(infra.amqp_url, [created])
    await known(db, number, address)
    outcome = customer_events(number, "pl")["legalizacja wodomierza"]
    await publish_events(infra.amqp_url, [outcome])

    async def in_inbox() -> bool:
        return bool(
            await db.fetchval(
                "SELECT count(*) FROM notify.inbox_messages WHERE customer_number = $1", number
            )
        )

    await eventually(in_inbox)
    await publish_events(
        infra.amqp_url,
        [AccountErased(account_id=created.account_id, customer_number=number)],
    )

    async def forgotten() -> bool:
        return await recipient_email(db, number) is None and not await in_inbox()

    await eventually(forgotten)
    _, email_id = event_message_ids(outcome.message_id)
    email = await db.fetchrow(
        "SELECT recipient, subject, body_text, customer_number FROM notify.emails WHERE id = $1",
        email_id,
    )
    assert tuple(email) == ("erased", "", "", None)
    # A contact event still in flight does not bring the erased account back.
    late = contact(number, address, revision=2)
    await publish_events(infra.amqp_url, [late])

    async def processed() -> bool:
        return bool(
            await db.fetchval(
                "SELECT count(*) FROM notify.inbox WHERE message_id = $1", late.message_id
            )
        )

    await eventually(processed)
    assert await recipient_email(db, number) is None
