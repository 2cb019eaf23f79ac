"""The customer API's controllers over a fake RPC client: each asks its service for the logged-in
customer only, maps the answer to the documented schema, and maps the service's problems."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from litestar.testing import AsyncTestClient

from contracts import auth, billing, notify, readings
from contracts.billing import BillingDataChanged
from contracts.rpc import Empty
from runtime.rpc_client import RpcTimeout, RpcUnavailable
from services.gateway.sessions import SESSION_COOKIE
from tests.service.gateway.conftest import (
    CUSTOMER,
    CUSTOMER_TOKEN,
    FakeRpc,
    QuietEvents,
    as_customer,
    refusal,
)
from tests.service.gateway.samples import (
    COMPLAINT_ID,
    INVOICE_ID,
    NOW,
    complaint,
    inbox_message,
    invoice_page,
    profile,
    reading_view,
    settlement,
    terms,
)

Client = AsyncTestClient[Any]
NUMBER = CUSTOMER.customer_number


# --- auth ----------------------------------------------------------------------------------


async def test_login_sets_the_session_cookie_auth_opened(gateway: Client, fake: FakeRpc) -> None:
    expires = datetime(2026, 12, 1, 12, tzinfo=UTC)
    fake.answer(
        auth.LOG_IN,
        auth.SessionOpened(token="n" * 40, account_id=CUSTOMER.account_id, expires_at=expires),
    )
    response = await gateway.post(
        "/api/v1/auth/login",
        json={"login": "jan.kowalski", "password": "Tajne123"},
        headers={"user-agent": "pytest"},
    )
    assert response.status_code == 200
    assert response.json() == {"login": "jan.kowalski", "expires_at": "2026-12-01T12:00:00Z"}
    assert response.cookies[SESSION_COOKIE] == "n" * 40
    (sent,) = fake.sent(auth.LOG_IN)
    assert (sent.login, sent.password, sent.user_agent) == ("jan.kowalski", "Tajne123", "pytest")


async def test_a_refused_login_says_whether_a_captcha_is_next(
    gateway: Client, fake: FakeRpc
) -> None:
    fake.answer(auth.LOG_IN, refusal("invalid_credentials", 401))
    response = await gateway.post(
        "/api/v1/auth/login", json={"login": "jan.kowalski", "password": "złe"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert response.json()["captcha_required"] is True
    assert SESSION_COOKIE not in response.cookies


async def test_a_throttled_login_says_when_to_retry(gateway: Client, fake: FakeRpc) -> None:
    fake.answer(auth.LOG_IN, refusal("too_many_attempts", 429, retry_after="42"))
    response = await gateway.post(
        "/api/v1/auth/login", json={"login": "jan.kowalski", "password": "x"}
    )
    assert (response.status_code, response.headers["retry-after"]) == (429, "42")
    assert response.json()["captcha_required"] is False


async def test_logout_ends_the_session_at_auth(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(auth.LOG_OUT, Empty())
    response = await gateway.post("/api/v1/auth/logout", headers=headers)
    assert response.status_code == 204
    assert [r.token for r in fake.sent(auth.LOG_OUT)] == [CUSTOMER_TOKEN]


# --- sessions: every customer route asks auth who the cookie belongs to --------------------


async def test_without_a_session_cookie_nothing_is_asked(gateway: Client, fake: FakeRpc) -> None:
    response = await gateway.get("/api/v1/meters")
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")
    assert fake.requests == []


async def test_a_session_auth_does_not_know_is_refused(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(auth.RESOLVE_SESSION, refusal("session_expired", 401))
    response = await gateway.get("/api/v1/meters", headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "session_expired")
    assert [r.token for r in fake.sent(auth.RESOLVE_SESSION)] == [CUSTOMER_TOKEN]
    assert fake.sent(readings.METERS) == []


async def test_a_state_change_without_the_csrf_token_is_refused_before_any_call(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    del headers["x-csrf-token"]
    response = await gateway.post(
        "/api/v1/readings", json={"serial": "WM0000011", "value": "1"}, headers=headers
    )
    assert response.status_code == 403
    assert fake.requests == []


# --- me --------------------------------------------------------------------------------------


async def test_me_is_the_profile_of_the_sessions_account(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(auth.PROFILE, profile())
    response = await gateway.get("/api/v1/me", headers=headers)
    assert response.status_code == 200
    assert response.json()["customer_name"] == "Jan Kowalski"
    assert [q.account_id for q in fake.sent(auth.PROFILE)] == [CUSTOMER.account_id]


async def test_a_refused_contact_change_is_a_problem_on_its_field(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(auth.UPDATE_CONTACT, refusal("email_taken", 409, email="zajęty"))
    response = await gateway.put(
        "/api/v1/me/contact", json={"email": "inny@example.com"}, headers=headers
    )
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["fields"]) == (
        "email_taken",
        {"email": "zajęty"},
    )


# --- meters, readings, consumption ---------------------------------------------------------


async def test_meters_are_the_sessions_customers(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(readings.METERS, readings.MeterPage(items=[], next_cursor="c2"))
    response = await gateway.get("/api/v1/meters?limit=5&cursor=c1", headers=headers)
    assert response.json() == {"items": [], "next_cursor": "c2"}
    (query,) = fake.sent(readings.METERS)
    assert (query.customer_number, query.limit, query.cursor) == (NUMBER, 5, "c1")


async def test_meters_unanswered_in_time_is_a_504(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(readings.METERS, RpcTimeout("ibok.readings.rpc.meters.v1"))
    response = await gateway.get("/api/v1/meters", headers=headers)
    assert (response.status_code, response.json()["code"]) == (504, "upstream_timeout")


async def test_a_new_reading_is_201_and_a_replacement_200(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    body = {"serial": "WM0000011", "value": "123.456", "read_on": "2026-11-30"}
    for replaced, status in ((False, 201), (True, 200)):
        fake.answer(
            readings.SUBMIT_READING,
            readings.ReadingAccepted(
                reading=reading_view(), replaced=replaced, message="Zapisano.", message_en="Saved."
            ),
        )
        response = await gateway.post(
            "/api/v1/readings", json=body, headers={**headers, "accept-language": "en"}
        )
        assert response.status_code == status
        assert (response.json()["replaced"], response.json()["message"]) == (replaced, "Saved.")
    sent = fake.sent(readings.SUBMIT_READING)[0]
    assert (sent.customer_number, sent.serial, sent.value, sent.read_on) == (
        NUMBER,
        "WM0000011",
        Decimal("123.456"),
        date(2026, 11, 30),
    )


async def test_a_reading_below_the_previous_one_is_a_422_with_its_code(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(readings.SUBMIT_READING, refusal("reading_below_previous", 422, value="za mało"))
    response = await gateway.post(
        "/api/v1/readings", json={"serial": "WM0000011", "value": "1"}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "reading_below_previous"
    assert response.json()["fields"] == {"value": "za mało"}


async def test_reading_history_of_a_meter(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(readings.READING_HISTORY, readings.ReadingPage(items=[reading_view()]))
    response = await gateway.get(
        "/api/v1/readings?serial=WM0000011&from=2026-01-01", headers=headers
    )
    assert [r["value"] for r in response.json()["items"]] == ["123.456"]
    (query,) = fake.sent(readings.READING_HISTORY)
    assert (query.customer_number, query.serial, query.date_from) == (
        NUMBER,
        "WM0000011",
        date(2026, 1, 1),
    )


async def test_consumption_of_another_customers_premises_is_a_404(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(readings.CONSUMPTION, refusal("not_found", 404))
    response = await gateway.get("/api/v1/consumption?premises=P999", headers=headers)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert fake.sent(readings.CONSUMPTION)[0].premises_id == "P999"


async def test_consumption_chart_is_the_services_svg(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    svg = '<svg xmlns="http://www.w3.org/2000/svg"></svg>'
    fake.answer(readings.CONSUMPTION_CHART, readings.ConsumptionChart(svg=svg))
    response = await gateway.get("/api/v1/consumption/chart.svg?group=period", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text == svg
    assert fake.sent(readings.CONSUMPTION_CHART)[0].group == "period"


# --- inbox and terms -----------------------------------------------------------------------


async def test_inbox_with_its_unread_count(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(notify.INBOX, notify.InboxPage(items=[inbox_message()], unread=1))
    response = await gateway.get("/api/v1/inbox", headers=headers)
    assert response.json()["unread"] == 1
    assert response.json()["items"][0]["title"] == "Przerwa w dostawie wody"
    assert fake.sent(notify.INBOX)[0].customer_number == NUMBER


async def test_marking_another_customers_message_read_is_a_404(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(notify.MARK_READ, refusal("not_found", 404))
    message_id = UUID("00000000-0000-4000-8000-00000000e999")
    response = await gateway.post(f"/api/v1/inbox/{message_id}/read", headers=headers)
    assert response.status_code == 404
    (sent,) = fake.sent(notify.MARK_READ)
    assert (sent.customer_number, sent.message_id) == (NUMBER, message_id)


async def test_terms_in_force_need_no_session(gateway: Client, fake: FakeRpc) -> None:
    fake.answer(notify.TERMS_IN_FORCE, terms(3))
    response = await gateway.get("/api/v1/terms")
    assert (response.status_code, response.json()["version"]) == (200, 3)
    assert fake.sent(auth.RESOLVE_SESSION) == []


async def test_a_terms_version_never_published_is_a_404(gateway: Client, fake: FakeRpc) -> None:
    fake.answer(notify.TERMS_VERSION, refusal("not_found", 404))
    response = await gateway.get("/api/v1/terms/versions/99")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert fake.sent(notify.TERMS_VERSION)[0].version == 99


# --- billing: contracts, invoices, settlement ----------------------------------------------


async def test_contracts_of_the_customer(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(billing.LIST_CONTRACTS, billing.ContractList(items=[], data_as_of=NOW))
    response = await gateway.get("/api/v1/contracts", headers=headers)
    assert response.json()["items"] == []
    assert fake.sent(billing.LIST_CONTRACTS)[0].customer_number == NUMBER


async def test_another_customers_contract_is_a_404(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(billing.GET_CONTRACT, refusal("not_found", 404))
    response = await gateway.get(f"/api/v1/contracts/{INVOICE_ID}", headers=headers)
    assert response.status_code == 404


async def test_the_invoice_list_is_billings_json_kept_until_billing_says_it_changed(
    gateway: Client, fake: FakeRpc, events: QuietEvents
) -> None:
    headers = as_customer(fake)
    fake.answer(billing.LIST_INVOICES, invoice_page("F/1"))
    first = await gateway.get("/api/v1/invoices", headers=headers)
    fake.answer(billing.LIST_INVOICES, invoice_page("F/1", "F/2"))
    kept = await gateway.get("/api/v1/invoices", headers=headers)
    events.deliver(
        BillingDataChanged.SCHEMA,
        BillingDataChanged(customer_numbers=[NUMBER]),
    )
    fresh = await gateway.get("/api/v1/invoices", headers=headers)
    assert [len(r.json()["items"]) for r in (first, kept, fresh)] == [1, 1, 2]
    assert len(fake.sent(billing.LIST_INVOICES)) == 2
    assert fake.sent(billing.LIST_INVOICES)[0].customer_number == NUMBER


async def test_an_invoice_id_that_is_no_uuid_is_a_404_without_asking(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    for ref in ("not-a-uuid", f"{INVOICE_ID}.docx"):
        response = await gateway.get(f"/api/v1/invoices/{ref}", headers=headers)
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert fake.sent(billing.GET_INVOICE) == fake.sent(billing.INVOICE_DOCUMENT) == []


async def test_an_invoice_pdf_is_billings_document_with_its_headers(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(
        billing.INVOICE_DOCUMENT,
        billing.RenderedDocument(
            content=b"%PDF-1.7 ...", media_type="application/pdf", filename="F-1.pdf"
        ),
    )
    response = await gateway.get(f"/api/v1/invoices/{INVOICE_ID}.pdf", headers=headers)
    assert response.status_code == 200
    assert response.content == b"%PDF-1.7 ..."
    assert response.headers["content-disposition"] == 'inline; filename="F-1.pdf"'
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    (query,) = fake.sent(billing.INVOICE_DOCUMENT)
    assert (query.customer_number, query.invoice_id, query.format) == (NUMBER, INVOICE_ID, "pdf")


async def test_settlement_while_billing_is_unreachable_is_a_503(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(billing.GET_SETTLEMENT, RpcUnavailable("no consumer queue"))
    response = await gateway.get("/api/v1/settlement", headers=headers)
    assert (response.status_code, response.json()["code"]) == (503, "service_unavailable")
    assert response.headers["retry-after"] == "5"


async def test_settlement_is_billings_answer(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(billing.GET_SETTLEMENT, settlement(balance_grosze=-1250))
    response = await gateway.get("/api/v1/settlement", headers=headers)
    assert response.json()["balance_grosze"] == -1250
    assert fake.sent(billing.GET_SETTLEMENT)[0].customer_number == NUMBER


# --- complaints ----------------------------------------------------------------------------


async def test_a_complaint_is_filed_for_the_sessions_customer(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(billing.FILE_COMPLAINT, complaint())
    response = await gateway.post(
        "/api/v1/complaints",
        json={
            "subject": "Za wysoka faktura",
            "description": "Faktura za październik jest za wysoka.",
            "expected_resolution": "Korekta",
        },
        headers={**headers, "idempotency-key": "k-1"},
    )
    assert response.status_code == 201
    assert response.json()["complaint_id"] == str(COMPLAINT_ID)
    (command,) = fake.sent(billing.FILE_COMPLAINT)
    assert (command.customer_number, command.subject) == (NUMBER, "Za wysoka faktura")


async def test_a_complaint_about_a_reading_not_the_customers_is_refused(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    # The reading is looked up in the customer's own history, where it is not.
    fake.answer(readings.READING_HISTORY, readings.ReadingPage(items=[reading_view()]))
    response = await gateway.post(
        "/api/v1/complaints",
        json={
            "subject": "Odczyt",
            "description": "To nie mój odczyt.",
            "expected_resolution": "Korekta",
            "reading_id": str(UUID(int=7)),
        },
        headers=headers,
    )
    assert (response.status_code, response.json()["code"]) == (404, "reading_not_found")
    assert fake.sent(readings.READING_HISTORY)[0].customer_number == NUMBER
    assert fake.sent(billing.FILE_COMPLAINT) == []


async def test_answering_a_settled_complaint_is_a_409(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(billing.ANSWER_COMPLAINT, refusal("complaint_settled", 409))
    response = await gateway.post(
        f"/api/v1/complaints/{COMPLAINT_ID}/messages", json={"body": "Dziękuję."}, headers=headers
    )
    assert (response.status_code, response.json()["code"]) == (409, "complaint_settled")
    assert fake.sent(billing.ANSWER_COMPLAINT)[0].customer_number == NUMBER


# --- health ----------------------------------------------------------------------------------


async def test_ready_follows_the_clients_connection(gateway: Client, fake: FakeRpc) -> None:
    assert (await gateway.get("/health/ready")).status_code == 200
    fake.ready = False
    response = await gateway.get("/health/ready")
    assert (response.status_code, response.json()["checks"]) == (503, {"broker": False})
