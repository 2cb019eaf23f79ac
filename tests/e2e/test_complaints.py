"""Complaints through the gateway (R10, R12): filed by the customer or registered by staff,
asked about, answered, settled within 10 days, and the outcome by email and in the inbox."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from runtime.clock import business_today
from tests.conftest import staff_client
from tests.support.customers import logged_in_client, with_active_contract
from tests.support.mail import MailSink, text_part
from tools.billing_sim.dataset import Dataset, SimCustomer

# Customers of these tests: the data set's index 24 (it has invoices) and auth_customers 15, 16.
OWN = 24


async def _outbox(db: asyncpg.Connection, complaint_id: str) -> dict[str, str]:
    """The complaint's events in billing's outbox, once published: routing key -> exchange."""
    for _ in range(100):
        rows = await db.fetch(
            "SELECT routing_key, exchange, published_at FROM billing.outbox"
            " WHERE convert_from(body, 'UTF8') LIKE '%' || $1 || '%'",
            complaint_id,
        )
        if rows and all(r["published_at"] for r in rows):
            return {r["routing_key"]: r["exchange"] for r in rows}
        await asyncio.sleep(0.1)
    raise AssertionError("the complaint's events were not published")


async def _inbox_titles(client: httpx.AsyncClient, containing: str) -> list[str]:
    for _ in range(100):
        items = (await client.get("/api/v1/inbox")).json()["items"]
        titles = [i["title"] for i in items if containing in i["title"] + i.get("body", "")]
        if titles:
            return titles
        await asyncio.sleep(0.1)
    raise AssertionError(f"no inbox message about {containing!r}")


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


async def test_a_customer_complaint_lives_from_filing_through_a_question_to_the_outcome(
    gateway: str,
    mail_sink: MailSink,
    billing_data: Dataset,
    staff_logins: dict[str, tuple[str, str]],
    db: asyncpg.Connection,
) -> None:
    customer = with_active_contract(billing_data, OWN)
    client = await logged_in_client(gateway, mail_sink, customer, "complaints.own")
    care = await staff_client(gateway, *staff_logins["care"])
    email = "complaints.own@example.com"
    try:
        invoice = _ok(await client.get("/api/v1/invoices"))["items"][0]
        body = {
            "subject": "Za wysoka faktura",
            "description": "Zużycie <script>x</script> jest dwa razy wyższe niż zwykle.",
            "expected_resolution": "Korekta faktury",
            "invoice_id": invoice["invoice_id"],
        }
        filed = _ok(await client.post("/api/v1/complaints", json=body), 201)
        today = business_today()
        assert filed["status"] == "filed" and filed["channel"] == "ibok"
        assert filed["received_on"] == today.isoformat()
        assert filed["due_on"] == (today + timedelta(days=10)).isoformat()
        assert filed["due_in_days"] == 10 and filed["overdue"] is False
        assert filed["invoice_number"] == invoice["number"]
        assert filed["description"] == body["description"]  # stored as text, as typed (R12)
        complaint_id = filed["complaint_id"]

        listed = _ok(await client.get("/api/v1/complaints"))["items"]
        assert [c["complaint_id"] for c in listed] == [complaint_id]

        staff_view = _ok(await care.get("/api/v1/staff/complaints", params={"status": "filed"}))
        assert complaint_id in [c["complaint_id"] for c in staff_view["items"]]
        question = "Prosimy o zdjęcie wodomierza."
        asked = _ok(
            await care.post(
                f"/api/v1/staff/complaints/{complaint_id}/request-info",
                json={"question": question},
            )
        )
        assert asked["status"] == "waiting_for_customer"
        assert asked["due_on"] == filed["due_on"]  # waiting does not move the deadline
        asked_mail = await asyncio.to_thread(
            mail_sink.wait_for, email, subject_contains="prosimy o informacje"
        )
        assert question in text_part(asked_mail)

        waiting = _ok(await client.get(f"/api/v1/complaints/{complaint_id}"))
        assert waiting["status"] == "waiting_for_customer"
        assert [(m["author"], m["kind"], m["body"]) for m in waiting["messages"]] == [
            ("staff", "question", question)
        ]
        answer = {"body": "Zdjęcie wyślę pocztą. Wasz inkasent to oszust!"}
        key = {"Idempotency-Key": "answer-1"}
        answered = _ok(
            await client.post(
                f"/api/v1/complaints/{complaint_id}/messages", json=answer, headers=key
            )
        )
        again = _ok(
            await client.post(
                f"/api/v1/complaints/{complaint_id}/messages", json=answer, headers=key
            )
        )
        assert answered["status"] == again["status"] == "filed"
        assert len(again["messages"]) == 2  # the repeated request added nothing
        message_id = answered["messages"][1]["message_id"]

        hidden = _ok(
            await care.post(
                f"/api/v1/staff/complaints/{complaint_id}/messages/{message_id}/hide",
                json={"reason": "Zniewaga (regulamin §3.2)"},
            )
        )
        audit = hidden["messages"][1]
        assert audit["hidden"] is True and audit["body"] is None
        assert audit["hidden_reason"] == "Zniewaga (regulamin §3.2)" and audit["hidden_by"]
        seen = _ok(await client.get(f"/api/v1/complaints/{complaint_id}"))["messages"][1]
        assert seen["hidden"] is True and seen["body"] is None and "hidden_reason" not in seen
        kept = await db.fetchval(
            "SELECT body FROM billing.complaint_messages WHERE message_id = $1", UUID(message_id)
        )
        assert kept == answer["body"]  # kept for the audit

        outcome = {"outcome": "accepted", "outcome_text": "Faktura zostanie skorygowana."}
        settled = _ok(
            await care.post(f"/api/v1/staff/complaints/{complaint_id}/settle", json=outcome)
        )
        assert settled["status"] == "settled" and settled["settled_on"] == today.isoformat()
        repeated = await care.post(f"/api/v1/staff/complaints/{complaint_id}/settle", json=outcome)
        assert repeated.status_code == 200
        changed = await care.post(
            f"/api/v1/staff/complaints/{complaint_id}/settle",
            json={"outcome": "rejected", "outcome_text": "Jednak nie."},
        )
        assert changed.status_code == 409 and changed.json()["code"] == "complaint_settled"
        late_answer = await client.post(
            f"/api/v1/complaints/{complaint_id}/messages", json={"body": "Jeszcze coś"}
        )
        assert late_answer.status_code == 409

        mail = await asyncio.to_thread(
            mail_sink.wait_for, email, subject_contains="rozpatrzenie reklamacji"
        )
        assert "Faktura zostanie skorygowana." in text_part(mail)
        assert await _inbox_titles(client, "Za wysoka faktura")
        mine = _ok(await client.get(f"/api/v1/complaints/{complaint_id}"))
        assert mine["outcome"] == "accepted" and mine["outcome_text"] == outcome["outcome_text"]

        events = await _outbox(db, complaint_id)
        assert events == {
            "complaint.filed.v1": "ibok.out",
            "billing.complaint-information-requested.v1": "ibok.events",
            "complaint.settled.v1": "ibok.out",
            "billing.complaint-outcome.v1": "ibok.events",
        }
    finally:
        await client.aclose()
        await care.aclose()


async def test_a_complaint_about_another_customers_invoice_is_refused_and_nothing_is_filed(
    gateway: str,
    mail_sink: MailSink,
    auth_customers: list[SimCustomer],
    billing_data: Dataset,
    db: asyncpg.Connection,
) -> None:
    customer = auth_customers[15]
    client = await logged_in_client(gateway, mail_sink, customer, "complaints.other")
    try:
        foreign_id, foreign_number = await db.fetchrow(
            "SELECT invoice_id, number FROM billing.invoices WHERE customer_number <> $1 LIMIT 1",
            customer.number,
        )
        body = {"subject": "Faktura", "description": "Błąd", "expected_resolution": "Korekta"}
        before = _ok(await client.get("/api/v1/complaints"))["items"]
        count = await db.fetchval("SELECT count(*) FROM billing.complaints")
        for ref in ({"invoice_id": str(foreign_id)}, {"invoice_number": foreign_number}):
            refused = await client.post("/api/v1/complaints", json={**body, **ref})
            assert refused.status_code == 404, refused.text
            assert refused.json()["code"] == "invoice_not_found"
        reading = await client.post(
            "/api/v1/complaints", json={**body, "reading_id": str(foreign_id)}
        )
        assert reading.status_code == 404 and reading.json()["code"] == "reading_not_found"
        assert _ok(await client.get("/api/v1/complaints"))["items"] == before
        after = await db.fetchval("SELECT count(*) FROM billing.complaints")
        assert after == count
    finally:
        await client.aclose()


async def test_staff_register_letters_and_calls_and_see_the_overdue_ones_first(
    gateway: str,
    mail_sink: MailSink,
    auth_customers: list[SimCustomer],
    staff_logins: dict[str, tuple[str, str]],
    db: asyncpg.Connection,
) -> None:
    admin = await staff_client(gateway, *staff_logins["admin"])
    letter_customer, call_customer = auth_customers[15], auth_customers[16]
    customer = await logged_in_client(gateway, mail_sink, call_customer, "complaints.call")
    today = business_today()
    body = {
        "subject": "Brak wody",
        "description": "Od tygodnia",
        "expected_resolution": "Bonifikata",
    }
    try:
        letter = _ok(
            await admin.post(
                "/api/v1/staff/complaints",
                json={
                    **body,
                    "customer_number": letter_customer.number,
                    "channel": "letter",
                    "received_on": (today - timedelta(days=12)).isoformat(),
                },
                headers={"Idempotency-Key": "letter-1"},
            ),
            201,
        )
        assert letter["channel"] == "letter"
        assert letter["due_on"] == (today - timedelta(days=2)).isoformat()
        assert letter["overdue"] is True and letter["due_in_days"] == -2
        repeated = _ok(
            await admin.post(
                "/api/v1/staff/complaints",
                json={
                    **body,
                    "customer_number": letter_customer.number,
                    "channel": "letter",
                    "received_on": (today - timedelta(days=12)).isoformat(),
                },
                headers={"Idempotency-Key": "letter-1"},
            ),
            201,
        )
        assert repeated["complaint_id"] == letter["complaint_id"]

        call = _ok(
            await admin.post(
                "/api/v1/staff/complaints",
                json={
                    **body,
                    "customer_number": call_customer.number,
                    "channel": "phone",
                    "received_on": (today - timedelta(days=3)).isoformat(),
                },
            ),
            201,
        )
        assert call["due_in_days"] == 7 and call["overdue"] is False

        future = await admin.post(
            "/api/v1/staff/complaints",
            json={
                **body,
                "customer_number": call_customer.number,
                "channel": "phone",
                "received_on": (today + timedelta(days=1)).isoformat(),
            },
        )
        assert future.status_code == 422 and future.json()["code"] == "received_on_in_future"
        unknown = await admin.post(
            "/api/v1/staff/complaints",
            json={
                **body,
                "customer_number": "NOPE1",
                "channel": "letter",
                "received_on": today.isoformat(),
            },
        )
        assert unknown.status_code == 404 and unknown.json()["code"] == "customer_not_found"

        open_list = _ok(await admin.get("/api/v1/staff/complaints", params={"status": "open"}))
        # Other tests file complaints too: look at this test's two among them.
        items = open_list["items"]
        ids = [c["complaint_id"] for c in items]
        mine = [i for i in ids if i in (letter["complaint_id"], call["complaint_id"])]
        assert mine == [letter["complaint_id"], call["complaint_id"]]  # the overdue letter first
        assert all(c["overdue"] for c in items[: ids.index(letter["complaint_id"]) + 1])
        dues = [c["due_on"] for c in items]
        assert dues == sorted(dues)
        due_soon = _ok(
            await admin.get(
                "/api/v1/staff/complaints",
                params={"status": "open", "due_before": today.isoformat()},
            )
        )["items"]
        due_ids = [c["complaint_id"] for c in due_soon]
        assert letter["complaint_id"] in due_ids and call["complaint_id"] not in due_ids
        assert all(c["overdue"] for c in due_soon)

        # The customer sees the complaint registered from their call, with its deadline.
        theirs = _ok(await customer.get("/api/v1/complaints"))["items"]
        assert [(c["complaint_id"], c["channel"], c["due_on"]) for c in theirs] == [
            (call["complaint_id"], "phone", (today + timedelta(days=7)).isoformat())
        ]
        assert (await customer.get("/api/v1/staff/complaints")).status_code == 401
        other = await customer.get(f"/api/v1/complaints/{letter['complaint_id']}")
        assert other.status_code == 404 and other.json()["code"] == "complaint_not_found"
        events = await _outbox(db, letter["complaint_id"])
        assert events == {"complaint.filed.v1": "ibok.out"}
    finally:
        await admin.aclose()
        await customer.aclose()
