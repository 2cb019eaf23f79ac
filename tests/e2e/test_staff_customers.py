"""Staff find a customer and see contracts, balance and the IBOK account's state; customers cannot."""

from __future__ import annotations

from tests.conftest import staff_client
from tests.support.customers import logged_in_client, with_active_contract
from tests.support.mail import MailSink
from tools.billing_sim.dataset import Dataset, SimCustomer


async def test_staff_search_and_view_a_customer_with_account_state(
    gateway: str,
    billing_data: Dataset,
    auth_customers: list[SimCustomer],
    mail_sink: MailSink,
    staff_logins: dict[str, tuple[str, str]],
) -> None:
    customer = with_active_contract(billing_data, 33)
    client = await logged_in_client(gateway, mail_sink, customer, "staff.view.me")
    care = await staff_client(gateway, *staff_logins["care"])
    try:
        hits = (await care.get("/api/v1/staff/customers", params={"q": customer.number})).json()[
            "items"
        ]
        assert [h["customer_number"] for h in hits] == [customer.number]
        assert hits[0]["account"] == {
            "status": "active",
            "login": "staff.view.me",
            "blocked_until": None,
            "email_verified": True,
        }

        by_name = (
            await care.get(
                "/api/v1/staff/customers", params={"q": billing_data.customers[0].name[:5]}
            )
        ).json()
        assert any(
            h["customer_number"] == billing_data.customers[0].number for h in by_name["items"]
        )

        view = await care.get(f"/api/v1/staff/customers/{customer.number}")
        assert view.status_code == 200, view.text
        body = view.json()
        assert body["name"] == customer.name and body["contracts"]
        assert {"balance_grosze", "overdue_grosze", "data_as_of"} <= body.keys()
        assert body["account"]["status"] == "active"
        assert "identity" not in view.text.lower() and "password" not in view.text.lower()

        assert (await care.get("/api/v1/staff/customers/NOBODY-42")).status_code == 404
        assert (await care.get("/api/v1/staff/customers/bad number!")).status_code == 404
        assert (await client.get("/api/v1/staff/customers", params={"q": "K0"})).status_code == 401
    finally:
        await client.aclose()
        await care.aclose()
