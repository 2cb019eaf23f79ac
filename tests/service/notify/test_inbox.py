"""The notify service's consumers and inbox (R10, R11, R15): handlers on notify's schema; events
are applied as its consumer applies them (``rt.deliver``: inbox record, unit of work)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from contracts import notify as msgs
from contracts.auth import CustomerContactChanged
from contracts.base import Envelope
from contracts.billing import ComplaintInformationRequested, ComplaintOutcome
from contracts.readings import LegalizationExpiring, ReadingFlagged
from runtime.errors import DomainError
from services.notify import handlers
from services.notify.handlers import Notify
from tests.support.service import count

HANDLERS: dict[type[Envelope], Any] = {
    ComplaintOutcome: handlers.tell_customer,
    ComplaintInformationRequested: handlers.tell_customer,
    LegalizationExpiring: handlers.tell_customer,
    ReadingFlagged: handlers.tell_customer,
    CustomerContactChanged: handlers.update_recipient,
}


async def deliver(n: Notify, *events: Envelope) -> None:
    for event in events:
        await n.rt.deliver(partial(HANDLERS[type(event)], n), event)


async def inbox(n: Notify, customer: str, **query: Any) -> msgs.InboxPage:
    return await handlers.inbox(n, msgs.InboxQuery(customer_number=customer, **query))


def events_for(customer_number: str, count: int) -> list[Envelope]:
    """``count`` events of the four kinds that land in a customer's inbox."""
    made: list[Envelope] = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            made.append(
                ComplaintOutcome(
                    complaint_id=uuid.uuid4(),
                    customer_number=customer_number,
                    subject=f"Reklamacja {i}",
                    outcome="rejected",
                    outcome_text='<script>alert("x")</script> bez zmian',
                    settled_on=date(2026, 3, 5),
                )
            )
        elif kind == 1:
            made.append(
                ComplaintInformationRequested(
                    complaint_id=uuid.uuid4(),
                    customer_number=customer_number,
                    subject=f"Reklamacja {i}",
                    question="Prosimy o zdjęcie wodomierza.",
                    due_on=date(2026, 3, 12),
                )
            )
        elif kind == 2:
            made.append(
                LegalizationExpiring(
                    customer_number=customer_number, serial=f"WM-{i}", expires_on=date(2026, 6, 30)
                )
            )
        else:
            made.append(
                ReadingFlagged(
                    reading_id=uuid.uuid4(),
                    customer_number=customer_number,
                    serial=f"WM-{i}",
                    value=Decimal("1234.500"),
                    read_on=date(2026, 3, 1),
                    daily_average_m3=Decimal("0.300"),
                )
            )
    return made


async def test_inbox_pages_newest_first_counts_unread_and_marks_read(notify: Notify) -> None:
    customer = "N0000020"
    await deliver(notify, *events_for(customer, 25))
    assert (await inbox(notify, customer)).unread == 25

    seen: list[msgs.InboxMessage] = []
    cursor: str | None = None
    sizes = []
    while True:
        page = await inbox(notify, customer, limit=10, cursor=cursor)
        sizes.append(len(page.items))
        seen += page.items
        if (cursor := page.next_cursor) is None:
            break
    assert sizes == [10, 10, 5]
    assert len({m.id for m in seen}) == 25
    keys = [(m.created_at, m.id) for m in seen]
    assert keys == sorted(keys, reverse=True), "not newest first"
    assert all(m.read_at is None for m in seen)
    # Staff text is kept as written, plain text (R12): the client shows it, never runs it.
    outcome = next(m for m in seen if m.kind == "complaint_outcome")
    assert '<script>alert("x")</script> bez zmian' in outcome.body
    assert outcome.title.endswith("nieuwzględniona")

    target = seen[3].id
    mark = msgs.MarkRead(customer_number=customer, message_id=target)
    read = await handlers.mark_read(notify, mark)
    assert read.id == target and read.read_at is not None
    assert (await handlers.mark_read(notify, mark)).read_at == read.read_at
    after = await inbox(notify, customer, limit=100)
    assert after.unread == 24
    assert [m.id for m in after.items if m.read_at] == [target]
    with pytest.raises(DomainError) as bad:
        await inbox(notify, customer, cursor="not-a-cursor")
    assert bad.value.code == "invalid_cursor"


async def test_another_customers_message_is_not_found_and_never_listed(notify: Notify) -> None:
    owner, other = "N0000021", "N0000022"
    await deliver(notify, *events_for(owner, 1))
    message = (await inbox(notify, owner)).items[0]

    refusals = []
    for message_id in (message.id, uuid.uuid4()):
        with pytest.raises(DomainError) as refused:
            await handlers.mark_read(
                notify, msgs.MarkRead(customer_number=other, message_id=message_id)
            )
        refusals.append((refused.value.code, refused.value.status, refused.value.detail))
    assert refusals[0] == refusals[1]
    assert refusals[0][:2] == ("message_not_found", 404)
    assert message.id not in {m.id for m in (await inbox(notify, other)).items}
    assert (await inbox(notify, owner)).items[0].read_at is None


async def test_an_event_delivered_twice_is_applied_once(notify: Notify) -> None:
    customer = "N0000023"
    [event] = events_for(customer, 1)
    await deliver(notify, event, event)
    assert (await inbox(notify, customer)).unread == 1
    inboxed = "SELECT count(*) FROM inbox WHERE message_id = $1"
    assert await count(notify.rt.pool, inboxed, event.message_id) == 1


async def test_a_known_recipient_is_emailed_and_an_unknown_one_told_in_the_inbox_only(
    notify: Notify,
) -> None:
    known, unknown = "N0000024", "N0000025"
    await deliver(
        notify,
        CustomerContactChanged(
            account_id=uuid.uuid4(),
            customer_number=known,
            login="n.known",
            email="n.known@example.com",
            language="en",
            marketing_consent=False,
            revision=1,
        ),
    )
    expires = date(2026, 6, 30)
    await deliver(
        notify,
        LegalizationExpiring(customer_number=known, serial="WM-1", expires_on=expires),
        LegalizationExpiring(customer_number=unknown, serial="WM-2", expires_on=expires),
    )
    emails = await notify.rt.pool.fetch(
        "SELECT recipient, customer_number FROM emails WHERE customer_number = ANY($1::text[])",
        [known, unknown],
    )
    assert [(e["recipient"], e["customer_number"]) for e in emails] == [
        ("n.known@example.com", known)
    ]
    assert (await inbox(notify, known)).unread == (await inbox(notify, unknown)).unread == 1
