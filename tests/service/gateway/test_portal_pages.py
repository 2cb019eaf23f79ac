"""Portal pages over a fake RPC client: a page asks the services for the visitor's own data and
renders it; a refusal is shown beside its field; a missing session or service has its page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from litestar.testing import AsyncTestClient

from contracts import auth, billing, notify, readings
from runtime.clock import business_today
from runtime.rpc_client import RpcUnavailable
from services.gateway.protection import csrf_token_for
from tests.service.gateway.conftest import (
    CUSTOMER,
    CUSTOMER_TOKEN,
    FakeRpc,
    as_customer,
    as_staff,
    refusal,
)
from tests.service.gateway.samples import (
    ADDRESS,
    NOW,
    flagged_reading,
    invoice_page,
    profile,
    settlement,
)

Client = AsyncTestClient[Any]
NUMBER = CUSTOMER.customer_number
FORM = "application/x-www-form-urlencoded"


def meter(serial: str = "WM0000011") -> readings.MeterView:
    return readings.MeterView(
        serial=serial,
        premises_id="P001",
        diameter_mm=15,
        installed_on=date(2020, 1, 1),
        legalization_expires=date(2030, 1, 1),
        legalization_days_left=1000,
        can_submit=True,
    )


async def test_the_home_page_shows_the_customers_own_data(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(auth.PROFILE, profile())
    fake.answer(billing.GET_SETTLEMENT, settlement(balance_grosze=-12_345))
    fake.answer(readings.METERS, readings.MeterPage(items=[meter()]))
    fake.answer(notify.INBOX, notify.InboxPage(items=[], unread=0))
    fake.answer(billing.LIST_CONTRACTS, billing.ContractList(items=[], data_as_of=NOW))
    response = await gateway.get("/", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Jan Kowalski" in response.text
    assert "WM0000011" in response.text
    assert "123,45" in response.text  # the balance, in Polish money format
    assert fake.sent(auth.PROFILE)[0].account_id == CUSTOMER.account_id
    for operation in (billing.GET_SETTLEMENT, readings.METERS, notify.INBOX):
        assert fake.sent(operation)[0].customer_number == NUMBER


async def test_the_home_page_without_billing_still_shows_the_rest(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(auth.PROFILE, profile())
    fake.answer(readings.METERS, readings.MeterPage(items=[meter()]))
    fake.answer(notify.INBOX, notify.InboxPage(items=[], unread=0))
    response = await gateway.get("/", headers=headers)
    assert response.status_code == 200
    assert "WM0000011" in response.text


async def test_the_home_page_without_a_session_sends_to_login(
    gateway: Client, fake: FakeRpc
) -> None:
    response = await gateway.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert fake.requests == []


async def test_a_customer_page_when_auth_ended_the_session_asks_to_log_in(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(auth.RESOLVE_SESSION, refusal("session_expired", 401))
    response = await gateway.get("/invoices", headers=headers, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/invoices")


async def test_the_invoices_page_lists_billings_invoices(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(billing.LIST_INVOICES, invoice_page("FV/2026/11/0001"))
    response = await gateway.get("/invoices", headers=headers)
    assert response.status_code == 200
    assert "FV/2026/11/0001" in response.text
    assert fake.sent(billing.LIST_INVOICES)[0].customer_number == NUMBER


async def test_a_page_whose_service_is_unreachable_is_the_503_page(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(billing.LIST_INVOICES, RpcUnavailable("no consumer queue"))
    response = await gateway.get("/invoices", headers={**headers, "accept-language": "en"})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["retry-after"] == "5"


async def test_a_reading_below_the_previous_one_is_shown_beside_its_field(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(readings.METERS, readings.MeterPage(items=[meter()]))
    fake.answer(
        readings.SUBMIT_READING,
        refusal("reading_below_previous", 422, "Stan niższy niż poprzedni (100 m³)."),
    )
    form = {
        "serial": "WM0000011",
        "value": "99.5",
        "read_on": business_today().isoformat(),
        "csrf_token": csrf_token_for(CUSTOMER_TOKEN),
    }
    response = await gateway.post(
        "/readings", content=urlencode(form), headers={**headers, "content-type": FORM}
    )
    assert response.status_code == 422
    assert 'id="value-error"' in response.text
    assert "Stan niższy niż poprzedni (100 m³)." in response.text
    (command,) = fake.sent(readings.SUBMIT_READING)
    assert (command.customer_number, command.value) == (NUMBER, Decimal("99.5"))


async def test_an_accepted_reading_redirects_to_its_history(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(readings.METERS, readings.MeterPage(items=[meter()]))
    fake.answer(
        readings.SUBMIT_READING,
        lambda command: readings.ReadingAccepted(
            reading=readings.ReadingView(
                reading_id=flagged_reading().reading_id,
                serial=command.serial,
                value=command.value,
                read_on=business_today(),
                source="customer",
                status="accepted",
                submitted_at=NOW,
            ),
            message="Zapisano.",
            message_en="Saved.",
        ),
    )
    form = {"serial": "WM0000011", "value": "120", "csrf_token": csrf_token_for(CUSTOMER_TOKEN)}
    response = await gateway.post(
        "/readings",
        content=urlencode(form),
        headers={**headers, "content-type": FORM},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/readings?serial=WM0000011",
    )


async def test_a_form_with_a_forged_token_reaches_no_service(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(readings.METERS, readings.MeterPage(items=[meter()]))
    form = {"serial": "WM0000011", "value": "120", "csrf_token": "forged"}
    response = await gateway.post(
        "/readings", content=urlencode(form), headers={**headers, "content-type": FORM}
    )
    assert response.status_code == 422
    assert fake.sent(readings.SUBMIT_READING) == []


async def test_the_staff_console_lists_flagged_readings(gateway: Client, fake: FakeRpc) -> None:
    headers = as_staff(fake)
    fake.answer(readings.FLAGGED_READINGS, readings.FlaggedReadingPage(items=[flagged_reading()]))
    response = await gateway.get("/staff/readings/flagged", headers=headers)
    assert response.status_code == 200
    assert NUMBER in response.text


async def test_the_staff_console_without_a_staff_session_sends_to_staff_login(
    gateway: Client, fake: FakeRpc
) -> None:
    response = await gateway.get(
        "/staff/readings/flagged", headers=as_customer(fake), follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/staff/login")
    assert fake.sent(readings.FLAGGED_READINGS) == []


async def test_the_account_page_shows_the_sessions_profile(gateway: Client, fake: FakeRpc) -> None:
    headers = as_customer(fake)
    fake.answer(auth.PROFILE, profile())
    response = await gateway.get("/me", headers=headers)
    assert response.status_code == 200
    assert "jan@example.com" in response.text
    assert fake.sent(auth.PROFILE)[0].account_id == CUSTOMER.account_id


async def test_a_new_complaint_offers_the_customers_invoices(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(billing.LIST_INVOICES, invoice_page("FV/2026/11/0007"))
    response = await gateway.get("/complaints/new", headers=headers)
    assert response.status_code == 200
    assert "FV/2026/11/0007" in response.text
    assert fake.sent(billing.LIST_INVOICES)[0].customer_number == NUMBER


async def test_the_staff_console_shows_a_customer_with_their_account(
    gateway: Client, fake: FakeRpc
) -> None:
    headers = as_staff(fake)
    fake.answer(
        billing.CUSTOMER_OVERVIEW,
        billing.CustomerOverview(
            customer_number=NUMBER,
            name="Jan Kowalski",
            kind="person",
            address=ADDRESS,
            contracts=[],
            balance_grosze=0,
            overdue_grosze=0,
            data_as_of=NOW,
        ),
    )
    fake.answer(
        auth.ACCOUNTS_OF_CUSTOMERS,
        auth.AccountsOfCustomers(
            accounts=[
                auth.CustomerAccount(
                    customer_number=NUMBER,
                    login="jan.kowalski",
                    status="active",
                    email_verified=True,
                )
            ]
        ),
    )
    response = await gateway.get(f"/staff?number={NUMBER.lower()}", headers=headers)
    assert response.status_code == 200
    assert "Jan Kowalski" in response.text
    assert "jan.kowalski" in response.text
    assert fake.sent(billing.CUSTOMER_OVERVIEW)[0].customer_number == NUMBER
    assert fake.sent(auth.ACCOUNTS_OF_CUSTOMERS)[0].customer_numbers == [NUMBER]
