"""The IBOK inbox and the terms through the gateway: pages newest first, unread count, read marking, 404s.

How events fill the inbox is tested on notify's handlers: tests/service/notify/test_inbox.py.
"""

from __future__ import annotations

import uuid

import httpx

from tests.support.customers import logged_in_client, with_active_contract
from tests.support.mail import MailSink
from tools.billing_sim.dataset import Dataset


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
