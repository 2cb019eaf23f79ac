"""The IBOK inbox and the terms through the gateway: pages newest first, unread count, read marking, 404s.

Messages reach the inbox from events (complaint outcome, reading flagged ...) published to the
running system's ``ibok.events`` as billing and readings would.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from contracts.base import Envelope
from contracts.billing import ComplaintInformationRequested, ComplaintOutcome
from contracts.readings import LegalizationExpiring, ReadingFlagged
from tests.support.customers import logged_in_client, with_active_contract
from tests.support.events import publish_events
from tests.support.infra import Infra
from tests.support.mail import MailSink
from tools.billing_sim.dataset import Dataset


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


async def inbox_with(client: httpx.AsyncClient, unread: int, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        answer = await client.get("/api/v1/inbox")
        assert answer.status_code == 200, answer.text
        if answer.json()["unread"] >= unread:
            return answer.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"inbox has {answer.json()['unread']} unread, not {unread}")
        await asyncio.sleep(0.1)


async def test_inbox_pages_newest_first_counts_unread_and_marks_read(
    gateway: str, billing_data: Dataset, mail_sink: MailSink, infra: Infra
) -> None:
    customer = with_active_contract(billing_data, 20)
    client = await logged_in_client(gateway, mail_sink, customer, "notify.inbox20")
    try:
        await publish_events(infra.amqp_url, events_for(customer.number, 25))
        first = await inbox_with(client, 25)
        assert first["unread"] == 25

        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        sizes = []
        while True:
            params: dict[str, Any] = {"limit": 10} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/api/v1/inbox", params=params)).json()
            sizes.append(len(page["items"]))
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sizes == [10, 10, 5]
        assert len({m["id"] for m in seen}) == 25
        keys = [(m["created_at"], m["id"]) for m in seen]
        assert keys == sorted(keys, reverse=True), "not newest first"
        assert all(not m["read"] and m["read_at"] is None for m in seen)

        # Staff text is kept as written, plain text (R12): the client shows it, never runs it.
        outcome = next(m for m in seen if m["kind"] == "complaint_outcome")
        assert '<script>alert("x")</script> bez zmian' in outcome["body"]
        assert outcome["title"].endswith("nieuwzględniona")

        target = seen[3]["id"]
        read = await client.post(f"/api/v1/inbox/{target}/read")
        assert read.status_code == 200, read.text
        assert read.json()["id"] == target and read.json()["read"] is True
        read_at = read.json()["read_at"]
        again = await client.post(f"/api/v1/inbox/{target}/read")
        assert again.status_code == 200 and again.json()["read_at"] == read_at
        after = (await client.get("/api/v1/inbox", params={"limit": 100})).json()
        assert after["unread"] == 24
        assert [m["id"] for m in after["items"] if m["read"]] == [target]
    finally:
        await client.aclose()


async def test_another_customers_message_is_not_found_and_never_listed(
    gateway: str, billing_data: Dataset, mail_sink: MailSink, infra: Infra
) -> None:
    owner = with_active_contract(billing_data, 21)
    other = with_active_contract(billing_data, 22)
    owner_client = await logged_in_client(gateway, mail_sink, owner, "notify.inbox21")
    other_client = await logged_in_client(gateway, mail_sink, other, "notify.inbox22")
    try:
        await publish_events(infra.amqp_url, events_for(owner.number, 1))
        message = (await inbox_with(owner_client, 1))["items"][0]

        stolen = await other_client.post(f"/api/v1/inbox/{message['id']}/read")
        unknown = await other_client.post(f"/api/v1/inbox/{uuid.uuid4()}/read")
        assert stolen.status_code == unknown.status_code == 404
        assert stolen.headers["content-type"].startswith("application/problem+json")
        assert stolen.json() == unknown.json()
        assert stolen.json()["code"] == "message_not_found"

        theirs = (await other_client.get("/api/v1/inbox")).json()
        assert message["id"] not in {m["id"] for m in theirs["items"]}
        still = (await owner_client.get("/api/v1/inbox")).json()
        assert still["items"][0]["read"] is False
    finally:
        await owner_client.aclose()
        await other_client.aclose()


async def test_inbox_needs_a_session_and_a_valid_cursor(
    gateway: str, billing_data: Dataset, mail_sink: MailSink
) -> None:
    async with httpx.AsyncClient(base_url=gateway) as anonymous:
        assert (await anonymous.get("/api/v1/inbox")).status_code == 401
        assert (await anonymous.post(f"/api/v1/inbox/{uuid.uuid4()}/read")).status_code == 401
    customer = with_active_contract(billing_data, 23)
    client = await logged_in_client(gateway, mail_sink, customer, "notify.inbox23")
    try:
        bad = await client.get("/api/v1/inbox", params={"cursor": "not-a-cursor"})
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"
        too_many = await client.get("/api/v1/inbox", params={"limit": 101})
        assert too_many.status_code == 400
        empty = (await client.get("/api/v1/inbox")).json()
        assert empty == {"items": [], "next_cursor": None, "unread": 0}
    finally:
        await client.aclose()


async def test_terms_in_force_and_every_version_are_readable_without_a_session(
    gateway: str,
) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        current = await client.get("/api/v1/terms")
        versions = await client.get("/api/v1/terms/versions")
        first = await client.get("/api/v1/terms/versions/1")
        missing = await client.get("/api/v1/terms/versions/999")
        english = await client.get("/api/v1/terms/versions/999", headers={"accept-language": "en"})
    assert current.status_code == 200, current.text
    assert current.json()["version"] >= 1
    assert versions.status_code == 200
    items = versions.json()["items"]
    assert [v["in_force"] for v in items].count(True) == 1
    assert next(v for v in items if v["in_force"])["version"] == current.json()["version"]
    assert first.status_code == 200
    assert "REGULAMIN KORZYSTANIA Z USŁUG" in first.json()["text"]
    assert first.json()["effective_on"] == "2025-08-11"
    assert missing.status_code == 404 and missing.json()["code"] == "terms_not_found"
    assert english.json()["detail"] == "No such version."
