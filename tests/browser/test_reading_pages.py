"""The meters in the browser: the start page's meter card, a reading checked while typed, saved and
shown in the history (R8), consumption as a chart and a table (R7.7)."""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.async_api import expect

from tests.browser.conftest import PortalCustomer, PortalPage, log_in, titled


async def test_start_page_shows_the_meter_last_reading_and_legalizacja_days_left(
    portal: PortalPage, portal_customer: PortalCustomer
) -> None:
    page = portal.page
    await log_in(portal, portal_customer.login, portal_customer.password)
    main = page.locator("main")
    await expect(main).to_contain_text("Ostatni odczyt")
    await expect(main).to_contain_text(re.compile(r"\d,\d{3}\u00a0m³|brak odczytów"))
    await expect(main).to_contain_text("Legalizacja ważna do")
    await expect(main).to_contain_text(
        re.compile(r"zostało \d+\u00a0(dzień|dni)|legalizacja wygasła")
    )
    await portal.check_accessibility("home with the meter")


async def test_a_reading_is_checked_while_typed_then_saved_and_shown_in_the_history(
    portal: PortalPage, portal_customer: PortalCustomer
) -> None:
    page = portal.page
    await log_in(portal, portal_customer.login, portal_customer.password)
    await (
        page.get_by_role("navigation", name="Menu główne")
        .get_by_role("link", name="Odczyty")
        .click()
    )
    await expect(page).to_have_title(titled("Wodomierze i odczyty"))
    await portal.check_accessibility("meters")
    value = page.get_by_label("Stan wodomierza (m³)").first
    last = Decimal(await value.get_attribute("data-last") or "0")

    # Text that is not a number is refused by the page, the message tied to the field.
    await value.fill("dwanaście")
    await page.get_by_role("button", name="Wyślij odczyt").first.click()
    await expect(page).to_have_title(titled("Błąd: Wodomierze i odczyty"))
    await expect(page.locator(".error-summary")).to_contain_text("Stan wodomierza musi być liczbą")
    await expect(page.get_by_label("Stan wodomierza (m³)").first).to_have_attribute(
        "aria-invalid", "true"
    )
    await portal.check_accessibility("meters refused")

    new_value = (last + Decimal("3.25")).quantize(Decimal("0.001"))
    typed = str(new_value).replace(".", ",")
    await page.get_by_label("Stan wodomierza (m³)").first.fill(typed)
    await page.get_by_role("button", name="Wyślij odczyt").first.click()
    await expect(page).to_have_title(titled("Historia odczytów"))
    await expect(page.get_by_role("status")).to_contain_text("odczyt")
    first_row = page.locator("tbody tr").first
    await expect(first_row).to_contain_text(typed)
    await expect(first_row).to_contain_text("podany przez klienta")
    await portal.check_accessibility("reading history")

    # Back at the meter, the script tells at once when a number is below the last reading.
    await page.get_by_role("link", name="Wróć do wodomierzy").click()
    value = page.get_by_label("Stan wodomierza (m³)").first
    await value.fill("1")
    await value.blur()
    await expect(value).to_have_attribute("aria-invalid", "true")
    await expect(value).to_have_accessible_description(re.compile("mniejszy od ostatniego"))
    await portal.check_accessibility("meters with an instant message")


async def test_consumption_shows_the_chart_and_the_same_numbers_in_a_table(
    portal: PortalPage, portal_customer: PortalCustomer
) -> None:
    page = portal.page
    await log_in(portal, portal_customer.login, portal_customer.password)
    await portal.goto("/consumption")
    await expect(page).to_have_title(titled("Zużycie wody"))
    chart = page.get_by_role("img", name=re.compile("Wykres zużycia wody"))
    await expect(chart).to_be_visible()
    assert await chart.evaluate("img => img.complete && img.naturalWidth > 0")
    await expect(page.get_by_role("table", name="Zużycie w kolejnych okresach")).to_be_visible()
    await portal.check_accessibility("consumption")
    await page.get_by_role("link", name="Według okresów rozliczeniowych").click()
    await expect(page.get_by_role("link", name="Według okresów rozliczeniowych")).to_have_attribute(
        "aria-current", "page"
    )
