"""Terms and announcements in the browser: staff publish a version of the terms and send commercial
information (R11, R15); the terms are public and shown as text (R12); the customer reads the
announcement in the IBOK inbox and marks it read."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from playwright.async_api import expect

from runtime.clock import business_today
from tests.browser.conftest import PortalCustomer, PortalPage, log_in, titled
from tests.browser.test_staff_pages import staff_log_in


async def test_staff_publish_terms_and_an_announcement_that_the_customer_reads_in_the_inbox(
    portal: PortalPage,
    portal_customer: PortalCustomer,
    staff_logins: dict[str, tuple[str, str]],
) -> None:
    page = portal.page
    await staff_log_in(portal, *staff_logins["admin"])
    await portal.goto("/staff/terms")
    await page.get_by_role("button", name="Opublikuj nową wersję").click()
    await expect(page.locator(".error-summary")).to_contain_text("Wpisz treść regulaminu.")
    await portal.check_accessibility("terms refused")
    await page.get_by_label("Treść regulaminu").fill(
        "§ 1. Regulamin testowy portalu.\n§ 2. <b>Bez HTML</b>."
    )
    # Not retroactively (R11): the service's refusal, in the page's language, at the field.
    yesterday = business_today() - timedelta(days=1)
    await page.get_by_label("Obowiązuje od").fill(yesterday.isoformat())
    await page.get_by_role("button", name="Opublikuj nową wersję").click()
    await expect(page.locator(".error-summary")).to_contain_text("nie może być wcześniejsza")
    await page.get_by_label("Obowiązuje od").fill(business_today().isoformat())
    await page.get_by_role("button", name="Opublikuj nową wersję").click()
    await expect(page.get_by_role("status")).to_contain_text("Opublikowano nową wersję")

    await portal.goto("/staff/announcements")
    await page.get_by_label("Temat").fill("Przerwa w dostawie wody (portal)")
    await page.get_by_label("Treść").fill("W sobotę od 8:00 do 12:00.")
    await page.get_by_role("button", name="Wyślij").click()
    await expect(page.get_by_role("status")).to_contain_text("Komunikat jest wysyłany")
    await page.get_by_role("button", name="Wyloguj").click()

    # The terms are public; their text is shown as text, never as HTML (R12).
    await portal.goto("/terms")
    await expect(page).to_have_title(titled("Regulamin IBOK"))
    await expect(page.locator(".terms-text")).to_contain_text("<b>Bez HTML</b>")
    await portal.check_accessibility("terms")

    await log_in(portal, portal_customer.login, portal_customer.password)
    announcement = page.get_by_role("article").filter(has_text="Przerwa w dostawie wody (portal)")
    deadline = time.monotonic() + 20
    while True:  # the fan-out reaches every inbox in the background
        await portal.goto("/inbox")
        if await announcement.count() or time.monotonic() > deadline:
            break
        await page.wait_for_timeout(300)
    await expect(announcement).to_contain_text("W sobotę od 8:00 do 12:00.")
    await expect(announcement).to_contain_text("nowa")
    await portal.check_accessibility("inbox")
    await announcement.get_by_role("button", name=re.compile("Oznacz jako przeczytaną")).click()
    await expect(announcement).not_to_contain_text("nowa")
