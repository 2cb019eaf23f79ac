"""The staff console in the browser: log in, find a customer, block and unblock (R5), flagged
readings, terms, announcements and maintenance (admins only)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.async_api import Browser, expect

from tests.browser.conftest import DESKTOP, PortalCustomer, PortalPage, log_in, titled
from tests.support.mfa import AUTHENTICATORS


async def staff_log_in(portal: PortalPage, login: str, password: str) -> None:
    page = portal.page
    await portal.goto("/staff")
    await expect(page).to_have_url(re.compile(r"/staff/login\?next=/staff$"))
    await expect(page).to_have_title(titled("Logowanie pracownika"))
    await portal.check_accessibility("staff login")
    await page.get_by_label("Login").fill(login)
    await page.get_by_label("Hasło").fill(password)
    await page.get_by_role("button", name="Zaloguj się").click()
    # Staff always give the second factor: the code from the app the fixtures enrolled.
    await expect(page).to_have_title(titled("Drugi składnik logowania"))
    await portal.check_accessibility("staff login code step")
    await page.get_by_label("Kod").fill(AUTHENTICATORS[login.casefold()].code())
    await page.get_by_role("button", name="Potwierdź").click()
    await expect(page).to_have_title(titled("Klienci"))


async def test_staff_block_ends_the_customers_session_and_unblock_lets_them_back(
    portal: PortalPage,
    browser: Browser,
    gateway: str,
    portal_customer: PortalCustomer,
    staff_logins: dict[str, tuple[str, str]],
) -> None:
    customer_context = await browser.new_context(viewport=DESKTOP, locale="pl-PL")
    try:
        customer = PortalPage(await customer_context.new_page(), gateway)
        await log_in(customer, portal_customer.login, portal_customer.password)

        page = portal.page
        await staff_log_in(portal, *staff_logins["care"])
        await page.get_by_label("Numer klienta").fill(portal_customer.customer.number)
        await page.get_by_role("button", name="Znajdź").click()
        await expect(page.get_by_role("heading", level=2).first).to_contain_text(
            portal_customer.customer.number
        )
        await portal.check_accessibility("staff customer view")

        # Without the identity check the block is refused, and says why beside the box.
        await page.get_by_label("Powód").first.fill("Na prośbę klienta (telefon)")
        await page.get_by_label("Zastrzeżone do dnia").fill(
            (date.today() + timedelta(days=7)).isoformat()
        )
        await page.get_by_role("button", name="Zastrzeż konto").click()
        await expect(page.locator(".error-summary")).to_contain_text("po sprawdzeniu tożsamości")
        await portal.check_accessibility("block refused")

        await page.get_by_label("Sprawdziłem tożsamość klienta tym dokumentem").check()
        await page.get_by_label("Powód").first.fill("Na prośbę klienta (telefon)")
        await page.get_by_label("Zastrzeżone do dnia").fill(
            (date.today() + timedelta(days=7)).isoformat()
        )
        await page.get_by_role("button", name="Zastrzeż konto").click()
        await expect(page.get_by_role("status")).to_contain_text("Konto zastrzeżone")

        # R5: the block ends the customer's session at once.
        await customer.goto("/me/sessions")
        await expect(customer.page).to_have_url(re.compile(r"/login\?next=/me/sessions$"))

        await page.get_by_role("button", name="Odblokuj konto").click()
        await expect(page.get_by_role("status")).to_have_text("Konto odblokowane.")
        await log_in(customer, portal_customer.login, portal_customer.password)
    finally:
        await customer_context.close()


async def test_staff_console_pages_open_and_maintenance_is_for_admins_only(
    portal: PortalPage, staff_logins: dict[str, tuple[str, str]]
) -> None:
    page = portal.page
    await staff_log_in(portal, *staff_logins["care"])
    for path, title in [
        ("/staff/readings/flagged", "Odczyty do sprawdzenia"),
        ("/staff/terms", "Publikacja regulaminu"),
        ("/staff/announcements", "Informacje handlowe"),
    ]:
        answer = await portal.goto(path)
        assert answer is not None and answer.status == 200, path
        await expect(page).to_have_title(titled(title))
        await portal.check_accessibility(path)
    refused = await portal.goto("/staff/maintenance")
    assert refused is not None and refused.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("Brak dostępu")

    await portal.goto("/staff")
    await page.get_by_role("button", name="Wyloguj").click()
    await expect(page.get_by_role("status")).to_have_text("Wylogowano. Do zobaczenia!")
    await staff_log_in(portal, *staff_logins["admin"])
    await page.get_by_role("link", name="Prace konserwacyjne").click()
    await expect(page).to_have_title(titled("Prace konserwacyjne"))
    await expect(page.get_by_label("Włącz tryb prac konserwacyjnych")).not_to_be_checked()
    await portal.check_accessibility("maintenance")
