"""Registration, email confirmation, login and logout in the browser, in Polish and English."""

from __future__ import annotations

import asyncio
import re

import httpx
from playwright.async_api import expect

from tests.browser.conftest import PortalCustomer, PortalPage, log_in, registered_customer, titled
from tests.conftest import solve_captcha_answer
from tests.support.customers import PASSWORD
from tests.support.mail import MailSink, text_part
from tools.billing_sim.dataset import SimCustomer


async def test_customer_registers_confirms_by_the_emailed_link_logs_in_and_out(
    portal: PortalPage, portal_customers: list[SimCustomer], mail_sink: MailSink
) -> None:
    customer = portal_customers[1]
    active = next(c for c in customer.contracts if c.status == "active")
    page = portal.page
    await portal.goto("/")
    await expect(page).to_have_url(re.compile(r"/login$"))

    await page.get_by_role("link", name="Zarejestruj się").click()
    await expect(page).to_have_title(titled("Rejestracja konta"))
    await portal.check_accessibility("register")

    await page.get_by_label("Numer klienta").fill(customer.number)
    await page.get_by_label("Numer umowy").fill(active.contract_number)
    await page.get_by_label(
        "PESEL (osoba fizyczna)" if customer.identity_kind == "pesel" else "NIP (firma)"
    ).check()
    await page.get_by_label("Numer PESEL lub NIP").fill(customer.identity_number)
    await page.get_by_label("Login", exact=True).fill("Portal.Anna")
    await page.get_by_label("Hasło", exact=True).fill(PASSWORD)
    await page.get_by_label("Powtórz hasło").fill("Inne1234")
    await page.get_by_label("Adres e-mail").fill("portal.anna@example.com")
    await page.get_by_role("button", name="Załóż konto").click()

    # The mistake is summarised at the top (focused) and tied to its field.
    await expect(page).to_have_title(titled("Błąd: Rejestracja konta"))
    summary = page.locator(".error-summary")
    await expect(summary).to_be_focused()
    await expect(summary).to_contain_text("Hasła nie są takie same.")
    repeat = page.get_by_label("Powtórz hasło")
    await expect(repeat).to_have_attribute("aria-invalid", "true")
    await expect(repeat).to_have_accessible_description(re.compile("Hasła nie są takie same"))
    await expect(page.get_by_label("Numer klienta")).to_have_value(customer.number)
    await expect(page.get_by_label("Numer PESEL lub NIP")).to_have_value("")
    await portal.check_accessibility("register with errors")

    await page.get_by_label("Numer PESEL lub NIP").fill(customer.identity_number)
    await page.get_by_label("Hasło", exact=True).fill(PASSWORD)
    await page.get_by_label("Powtórz hasło").fill(PASSWORD)
    await page.get_by_role("button", name="Załóż konto").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sprawdź skrzynkę e-mail")
    await expect(page.get_by_text("portal.anna@example.com")).to_be_visible()
    await portal.check_accessibility("registered")

    mail = await asyncio.to_thread(mail_sink.wait_for, "portal.anna@example.com")
    link = re.search(r"https?://\S+verify-email\?token=[\w-]+", text_part(mail))
    assert link, text_part(mail)
    # Opening the link (as a mail scanner would) does not use the token up.
    await page.goto(link.group(0))
    await page.goto(link.group(0))
    await expect(page).to_have_title(titled("Potwierdzenie adresu e-mail"))
    await portal.check_accessibility("verify email")
    await page.get_by_role("button", name="Potwierdzam adres e-mail").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await expect(page.get_by_role("status")).to_have_text(
        "Adres e-mail potwierdzony. Możesz się zalogować."
    )
    await portal.check_accessibility("login with notice")

    await page.get_by_label("Login").fill("portal.anna")
    await page.get_by_label("Hasło").fill(PASSWORD)
    await page.get_by_role("button", name="Zaloguj się").click()
    await expect(page).to_have_title(titled("Start"))
    await expect(page.get_by_role("heading", level=1)).to_contain_text(customer.name)
    await portal.check_accessibility("home")

    await page.get_by_role("button", name="Wyloguj").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await expect(page.get_by_role("status")).to_have_text("Wylogowano. Do zobaczenia!")
    await portal.goto("/")
    await expect(page).to_have_url(re.compile(r"/login$"))

    # R3: "forgot password" by an emailed link; the new password opens the account.
    await page.get_by_role("link", name="Nie pamiętasz hasła?").click()
    await page.get_by_label("Login").fill("portal.anna")
    await page.get_by_role("button", name="Wyślij link").click()
    await expect(page.get_by_role("status")).to_contain_text("wysłaliśmy link")
    await portal.check_accessibility("password reset requested")
    reset = await asyncio.to_thread(
        mail_sink.wait_for, "portal.anna@example.com", 15, "ustaw nowe hasło"
    )
    reset_link = re.search(r"https?://\S+password-reset\?token=[\w-]+", text_part(reset))
    assert reset_link, text_part(reset)
    await page.goto(reset_link.group(0))
    await page.get_by_label("Nowe hasło").fill("Nowe2026x")
    await page.get_by_label("Powtórz hasło").fill("Nowe2026x")
    await portal.check_accessibility("new password")
    await page.get_by_role("button", name="Ustaw hasło").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Nowe hasło zostało ustawione. Możesz się zalogować."
    )
    await log_in(portal, "portal.anna", "Nowe2026x")


async def test_a_wrong_password_brings_the_captcha_which_then_lets_the_customer_in(
    portal: PortalPage, portal_customers: list[SimCustomer], mail_sink: MailSink, gateway: str
) -> None:
    login, password = await registered_customer(
        gateway, mail_sink, portal_customers[2], "portal.bartek"
    )
    page = portal.page
    await portal.goto("/login")
    await page.get_by_label("Login").fill(login)
    await page.get_by_label("Hasło").fill("Zle12345")
    await page.get_by_role("button", name="Zaloguj się").click()
    await expect(page).to_have_title(titled("Błąd: Logowanie"))
    await expect(page.locator(".error-summary")).to_be_focused()
    await expect(page.get_by_label("Login")).to_have_value(login)
    await expect(page.get_by_label("Hasło")).to_have_value("")
    # The wrong-password message sits on the password field.
    await expect(page.get_by_label("Hasło")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#password-error")).to_contain_text("Nieprawidłowy login lub hasło")
    # R4: the next attempt needs the code from the picture (or its spoken version).
    picture = page.get_by_role("img", name=re.compile("Obrazek z kodem"))
    await expect(picture).to_be_visible()
    assert await picture.evaluate("img => img.naturalWidth > 0")
    # The spoken code plays in a player on the page (not a download): it loads and plays.
    player = page.locator("audio.captcha-audio")
    await expect(player).to_have_attribute("controls", "")
    played = await player.evaluate(
        """async audio => {
            audio.muted = true;
            await audio.play();
            await new Promise(done => setTimeout(done, 300));
            return {duration: audio.duration, time: audio.currentTime, paused: audio.paused};
        }"""
    )
    assert played["duration"] > 2 and played["time"] > 0, played
    await portal.check_accessibility("login with captcha")
    # "Show another code": a new challenge, no login attempt.
    first_id = await page.locator("input[name=captcha_id]").input_value()
    await page.get_by_role("button", name="Pokaż inny kod").click()
    await expect(page.locator("input[name=captcha_id]")).not_to_have_value(first_id)
    await expect(page.get_by_label("Login")).to_have_value(login)

    # The right password without the right code is still refused, beside the code field.
    await page.get_by_label("Hasło").fill(password)
    await page.get_by_label("Kod z obrazka").fill("XXXXX")
    await page.get_by_role("button", name="Zaloguj się").click()
    await expect(page.get_by_label("Kod z obrazka")).to_have_attribute("aria-invalid", "true")

    captcha_id = await page.locator("input[name=captcha_id]").input_value()
    await page.get_by_label("Hasło").fill(password)
    await page.get_by_label("Kod z obrazka").fill(solve_captcha_answer(captcha_id))
    await page.get_by_role("button", name="Zaloguj się").click()
    await expect(page).to_have_title(titled("Start"))

    # Someone who can neither see nor hear the code asks for one by email instead.
    await page.get_by_role("button", name="Wyloguj").click()
    await portal.goto("/login")
    await page.get_by_label("Login").fill(login)
    await page.get_by_label("Hasło").fill("Zle12345")
    await page.get_by_role("button", name="Zaloguj się").click()
    await page.get_by_role("button", name="Wyślij kod e-mailem").click()
    await expect(page.get_by_role("status")).to_contain_text("kod jest już w drodze")
    mail = await asyncio.to_thread(
        mail_sink.wait_for, f"{login}@example.com", 15, "kod do logowania"
    )
    found = re.search(r"^\s*([A-Z0-9]{8})\s*$", text_part(mail), re.M)
    assert found
    await page.get_by_label("Hasło").fill(password)
    await page.get_by_label("Kod z e-maila").fill(found.group(1))
    await page.get_by_role("button", name="Zaloguj się").click()
    await expect(page).to_have_title(titled("Start"))


async def test_english_is_chosen_with_the_switch_and_kept_across_pages(portal: PortalPage) -> None:
    page = portal.page
    await portal.goto("/login")
    await expect(page.locator("html")).to_have_attribute("lang", "pl")
    await page.get_by_role("link", name="English").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page).to_have_title(titled("Log in"))
    await page.get_by_role("link", name="Register").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    await portal.check_accessibility("register in English")
    await page.get_by_role("link", name="Polski").click()
    await expect(page.locator("html")).to_have_attribute("lang", "pl")


async def test_a_page_that_does_not_exist_answers_an_html_404(portal: PortalPage) -> None:
    answer = await portal.goto("/no-such-page")
    assert answer.status == 404
    await expect(portal.page.get_by_role("heading", level=1)).to_have_text("Nie znaleziono strony")
    await portal.check_accessibility("404")


async def test_the_skip_link_is_the_first_stop_of_the_keyboard_and_moves_to_the_content(
    portal: PortalPage,
) -> None:
    page = portal.page
    await portal.goto("/login")
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Przejdź do treści")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Login")).to_be_focused()


async def test_forms_without_their_csrf_token_change_nothing(
    gateway: str, portal_customer: PortalCustomer
) -> None:
    login, password = portal_customer.login, portal_customer.password
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as client:
        forged = await client.post("/login", data={"login": login, "password": password})
        assert forged.status_code == 422
        assert "ibok_session" not in client.cookies

        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        logged_in = await client.post(
            "/login", data={"login": login, "password": password, "csrf_token": token.group(1)}
        )
        assert logged_in.status_code == 303
        assert (await client.get("/")).status_code == 200

        # Logging out needs the session's token; without it the session stays.
        await client.post("/logout", data={})
        assert (await client.get("/")).status_code == 200
        home = await client.get("/")
        session_token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
        assert session_token
        await client.post("/logout", data={"csrf_token": session_token.group(1)})
        assert (await client.get("/")).status_code == 303


async def test_pages_carry_the_security_headers_and_a_csp_without_inline_script(
    gateway: str,
) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        page = await client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and " style=" not in page.text
    form_cookie = next(c for c in page.headers.get_list("set-cookie") if c.startswith("ibok_form="))
    assert "SameSite=strict" in form_cookie and "HttpOnly" in form_cookie


async def test_login_page_sends_logged_in_customers_home(
    portal: PortalPage, portal_customer: PortalCustomer
) -> None:
    await log_in(portal, portal_customer.login, portal_customer.password)
    await portal.goto("/login")
    await expect(portal.page).to_have_title(titled("Start"))
