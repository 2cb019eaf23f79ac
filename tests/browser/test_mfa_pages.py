"""The second factor in the browser: a customer adds an authenticator app (QR code, key,
recovery codes), logs in with the code step, and turns it off again."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.conftest import PortalPage, log_in, registered_customer, titled
from tests.conftest import STAFF_PASSWORD, staff_client
from tests.support.customers import PASSWORD
from tests.support.mail import MailSink
from tests.support.mfa import Authenticator
from tools.billing_sim.dataset import SimCustomer


async def test_customer_adds_an_authenticator_app_logs_in_with_a_code_and_turns_it_off(
    portal: PortalPage, portal_customers: list[SimCustomer], mail_sink: MailSink, gateway: str
) -> None:
    login, password = await registered_customer(
        gateway, mail_sink, portal_customers[3], "portal.totp"
    )
    page = portal.page
    await log_in(portal, login, password)
    await portal.goto("/me")
    await page.get_by_role("link", name="Drugi składnik logowania").click()
    await expect(page).to_have_title(titled("Drugi składnik logowania"))
    await portal.check_accessibility("mfa off")
    await page.get_by_role("button", name="Dodaj aplikację uwierzytelniającą").click()

    await expect(page).to_have_title(titled("Dodaj aplikację uwierzytelniającą"))
    qr = page.get_by_role("img", name="Kod QR z kluczem do aplikacji uwierzytelniającej")
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
    secret = (await page.locator("code.mfa-key").inner_text()).strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret  # 160 bits in base32
    await portal.check_accessibility("mfa enrol")
    await page.get_by_label("Kod").first.fill("000000")
    await page.get_by_role("button", name="Potwierdź").click()
    await expect(page.locator("#code-error")).to_contain_text("Kod jest nieprawidłowy")
    app = Authenticator(secret)
    await page.get_by_label("Kod").first.fill(app.code())
    await page.get_by_role("button", name="Potwierdź").click()

    await expect(page).to_have_title(titled("Kody odzyskiwania"))
    codes = await page.locator("ol.mfa-codes code").all_inner_texts()
    assert len(codes) == 10
    await portal.check_accessibility("recovery codes")
    await page.get_by_role("link", name="Dalej").click()
    await expect(page.get_by_text("Pozostałe kody odzyskiwania: 10")).to_be_visible()
    await portal.check_accessibility("mfa on")

    await page.get_by_role("button", name="Wyloguj").click()
    await portal.goto("/login")
    await page.get_by_label("Login").fill(login)
    await page.get_by_label("Hasło").fill(PASSWORD)
    await page.get_by_role("button", name="Zaloguj się").click()
    await expect(page).to_have_title(titled("Drugi składnik logowania"))
    await portal.check_accessibility("login code step")
    await page.get_by_label("Kod").fill(app.code())
    await page.get_by_role("button", name="Potwierdź").click()
    await page.wait_for_url(re.compile(r".*/$"))

    await portal.goto("/me/mfa")
    await page.locator("#remove-password").fill(PASSWORD)
    await page.locator("#remove-code").fill(codes[0])
    await page.get_by_role("button", name="Wyłącz drugi składnik").click()
    await expect(page.get_by_text("Wyłączono drugi składnik.")).to_be_visible()
    await expect(page.get_by_text("Drugi składnik jest wyłączony.", exact=False)).to_be_visible()


async def test_a_new_staff_member_enrols_the_app_at_the_first_console_login(
    portal: PortalPage, gateway: str, staff_logins: dict[str, tuple[str, str]]
) -> None:
    admin = await staff_client(gateway, *staff_logins["admin"])
    try:
        made = await admin.post(
            "/api/v1/staff/staff-users",
            json={
                "login": "care.console",
                "name": "Care Console",
                "role": "care",
                "password": STAFF_PASSWORD,
            },
        )
        assert made.status_code == 201, made.text
    finally:
        await admin.aclose()
    page = portal.page
    await portal.goto("/staff/login")
    await page.get_by_label("Login").fill("care.console")
    await page.get_by_label("Hasło").fill(STAFF_PASSWORD)
    await page.get_by_role("button", name="Zaloguj się").click()
    await expect(page).to_have_title(titled("Drugi składnik logowania"))
    await expect(page.get_by_text("Konto pracownika wymaga drugiego składnika.")).to_be_visible()
    qr = page.get_by_role("img", name="Kod QR z kluczem do aplikacji uwierzytelniającej")
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
    await portal.check_accessibility("staff enrolment")
    # No staff session yet: the console sends back to the login page.
    assert not any(c["name"] == "ibok_staff_session" for c in await page.context.cookies())
    app = Authenticator((await page.locator("code.mfa-key").inner_text()).strip())
    await page.get_by_label("Kod").fill(app.code())
    await page.get_by_role("button", name="Potwierdź").click()
    await expect(page).to_have_title(titled("Kody odzyskiwania"))
    assert len(await page.locator("ol.mfa-codes code").all_inner_texts()) == 10
    await page.get_by_role("link", name="Dalej").click()
    await expect(page).to_have_title(titled("Klienci"))
