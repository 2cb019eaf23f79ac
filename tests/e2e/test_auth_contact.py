"""Contact data through the gateway on the real services (R15, R16, R17)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from tests.support.clients import gateway_client
from tests.support.customers import PASSWORD, logged_in_client
from tests.support.mail import MailSink, link_token, text_part
from tools.billing_sim.dataset import SimCustomer

ADDRESS = {"street": "ul. Listowa 5/2", "postal_code": "00-950", "city": "Warszawa"}


async def emitted(
    db: asyncpg.Connection, routing_key: str, customer_number: str
) -> list[tuple[str, dict[str, Any]]]:
    """(exchange, body) of the events auth queued for this customer, oldest first."""
    rows = await db.fetch(
        "SELECT exchange, convert_from(body, 'UTF8') AS body FROM auth.outbox"
        " WHERE routing_key = $1 ORDER BY id",
        routing_key,
    )
    found = [(r["exchange"], json.loads(r["body"])) for r in rows]
    return [(x, b) for x, b in found if b["customer_number"] == customer_number]


async def all_published(db: asyncpg.Connection) -> bool:
    for _ in range(100):
        if not await db.fetchval("SELECT count(*) FROM auth.outbox WHERE published_at IS NULL"):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_contact_change_is_emitted_to_notify_and_the_billing_system_and_a_new_email_waits_for_its_link(
    gateway: str, auth_customers: list[SimCustomer], mail_sink: MailSink, db: asyncpg.Connection
) -> None:
    customer = auth_customers[14]
    client = await logged_in_client(gateway, mail_sink, customer, "contact.user")
    try:
        me = (await client.get("/api/v1/me")).json()
        assert me["email"] == "contact.user@example.com" and me["email_verified"] is True
        assert me["phone"] is None and me["marketing_consent"] is False

        # Activation already told notify and the billing system (revision 1).
        contact_events = await emitted(db, "auth.customer-contact-changed.v1", customer.number)
        assert [(x, b["revision"]) for x, b in contact_events] == [("ibok.events", 1)]

        wanted = {
            "email": "contact.user@example.com",
            "phone": "+48 600 100 200",
            "correspondence_address": ADDRESS,
            "marketing_consent": True,
        }
        changed = await client.put("/api/v1/me/contact", json=wanted)
        assert changed.status_code == 200, changed.text
        assert changed.json()["phone"] == "+48 600 100 200"
        assert changed.json()["correspondence_address"] == ADDRESS
        assert changed.json()["marketing_consent"] is True
        me = (await client.get("/api/v1/me")).json()
        assert me["marketing_consent"] is True and me["correspondence_address"] == ADDRESS

        contact_events = await emitted(db, "auth.customer-contact-changed.v1", customer.number)
        assert [b["revision"] for _, b in contact_events] == [1, 2]
        assert contact_events[-1][1]["marketing_consent"] is True
        to_billing = await emitted(db, "contact-data.changed.v1", customer.number)
        assert [x for x, _ in to_billing] == ["ibok.out", "ibok.out"]
        assert to_billing[-1][1]["phone"] == "+48 600 100 200"
        assert to_billing[-1][1]["correspondence_address"] == ADDRESS
        assert to_billing[-1][1]["email"] == "contact.user@example.com"

        # R16: a new email needs the current password (a stolen session alone cannot move the
        # account), and is not used until the link sent to it is followed.
        new = wanted | {"email": "New.Address@example.com"}
        bare = await client.put("/api/v1/me/contact", json=new)
        assert bare.status_code == 422 and bare.json()["code"] == "current_password_required"
        wrong = await client.put(
            "/api/v1/me/contact", json=new | {"current_password": "Zle2026zle"}
        )
        assert wrong.status_code == 422 and wrong.json()["code"] == "current_password_invalid"
        assert (await client.get("/api/v1/me")).json()["pending_email"] is None
        moved = await client.put("/api/v1/me/contact", json=new | {"current_password": PASSWORD})
        assert moved.status_code == 200
        assert moved.json()["email"] == "contact.user@example.com"
        assert moved.json()["pending_email"] == "New.Address@example.com"
        assert [
            b["revision"]
            for _, b in await emitted(db, "auth.customer-contact-changed.v1", customer.number)
        ] == [1, 2]
        # The old address is told, with the new one masked.
        notice = await asyncio.to_thread(
            mail_sink.wait_for, "contact.user@example.com", 15, "zmianę adresu"
        )
        assert "N***@example.com" in text_part(notice) and "New.Address" not in text_part(notice)
        mail = await asyncio.to_thread(mail_sink.wait_for, "New.Address@example.com")
        verified = await client.post("/api/v1/auth/verify-email", json={"token": link_token(mail)})
        assert verified.status_code == 204
        me = (await client.get("/api/v1/me")).json()
        assert me["email"] == "New.Address@example.com" and me["pending_email"] is None

        contact_events = await emitted(db, "auth.customer-contact-changed.v1", customer.number)
        assert [b["revision"] for _, b in contact_events] == [1, 2, 3]
        assert contact_events[-1][1]["email"] == "New.Address@example.com"
        to_billing = await emitted(db, "contact-data.changed.v1", customer.number)
        assert to_billing[-1][1]["email"] == "New.Address@example.com"

        # The same data again changes nothing and emits nothing.
        same = await client.put(
            "/api/v1/me/contact", json=wanted | {"email": "new.address@EXAMPLE.com"}
        )
        assert same.status_code == 200 and same.json()["pending_email"] is None
        assert len(await emitted(db, "auth.customer-contact-changed.v1", customer.number)) == 3

        bad_phone = await client.put("/api/v1/me/contact", json=wanted | {"phone": "call me"})
        assert bad_phone.status_code == 400
        assert await all_published(db), "the outbox relay did not publish the events"
    finally:
        await client.aclose()

    actions = {
        r["action"]
        for r in await db.fetch(
            "SELECT action FROM auth.audit_trail WHERE account_id ="
            " (SELECT id FROM auth.accounts WHERE login_key = 'contact.user')"
        )
    }
    assert {"contact_changed", "email_change_requested", "email_changed"} <= actions


async def test_contact_change_without_a_session_is_refused(gateway: str) -> None:
    async with gateway_client(gateway) as client:
        answer = await client.put(
            "/api/v1/me/contact", json={"email": "x@example.com", "marketing_consent": True}
        )
    assert answer.status_code == 401
