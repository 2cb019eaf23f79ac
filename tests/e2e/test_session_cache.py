"""The gateways' session cache never outlives an ended session: a block or logout on one gateway
takes effect on another within one request."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import staff_client
from tests.support.customers import logged_in_client
from tests.support.mail import MailSink
from tools.billing_sim.dataset import SimCustomer
from tools.system import System


@pytest.mark.parametrize("how", ["block", "logout"])
async def test_ended_session_is_refused_at_once_by_another_gateway(
    how: str,
    gateway: str,
    second_gateway: System,
    auth_customers: list[SimCustomer],
    mail_sink: MailSink,
    staff_logins: dict[str, tuple[str, str]],
) -> None:
    # Two of the extra customers auth_customers publishes (indexes 18 and 19 are this file's).
    index = {"block": 18, "logout": 19}[how]
    login = f"cache.{how}"
    customer = await logged_in_client(gateway, mail_sink, auth_customers[index], login)
    other = second_gateway.url("gateway")
    cookies = {"ibok_session": customer.cookies["ibok_session"]}
    try:
        async with httpx.AsyncClient(base_url=other, cookies=cookies) as elsewhere:
            # Both gateways now hold the session in their caches.
            assert (await customer.get("/api/v1/me")).status_code == 200
            assert (await elsewhere.get("/api/v1/me")).status_code == 200
            if how == "block":
                care = await staff_client(gateway, *staff_logins["care"])
                blocked = await care.post(
                    f"/api/v1/staff/accounts/{login}/block",
                    json={
                        "reason": "Na prośbę klienta",
                        "permanent": True,
                        "identity_check_used": "pesel",
                        "identity_verified": True,
                    },
                )
                await care.aclose()
                assert blocked.status_code == 200, blocked.text
            else:
                assert (await customer.post("/api/v1/auth/logout")).status_code == 204
            assert (await elsewhere.get("/api/v1/me")).status_code == 401
    finally:
        await customer.aclose()
