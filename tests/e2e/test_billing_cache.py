"""The gateway keeps billing's answers (R9) and drops them the moment billing applies a change.

The suite's gateway keeps answers for up to 300 s (the default ``IBOK_BILLING_CACHE_SECONDS``),
so a change that shows within seconds shows because billing's ``billing.data-changed.v1`` event
reached the gateway, not because an entry expired.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

import httpx

from contracts.billing_system import PaymentRecorded, SyncCompleted
from tests.support.billing import eventually, invoice, send
from tests.support.customers import logged_in_client, with_active_contract
from tests.support.infra import Infra
from tests.support.mail import MailSink
from tools.billing_sim.dataset import Dataset

CACHE_CUSTOMER = 28


async def _lookups(client: httpx.AsyncClient, metrics: str, outcome: str) -> float:
    text = (await client.get(metrics)).text
    found = re.search(
        rf'^ibok_gateway_billing_cache_lookups_total{{outcome="{outcome}"}} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


async def test_answers_are_kept_and_every_change_billing_applies_shows_at_once(
    gateway: str, gateway_metrics: str, mail_sink: MailSink, billing_data: Dataset, infra: Infra
) -> None:
    customer = with_active_contract(billing_data, CACHE_CUSTOMER)
    contract = next(c for c in customer.contracts if c.status == "active").contract_number
    client = await logged_in_client(gateway, mail_sink, customer, "billing.cache")
    try:
        first = (await client.get("/api/v1/invoices", params={"limit": 5})).json()
        hits = await _lookups(client, gateway_metrics, "hit")
        again = (await client.get("/api/v1/invoices", params={"limit": 5})).json()
        assert again == first
        assert (
            await _lookups(client, gateway_metrics, "hit") >= hits + 1
        )  # the second answer was the kept one

        # A new invoice: the list shows it within seconds, long before the 300 s expiry.
        issued = invoice(customer.number, contract, "T/CACHE/1", issued_on=date.today())
        sent = time.monotonic()
        await send(infra.amqp_url, issued)
        page = await eventually(
            lambda: _get(client, "/api/v1/invoices", limit=5),
            lambda p: p["items"][0]["number"] == "T/CACHE/1",
            timeout=10,
        )
        assert time.monotonic() - sent < 10
        detail = await _get(client, f"/api/v1/invoices/{page['items'][0]['invoice_id']}")
        assert detail["gross_grosze"] == issued.gross_grosze

        # A payment lowers the kept balance.
        before = (await _get(client, "/api/v1/settlement"))["balance_grosze"]
        assert (await _get(client, "/api/v1/settlement"))["balance_grosze"] == before
        await send(
            infra.amqp_url,
            PaymentRecorded(
                payment_id="T/CACHE/P1",
                customer_number=customer.number,
                amount_grosze=issued.gross_grosze,
                paid_on=date.today(),
                invoice_number="T/CACHE/1",
            ),
        )
        await eventually(
            lambda: _get(client, "/api/v1/settlement"),
            lambda s: s["balance_grosze"] == before - issued.gross_grosze,
            timeout=10,
        )

        # A sync completed moves everyone's "data as of": every kept answer goes.
        as_of = (await _get(client, "/api/v1/contracts"))["data_as_of"]
        newer = SyncCompleted(
            as_of=max(datetime.now(UTC), billing_data.as_of) + timedelta(seconds=1)
        )
        await send(infra.amqp_url, newer)
        await eventually(
            lambda: _get(client, "/api/v1/contracts"),
            lambda c: c["data_as_of"] != as_of,
            timeout=10,
        )
    finally:
        await client.aclose()


async def _get(client: httpx.AsyncClient, url: str, **params: object) -> dict[str, object]:
    answer = await client.get(url, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]
