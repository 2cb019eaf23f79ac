"""The staff API's controllers over a fake RPC client: the staff session and role come from auth,
the guards refuse before any service is asked, and the answers and problems map as documented."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from contracts import auth, billing, notify, readings
from contracts.maintenance import GET_MAINTENANCE, SET_MAINTENANCE, MaintenanceState
from contracts.rpc import Empty
from services.gateway.sessions import STAFF_SESSION_COOKIE
from tests.service.gateway.conftest import (
    CUSTOMER,
    STAFF_TOKEN,
    FakeRpc,
    as_customer,
    as_staff,
    refusal,
    staff_member,
)
from tests.service.gateway.samples import (
    COMPLAINT_ID,
    NOW,
    READING_ID,
    complaint,
    flagged_reading,
)

Client = AsyncTestClient[Any]
STAFF = staff_member("care")

# --- staff sessions and roles ----------------------------------------------------------------


async def test_staff_login_sets_the_staff_cookie(gateway: Client, fake: FakeRpc) -> None:
    fake.answer(
        auth.STAFF_LOG_IN,
        auth.StaffSessionOpened(
            token="s" * 40,
            staff_id=STAFF.staff_id,
            login="care.user",
            role="care",
            expires_at=datetime(2026, 12, 1, 18, tzinfo=UTC),
        ),
    )
    response = await gateway.post(
        "/api/v1/staff/auth/login", json={"login": "care.user", "password": "Tajne123"}
    )
    assert response.status_code == 200
    assert (response.json()["login"], response.json()["role"]) == ("care.user", "care")
    assert response.cookies[STAFF_SESSION_COOKIE] == "s" * 40


async def test_a_refused_staff_login_is_its_problem(gateway: Client, fake: FakeRpc) -> None:
    fake.answer(auth.STAFF_LOG_IN, refusal("invalid_credentials", 401))
    response = await gateway.post(
        "/api/v1/staff/auth/login", json={"login": "care.user", "password": "złe"}
    )
    assert (response.status_code, response.json()["code"]) == (401, "invalid_credentials")
    assert response.json()["captcha_required"] is True


async def test_staff_logout_ends_the_staff_session(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake)
    fake.answer(auth.STAFF_LOG_OUT, Empty())
    response = await gateway.post("/api/v1/staff/auth/logout", headers=headers)
    assert response.status_code == 204
    assert [r.token for r in fake.sent(auth.STAFF_LOG_OUT)] == [STAFF_TOKEN]


async def test_staff_me_is_who_auth_says_the_cookie_belongs_to(
    gateway: Client, fake: FakeRpc
) -> None:
    response = await gateway.get("/api/v1/staff/auth/me", headers=as_staff(fake, "admin"))
    assert (response.json()["login"], response.json()["role"]) == ("admin.user", "admin")
    # The guard and the handler's dependency share one answer per request.
    assert [r.token for r in fake.sent(auth.RESOLVE_STAFF_SESSION)] == [STAFF_TOKEN]


async def test_a_customer_session_opens_no_staff_route(gateway: Client, fake: FakeRpc) -> None:
    response = await gateway.get("/api/v1/staff/readings/flagged", headers=as_customer(fake))
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")
    assert fake.requests == []


async def test_an_ended_staff_session_is_refused(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake)
    fake.answer(auth.RESOLVE_STAFF_SESSION, refusal("session_expired", 401))
    response = await gateway.get("/api/v1/staff/readings/flagged", headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "session_expired")
    assert fake.sent(readings.FLAGGED_READINGS) == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/staff/staff-users", {"login": "nowy.user", "name": "N", "role": "care"}),
        ("GET", "/api/v1/staff/staff-users", None),
        ("PUT", "/api/v1/staff/maintenance", {"on": True}),
    ],
)
async def test_care_staff_are_refused_admin_routes_before_any_service_is_asked(
    gateway: Client, fake: FakeRpc, method: str, path: str, body: Any
) -> None:
    response = await gateway.request(method, path, json=body, headers=as_staff(fake, "care"))
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert {op.name for op, _ in fake.requests} <= {"resolve-staff-session", "get-maintenance"}


# --- accounts ----------------------------------------------------------------------------------


async def test_blocking_an_account_names_the_staff_member(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake)
    fake.answer(
        auth.BLOCK_ACCOUNT,
        auth.AccountBlock(login=CUSTOMER.login, blocked=True, permanent=True, reason="Zgubiony"),
    )
    response = await gateway.post(
        f"/api/v1/staff/accounts/{CUSTOMER.login}/block",
        json={
            "reason": "Zgubiony",
            "permanent": True,
            "identity_check_used": "pesel",
            "identity_verified": True,
        },
        headers=headers,
    )
    assert response.status_code == 200
    assert (response.json()["blocked"], response.json()["permanent"]) == (True, True)
    (command,) = fake.sent(auth.BLOCK_ACCOUNT)
    assert (command.actor_id, command.login, command.identity_check_used) == (
        STAFF.staff_id,
        CUSTOMER.login,
        "pesel",
    )


async def test_unblocking_an_unknown_login_is_a_404(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake)
    fake.answer(auth.UNBLOCK_ACCOUNT, refusal("not_found", 404))
    response = await gateway.post(
        "/api/v1/staff/accounts/nikt/unblock", json={"reason": "Prośba"}, headers=headers
    )
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_admins_list_staff_users(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake, "admin")
    fake.answer(auth.STAFF_USERS, auth.StaffUsersPage(items=[], next_cursor=None))
    response = await gateway.get("/api/v1/staff/staff-users?limit=3", headers=headers)
    assert response.json() == {"items": [], "next_cursor": None}
    assert fake.sent(auth.STAFF_USERS)[0].limit == 3


# --- customers ---------------------------------------------------------------------------------


async def test_customer_search_joins_billing_and_auth(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake)
    fake.answer(
        billing.SEARCH_CUSTOMERS,
        billing.CustomersFound(
            items=[
                billing.CustomerFound(
                    customer_number=CUSTOMER.customer_number,
                    name="Jan Kowalski",
                    kind="person",
                    city="Warszawa",
                )
            ]
        ),
    )
    fake.answer(
        auth.ACCOUNTS_OF_CUSTOMERS,
        auth.AccountsOfCustomers(
            accounts=[
                auth.CustomerAccount(
                    customer_number=CUSTOMER.customer_number,
                    login=CUSTOMER.login,
                    status="blocked",
                    email_verified=True,
                )
            ]
        ),
    )
    response = await gateway.get("/api/v1/staff/customers?q=Kowal", headers=headers)
    (hit,) = response.json()["items"]
    assert (hit["customer_number"], hit["account"]["status"]) == (
        CUSTOMER.customer_number,
        "blocked",
    )
    assert fake.sent(billing.SEARCH_CUSTOMERS)[0].q == "Kowal"
    assert fake.sent(auth.ACCOUNTS_OF_CUSTOMERS)[0].customer_numbers == [CUSTOMER.customer_number]


async def test_a_customer_number_of_the_wrong_shape_is_a_404_without_asking(
    gateway: Client, fake: FakeRpc
) -> None:
    response = await gateway.get("/api/v1/staff/customers/zły numer!", headers=as_staff(fake))
    assert response.status_code == 404
    assert fake.sent(billing.CUSTOMER_OVERVIEW) == []


# --- complaints --------------------------------------------------------------------------------


async def test_the_complaint_queue(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake)
    fake.answer(
        billing.STAFF_COMPLAINTS, billing.ComplaintPage(items=[complaint()], next_cursor=None)
    )
    response = await gateway.get(
        "/api/v1/staff/complaints?status=open&due_before=2026-12-10", headers=headers
    )
    assert [c["complaint_id"] for c in response.json()["items"]] == [str(COMPLAINT_ID)]
    (query,) = fake.sent(billing.STAFF_COMPLAINTS)
    assert (query.status, query.due_before) == ("open", date(2026, 12, 10))


async def test_settling_a_settled_complaint_is_a_409(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake)
    fake.answer(billing.SETTLE_COMPLAINT, refusal("complaint_settled", 409))
    response = await gateway.post(
        f"/api/v1/staff/complaints/{COMPLAINT_ID}/settle",
        json={"outcome": "accepted", "outcome_text": "Korekta wystawiona."},
        headers=headers,
    )
    assert (response.status_code, response.json()["code"]) == (409, "complaint_settled")
    assert fake.sent(billing.SETTLE_COMPLAINT)[0].complaint_id == COMPLAINT_ID


# --- maintenance -------------------------------------------------------------------------------


async def test_an_admin_switches_maintenance_and_this_gateway_follows_at_once(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_staff(fake, "admin")
    fake.answer(SET_MAINTENANCE, MaintenanceState(on=True, message="Przerwa.", revision=7))
    response = await gateway.put(
        "/api/v1/staff/maintenance", json={"on": True, "message": "Przerwa."}, headers=headers
    )
    assert (response.status_code, response.json()["on"]) == (200, True)
    assert fake.sent(SET_MAINTENANCE)[0].staff_id == str(staff_member("admin").staff_id)
    closed = await gateway.get("/api/v1/meters", headers=as_customer(fake))
    assert (closed.status_code, closed.json()["code"]) == (503, "maintenance")


async def test_the_maintenance_state_unanswered_is_a_503(gateway: Client, fake: FakeRpc) -> None:
    response = await gateway.get("/api/v1/staff/maintenance", headers=as_staff(fake))
    assert (response.status_code, response.json()["code"]) == (503, "service_unavailable")
    assert len(fake.sent(GET_MAINTENANCE)) == 1


# --- notices -----------------------------------------------------------------------------------


async def test_an_announcement_names_its_sender(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake)
    job = UUID("00000000-0000-4000-8000-0000000000f1")
    fake.answer(
        notify.SEND_ANNOUNCEMENT,
        notify.AnnouncementSent(announcement_id=UUID(int=9), fanout_job_id=job),
    )
    response = await gateway.post(
        "/api/v1/staff/announcements",
        json={"subject": "Nowa taryfa", "body": "Od 1 lipca."},
        headers=headers,
    )
    assert (response.status_code, response.json()["fanout_job_id"]) == (202, str(job))
    assert fake.sent(notify.SEND_ANNOUNCEMENT)[0].sent_by == "care.user"


async def test_terms_dated_in_the_past_are_refused(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake)
    fake.answer(notify.PUBLISH_TERMS, refusal("effective_in_past", 422, effective_on="za wcześnie"))
    response = await gateway.post(
        "/api/v1/staff/terms",
        json={"text": "§1. Nowy regulamin.", "effective_on": "2026-01-01"},
        headers=headers,
    )
    assert (response.status_code, response.json()["fields"]) == (
        422,
        {"effective_on": "za wcześnie"},
    )


async def test_fanout_progress(gateway: Client, fake: FakeRpc) -> None:
    job = UUID("00000000-0000-4000-8000-0000000000f1")
    fake.answer(
        notify.FANOUT_STATUS,
        notify.FanoutStatus(
            job_id=job,
            kind="terms",
            status="running",
            total=10,
            done=4,
            emails=3,
            created_at=NOW,
            updated_at=NOW,
        ),
    )
    response = await gateway.get(f"/api/v1/staff/fanouts/{job}", headers=as_staff(fake))
    assert (response.json()["done"], response.json()["total"]) == (4, 10)


# --- flagged readings ----------------------------------------------------------------------------


async def test_flagged_readings_for_review(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake)
    fake.answer(readings.FLAGGED_READINGS, readings.FlaggedReadingPage(items=[flagged_reading()]))
    response = await gateway.get("/api/v1/staff/readings/flagged", headers=headers)
    assert [r["reading_id"] for r in response.json()["items"]] == [str(READING_ID)]


async def test_rejecting_without_a_reason_is_the_services_refusal(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_staff(fake)
    fake.answer(readings.REVIEW_READING, refusal("reason_required", 422, reason="wymagany"))
    response = await gateway.post(
        f"/api/v1/staff/readings/{READING_ID}/review",
        json={"decision": "rejected"},
        headers=headers,
    )
    assert (response.status_code, response.json()["code"]) == (422, "reason_required")
    (command,) = fake.sent(readings.REVIEW_READING)
    assert (command.reading_id, command.decision, command.reviewer) == (
        READING_ID,
        "rejected",
        "care.user",
    )
