"""Customers for the tests: register one of the simulator's customers through the API and log in."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.clients import gateway_client
from tests.support.mail import MailSink, link_token
from tools.billing_sim.dataset import Dataset, SimCustomer

PASSWORD = "Woda2026"


def registration(
    customer: SimCustomer, login: str, password: str = PASSWORD, email: str | None = None
) -> dict[str, str]:
    active = next(c for c in customer.contracts if c.status == "active")
    return {
        "customer_number": customer.number,
        "contract_number": active.contract_number,
        "identity_kind": customer.identity_kind,
        "identity_number": customer.identity_number,
        "login": login,
        "password": password,
        "email": email or f"{login.lower()}@example.com",
    }


def with_active_contract(dataset: Dataset, index: int) -> SimCustomer:
    """The ``index``-th customer that can register; give every test its own index."""
    candidates = [c for c in dataset.customers if any(k.status == "active" for k in c.contracts)]
    return candidates[index]


async def logged_in_client(
    gateway: str, mail_sink: MailSink, customer: SimCustomer, login: str
) -> httpx.AsyncClient:
    """Register ``customer`` as ``login``, confirm the emailed link and log in; the caller closes the client."""
    client = gateway_client(gateway, timeout=15)
    body = registration(customer, login)
    answer = await client.post("/api/v1/auth/register", json=body)
    assert answer.status_code == 201, answer.text
    token = await asyncio.to_thread(lambda: link_token(mail_sink.wait_for(body["email"])))
    assert (
        await client.post("/api/v1/auth/verify-email", json={"token": token})
    ).status_code == 204
    login_answer = await client.post(
        "/api/v1/auth/login", json={"login": login, "password": PASSWORD}
    )
    assert login_answer.status_code == 200, login_answer.text
    return client
