"""Staff send commercial information to every customer through the gateway (R15); customers cannot."""

from __future__ import annotations

import asyncio

from tests.conftest import staff_client
from tests.support.customers import logged_in_client
from tests.support.mail import MailSink
from tools.billing_sim.dataset import SimCustomer


async def test_staff_announcement_reaches_the_customer_inbox_and_a_customer_cannot_send_one(
    gateway: str,
    auth_customers: list[SimCustomer],
    mail_sink: MailSink,
    staff_logins: dict[str, tuple[str, str]],
) -> None:
    customer = await logged_in_client(gateway, mail_sink, auth_customers[17], "staff.notify.reader")
    care = await staff_client(gateway, *staff_logins["care"])
    body = {"subject": "Nowa taryfa od 1 lipca", "body": "Szczegóły <w załączniku>."}
    try:
        refused = await customer.post("/api/v1/staff/announcements", json=body)
        assert refused.status_code == 401
        sent = await care.post("/api/v1/staff/announcements", json=body)
        assert sent.status_code == 202, sent.text
        job = sent.json()["fanout_job_id"]
        for _ in range(100):
            status = (await care.get(f"/api/v1/staff/fanouts/{job}")).json()
            if status["status"] == "done":
                break
            await asyncio.sleep(0.1)
        assert status["status"] == "done" and status["done"] == status["total"] >= 1
        inbox = (await customer.get("/api/v1/inbox")).json()
        titles = [item.get("title", "") + item.get("body", "") for item in inbox["items"]]
        assert any("Nowa taryfa od 1 lipca" in t for t in titles), inbox
    finally:
        await customer.aclose()
        await care.aclose()
