"""Access control over the whole API, read from the live OpenAPI document (so new routes are covered):
every customer and staff route refuses an anonymous caller, every staff route refuses a customer,
and every customer route with an id answers 404 for another customer's id, revealing nothing."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.support.customers import logged_in_client
from tests.support.mail import MailSink
from tools.billing_sim.dataset import Dataset

PUBLIC = re.compile(
    r"^/api/v1/(auth/(captcha|login|login-code|mfa|register|verify-email|password-reset(/confirm)?)|staff/auth/(login|mfa)|terms(/.*)?)$"
)
DUMMY = {
    "session_id": "00000000-0000-0000-0000-000000000000",
    "message_id": "00000000-0000-0000-0000-000000000000",
}


def operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in ("get", "post", "put", "delete", "patch")
        if method in item and path.startswith("/api/v1/")
    ]


def filled(path: str) -> str:
    return re.sub(
        r"\{(\w+)\}", lambda m: DUMMY.get(m.group(1), "00000000-0000-0000-0000-000000000000"), path
    )


@pytest.fixture(scope="module")
def spec(gateway: str) -> dict[str, Any]:
    return httpx.get(f"{gateway}/schema/openapi.json").json()


def test_every_customer_and_staff_route_refuses_an_anonymous_caller(
    gateway: str, spec: dict[str, Any]
) -> None:
    checked = []
    for method, path in operations(spec):
        # Logging out without a session is a harmless no-op (204), for customers and staff.
        if PUBLIC.match(path) or path.endswith("/auth/logout"):
            continue
        answer = httpx.request(
            method, f"{gateway}{filled(path)}", json={} if method != "GET" else None
        )
        assert answer.status_code == 401, (
            f"{method} {path} answered {answer.status_code} to an anonymous caller"
        )
        checked.append(path)
    assert len(checked) >= 30


async def test_every_staff_route_refuses_a_customer_session(
    gateway: str, spec: dict[str, Any], billing_data: Dataset, mail_sink: MailSink
) -> None:
    from tests.support.customers import with_active_contract

    customer = await logged_in_client(
        gateway, mail_sink, with_active_contract(billing_data, 32), "acl.customer"
    )
    try:
        for method, path in operations(spec):
            if (
                not path.startswith("/api/v1/staff/")
                or PUBLIC.match(path)
                or path.endswith("/auth/logout")
            ):
                continue
            answer = await customer.request(
                method, filled(path), json={} if method != "GET" else None
            )
            assert answer.status_code in (401, 403), (
                f"{method} {path}: {answer.status_code} to a customer"
            )
    finally:
        await customer.aclose()


# For each customer route with an id: where the other customer's ids come from (list, field).
ID_SOURCES = {
    "/api/v1/contracts/{contract_id}": ("/api/v1/contracts", "contract_id"),
    "/api/v1/contracts/{contract_id}/document": ("/api/v1/contracts", "contract_id"),
    "/api/v1/invoices/{invoice_ref}": ("/api/v1/invoices", "invoice_id"),
    "/api/v1/inbox/{message_id}/read": ("/api/v1/inbox", "id"),
    "/api/v1/me/sessions/{session_id}": ("/api/v1/me/sessions", "id"),
    "/api/v1/complaints/{complaint_id}": ("/api/v1/complaints", "complaint_id"),
    "/api/v1/complaints/{complaint_id}/messages": ("/api/v1/complaints", "complaint_id"),
}
# A valid body, so that a refusal can only be about whose id it is.
BODIES = {"/api/v1/complaints/{complaint_id}/messages": {"body": "Dzień dobry."}}


async def test_another_customers_ids_answer_404_on_every_customer_route_with_an_id(
    gateway: str, spec: dict[str, Any], billing_data: Dataset, mail_sink: MailSink
) -> None:
    from tests.support.customers import with_active_contract

    alice = await logged_in_client(
        gateway, mail_sink, with_active_contract(billing_data, 30), "acl.alice"
    )
    bob = await logged_in_client(
        gateway, mail_sink, with_active_contract(billing_data, 31), "acl.bob"
    )
    try:
        # Bob has a complaint, so there is an id of his to try.
        filed = await bob.post(
            "/api/v1/complaints",
            json={
                "subject": "Odczyt",
                "description": "Za wysoki odczyt.",
                "expected_resolution": "Korekta",
            },
        )
        assert filed.status_code == 201, filed.text
        routes = {
            path
            for method, path in operations(spec)
            if "{" in path and not path.startswith("/api/v1/staff/") and not PUBLIC.match(path)
        }
        missing = routes - ID_SOURCES.keys()
        assert not missing, f"add these customer routes with ids to ID_SOURCES: {missing}"
        for method, path in operations(spec):
            if path not in ID_SOURCES:
                continue
            list_path, field = ID_SOURCES[path]
            items = (await bob.get(list_path)).json()["items"]
            if not items:
                continue
            bobs_id = str(items[0][field])
            if path.startswith("/api/v1/invoices/"):
                variants = [bobs_id, f"{bobs_id}.html", f"{bobs_id}.pdf"]
            else:
                variants = [bobs_id]
            for value in variants:
                url = re.sub(r"\{\w+\}", value, path)
                answer = await alice.request(method, url, json=BODIES.get(path))
                assert answer.status_code == 404, (
                    f"{method} {url}: {answer.status_code} for another customer's id"
                )
                assert bobs_id not in answer.text
        # Bob's own ids still work, so the 404s above were about ownership.
        own = (await bob.get("/api/v1/invoices")).json()["items"]
        if own:
            assert (await bob.get(f"/api/v1/invoices/{own[0]['invoice_id']}")).status_code == 200
    finally:
        await alice.aclose()
        await bob.aclose()
