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

# (file name, path, needs a logged-in customer)
MAIN_PAGES = [
    ("login", "/login", False),
    ("register", "/register", False),
    ("home", "/", True),
    ("meters", "/meters", True),
    ("readings", "/readings", True),
    ("consumption", "/consumption", True),
    ("invoices", "/invoices", True),
    ("settlement", "/settlement", True),
    ("contracts", "/contracts", True),
    ("account", "/me", True),
    ("contact", "/me/contact", True),
    ("inbox", "/inbox", True),
    ("terms", "/terms", True),
]


@pytest.mark.parametrize(("width_name", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
async def test_main_pages_fit_the_screen_pass_axe_and_are_photographed(
    browser: Browser,
    gateway: str,
    portal_customer: PortalCustomer,
    tmp_path: Path,
    width_name: str,
    viewport: dict[str, int],
) -> None:
    folder = Path(os.environ.get("IBOK_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(viewport=viewport, locale="pl-PL")  # type: ignore[arg-type]
    try:
        portal = PortalPage(await context.new_page(), gateway)
        logged_in = False
        for name, path, needs_login in MAIN_PAGES:
            if needs_login and not logged_in:
                await log_in(portal, portal_customer.login, portal_customer.password)
                logged_in = True
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
