"""Every main page at phone and desktop widths: no horizontal scrolling, axe clean, a screenshot.

The screenshots go to a temporary folder; ``make screenshots`` (IBOK_SCREENSHOTS=docs/screenshots)
writes them into the docs instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.browser.conftest import DESKTOP, PHONE, PortalCustomer, PortalPage, log_in
from tests.browser.test_staff_pages import staff_log_in
from tests.conftest import staff_client
from tests.support.clients import gateway_client

# (file name, path, who must be logged in: "" no one, "customer" or "staff");
# {complaint} is the complaint made for the pictures.
MAIN_PAGES = [
    ("login", "/login", ""),
    ("register", "/register", ""),
    ("home", "/", "customer"),
    ("meters", "/meters", "customer"),
    ("readings", "/readings", "customer"),
    ("consumption", "/consumption", "customer"),
    ("invoices", "/invoices", "customer"),
    ("settlement", "/settlement", "customer"),
    ("contracts", "/contracts", "customer"),
    ("complaints", "/complaints", "customer"),
    ("complaint", "/complaints/{complaint}", "customer"),
    ("account", "/me", "customer"),
    ("contact", "/me/contact", "customer"),
    ("inbox", "/inbox", "customer"),
    ("terms", "/terms", "customer"),
    ("staff-complaint", "/staff/complaints/{complaint}", "staff"),
]


@pytest.fixture(scope="module")
async def complaint_to_photograph(
    gateway: str, portal_customer: PortalCustomer, staff_logins: dict[str, tuple[str, str]]
) -> str:
    """A complaint of the shared customer with staff's question and the customer's answer, made
    through the API, so the complaint pages show a thread."""
    customer = gateway_client(gateway)
    staff = await staff_client(gateway, *staff_logins["care"])
    try:
        logged_in = await customer.post(
            "/api/v1/auth/login",
            json={"login": portal_customer.login, "password": portal_customer.password},
        )
        assert logged_in.status_code == 200, logged_in.text
        filed = await customer.post(
            "/api/v1/complaints",
            json={
                "subject": "Niedziałający wodomierz",
                "description": "Wodomierz w piwnicy nie pokazuje zużycia od dwóch tygodni.",
                "expected_resolution": "Sprawdzenie i wymiana wodomierza",
            },
        )
        assert filed.status_code == 201, filed.text
        complaint_id = str(filed.json()["complaint_id"])
        asked = await staff.post(
            f"/api/v1/staff/complaints/{complaint_id}/request-info",
            json={"question": "Prosimy o zdjęcie tarczy wodomierza i jego numer."},
        )
        assert asked.status_code == 200, asked.text
        answered = await customer.post(
            f"/api/v1/complaints/{complaint_id}/messages",
            json={"body": "Numer WMP00001, zdjęcie wyślę pocztą."},
        )
        assert answered.status_code == 200, answered.text
    finally:
        await customer.aclose()
        await staff.aclose()
    return complaint_id


@pytest.mark.parametrize(("width_name", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
async def test_main_pages_fit_the_screen_pass_axe_and_are_photographed(
    browser: Browser,
    gateway: str,
    portal_customer: PortalCustomer,
    staff_logins: dict[str, tuple[str, str]],
    complaint_to_photograph: str,
    tmp_path: Path,
    width_name: str,
    viewport: dict[str, int],
) -> None:
    folder = Path(os.environ.get("IBOK_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(viewport=viewport, locale="pl-PL")  # type: ignore[arg-type]
    try:
        portal = PortalPage(await context.new_page(), gateway)
        logged_in: set[str] = set()
        for name, path, who in MAIN_PAGES:
            if who == "customer" and who not in logged_in:
                await log_in(portal, portal_customer.login, portal_customer.password)
            elif who == "staff" and who not in logged_in:
                await staff_log_in(portal, *staff_logins["care"])
            logged_in.add(who)
            path = path.format(complaint=complaint_to_photograph)
            answer = await portal.goto(path)
            assert answer is not None and answer.status == 200, (path, answer)
            overflow = await portal.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width_name} width"
            await portal.check_accessibility(f"{path} at {width_name} width")
            await portal.page.screenshot(path=folder / f"{name}-{width_name}.png", full_page=True)
    finally:
        await context.close()
