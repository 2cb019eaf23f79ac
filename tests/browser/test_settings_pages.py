"""The customer's account pages in the browser: account, contact data and consent, password, sessions."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import PortalCustomer, PortalPage, log_in, titled


async def test_account_pages_open_and_mark_the_current_session(
    portal: PortalPage, portal_customer: PortalCustomer
) -> None:
    page = portal.page
    await log_in(portal, portal_customer.login, portal_customer.password)
    for path, title in [
        ("/me", "Moje konto"),
        ("/me/contact", "Dane kontaktowe i zgody"),
        ("/me/password", "Zmiana hasła"),
        ("/me/sessions", "Aktywne sesje"),
    ]:
        answer = await portal.goto(path)
        assert answer is not None and answer.status == 200, path
        await expect(page).to_have_title(titled(title))
        await portal.check_accessibility(path)
    await expect(page.get_by_role("cell", name="ta sesja")).to_be_visible()


async def test_contact_data_is_saved_and_a_wrong_current_password_is_refused(
    portal: PortalPage, portal_customer: PortalCustomer
) -> None:
    page = portal.page
    await log_in(portal, portal_customer.login, portal_customer.password)
    await portal.goto("/me/contact")
    await page.get_by_label("Telefon").fill("+48 600 100 200")
    await page.get_by_role("button", name="Zapisz").click()
    await expect(page.get_by_role("status")).to_have_text("Zapisano dane kontaktowe.")
    await expect(page.get_by_label("Telefon")).to_have_value("+48 600 100 200")
    # An address needs all three fields: the missing ones say so.
    await page.get_by_label("Ulica i numer").fill("ul. Wodna 5")
    await page.get_by_role("button", name="Zapisz").click()
    await expect(page.get_by_label("Kod pocztowy")).to_have_attribute("aria-invalid", "true")
    await portal.check_accessibility("contact refused")

    await portal.goto("/me/password")
    await page.get_by_label("Obecne hasło").fill("Zle12345")
    await page.get_by_label("Nowe hasło").fill("Nowe2026x")
    await page.get_by_label("Powtórz hasło").fill("Nowe2026x")
    await page.get_by_role("button", name="Zmień hasło").click()
    await expect(page).to_have_title(titled("Błąd: Zmiana hasła"))
    await expect(page.locator(".error-summary")).to_be_focused()
    await portal.check_accessibility("password refused")
