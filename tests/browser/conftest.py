"""Browser fixtures: Debian's Chromium driven by Playwright, and axe-core injected into each page."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from contracts.billing_system import (
    Address,
    ContractUpserted,
    MeterUpserted,
    Premises,
    SyncCompleted,
)
from tests.support.customers import PASSWORD, registration
from tests.support.infra import Infra
from tests.support.mail import MailSink, link_token
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import Dataset, SimCustomer, add_history, pesel

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
# Installing a browser from the internet fails here: Debian's Chromium, without its background
# traffic (updates, sync, QUIC), headless and without the sandbox that needs user namespaces.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@dataclass
class AxeReport:
    """What axe found on every page the tests checked (printed at the end of the run)."""

    pages: int = 0
    by_impact: dict[str, int] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)


AXE_REPORT = AxeReport()
AXE_SOURCE = AXE.read_text() if AXE.exists() else ""


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if AXE_REPORT.pages:
        terminalreporter.write_line(
            f"axe-core: {AXE_REPORT.pages} page checks, violations by impact "
            f"{json.dumps(AXE_REPORT.by_impact, sort_keys=True)}, rules "
            f"{json.dumps(AXE_REPORT.rules, sort_keys=True)}"
        )


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    # The async API on the session's event loop: the sync one would leave its own loop
    # "running" in this thread and break every asyncio test and fixture after it.
    assert CHROMIUM.exists(), "Chromium is missing: make install (apt-get install chromium)"
    assert AXE.exists(), "axe-core is missing: make install (npm ci in tests/browser)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


class PortalPage:
    """One browser tab on the portal that fails the test on a CSP violation or a script error."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or (message.type == "error" and "Refused" in text):
            self.problems.append(f"CSP: {text}")

    async def goto(self, path: str) -> Any:
        return await self.page.goto(self.base_url + path)

    async def check_accessibility(self, label: str = "") -> list[dict[str, Any]]:
        """axe-core on the page as it is now; no serious or critical violation is allowed.

        axe is evaluated through the DevTools protocol, which the page's CSP does not govern,
        so the CSP stays in force for the portal's own scripts and styles.
        """
        page = self.page
        if not await page.evaluate("typeof window.axe !== 'undefined'"):
            await page.evaluate(AXE_SOURCE)
        result = await page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
            }"""
        )
        AXE_REPORT.pages += 1
        for violation in result:
            impact = violation["impact"] or "none"
            AXE_REPORT.by_impact[impact] = AXE_REPORT.by_impact.get(impact, 0) + 1
            AXE_REPORT.rules[violation["id"]] = AXE_REPORT.rules.get(violation["id"], 0) + 1
        grave = [v for v in result if v["impact"] in ("serious", "critical")]
        assert not grave, f"axe on {label or page.url}: {json.dumps(grave, indent=1)}"
        assert not self.problems, self.problems
        return result


@pytest.fixture
async def portal(browser: Browser, gateway: str) -> AsyncIterator[PortalPage]:
    context = await browser.new_context(viewport=DESKTOP, locale="pl-PL")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    yield PortalPage(page, gateway)
    await context.close()


def titled(heading: str) -> re.Pattern[str]:
    """The page title the portal gives a page: its heading, a dash, the site's name."""
    return re.compile("^" + re.escape(heading) + " \u2013 IBOK$")


async def registered_customer(
    gateway: str, mail_sink: MailSink, customer: SimCustomer, login: str
) -> tuple[str, str]:
    """Register and confirm ``customer`` through the API (setup for tests about other pages)."""
    body = registration(customer, login)
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as client:
        answer = await client.post("/api/v1/auth/register", json=body)
        assert answer.status_code == 201, answer.text
        mail = await asyncio.to_thread(mail_sink.wait_for, body["email"])
        verified = await client.post("/api/v1/auth/verify-email", json={"token": link_token(mail)})
        assert verified.status_code == 204
    return login, PASSWORD


@dataclass(frozen=True)
class PortalCustomer:
    customer: SimCustomer
    login: str
    password: str


PORTAL_CUSTOMERS = 4


def portal_sim_customer(i: int, rng: random.Random, today: date) -> SimCustomer:
    """Portal test customer ``KP{i:05d}`` with a contract, a meter and 24 months of invoices,
    payments and control readings from the simulator's history generator."""
    number = f"KP{i:05d}"
    address = Address(street=f"ul. Portalowa {i}", postal_code="31-001", city="Kraków")
    customer = SimCustomer(number, "person", f"Klient Portalu {i}", "pesel", pesel(rng), address)
    premises = Premises(premises_id=f"PP{i:05d}-1", address=address)
    start = today - timedelta(days=1200 + 30 * i)
    customer.contracts.append(
        ContractUpserted(
            contract_number=f"UP/{start.year}/{i:05d}/1",
            customer_number=number,
            premises=premises,
            start_date=start,
            status="active",
            billing_period_months=3 if i % 2 else 2,
            revision=1,
        )
    )
    customer.meters.append(
        MeterUpserted(
            serial=f"WMP{i:05d}",
            premises_id=premises.premises_id,
            customer_number=number,
            diameter_mm=20,
            installed_on=start + timedelta(days=3),
            legalization_expires=today + timedelta(days=45 if i == 1 else 700),
            revision=1,
        )
    )
    # Invoice numbers carry the index: 900+ keeps them apart from the shared data set's.
    add_history(customer, 900 + i, today=today, months=24, seed=1101)
    return customer


async def publish_portal_customers(infra: Infra, customers: list[SimCustomer]) -> None:
    """Publish ``customers`` as the billing system would and wait until billing and readings
    have ingested every one of them."""
    messages = [
        m
        for m in Dataset(customers, datetime.now(UTC)).messages(digest_iterations=2_000)
        if not isinstance(m, SyncCompleted)
    ]
    await publish(infra.amqp_url, messages)
    numbers = [c.number for c in customers]
    conn = await asyncpg.connect(infra.postgres_dsn)
    try:
        for _ in range(300):
            invoices = await conn.fetchval(
                "SELECT count(DISTINCT customer_number) FROM billing.invoices"
                " WHERE customer_number = ANY($1::text[])",
                numbers,
            )
            meters = await conn.fetchval(
                "SELECT count(*) FROM readings.meters WHERE customer_number = ANY($1::text[])",
                numbers,
            )
            if invoices == len(numbers) and meters == len(numbers):
                return
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    raise AssertionError(f"billing and readings did not ingest the customers {numbers}")


@pytest.fixture(scope="session")
async def portal_customers(
    system: object, infra: Infra, billing_data: Dataset
) -> list[SimCustomer]:
    """The portal tests' own customers (numbers KP00001...), each with a contract, a meter and
    24 months of invoices, payments and control readings from the simulator, published as the
    billing system would; so the shared data set's customers stay with the other suites."""
    del system, billing_data  # the services run, and the shared data set went first
    rng = random.Random(1101)
    today = datetime.now(UTC).date()
    customers = [portal_sim_customer(i, rng, today) for i in range(1, PORTAL_CUSTOMERS + 1)]
    await publish_portal_customers(infra, customers)
    return customers


@pytest.fixture(scope="session")
async def portal_customer(
    gateway: str, portal_customers: list[SimCustomer], mail_sink: MailSink
) -> PortalCustomer:
    """One registered customer shared by the tests that only look, or log in and out."""
    customer = portal_customers[0]
    login, password = await registered_customer(gateway, mail_sink, customer, "portal.celina")
    return PortalCustomer(customer, login, password)


async def log_in(portal: PortalPage, login: str, password: str) -> None:
    page = portal.page
    await portal.goto("/login")
    await page.get_by_label("Login").fill(login)
    await page.get_by_label("Hasło").fill(password)
    await page.get_by_role("button", name="Zaloguj się").click()
    await page.wait_for_url(re.compile(r".*/$"))
