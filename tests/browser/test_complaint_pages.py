"""Complaints in the browser (R10, R12): the customer files a complaint naming an invoice; staff
find it in the queue ordered by deadline (an overdue letter first, marked), ask for information;
the customer answers on the complaint page the emails link to; staff settle it; the customer reads
the outcome on the complaint page and in the IBOK inbox. axe checks every page on the way."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from playwright.async_api import expect

from tests.browser.conftest import (
    PortalCustomer,
    PortalPage,
    log_in,
    portal_sim_customer,
    publish_portal_customers,
    registered_customer,
    titled,
)
from tests.browser.test_staff_pages import staff_log_in
from tests.support.infra import Infra
from tests.support.mail import MailSink

SUBJECT = "Za wysoka faktura (portal)"


@pytest.fixture(scope="session")
async def complaint_customer(
    gateway: str, infra: Infra, portal_customers: object, mail_sink: MailSink
) -> PortalCustomer:
    """KP00005, this file's own customer (the other browser tests never see its complaints)."""
    del portal_customers  # published first: KP00001-KP00004 keep their invoice numbers
    customer = portal_sim_customer(5, random.Random(1105), datetime.now(UTC).date())
    await publish_portal_customers(infra, [customer])
    login, password = await registered_customer(gateway, mail_sink, customer, "portal.reklamacje")
    return PortalCustomer(customer, login, password)


async def test_customer_files_staff_ask_customer_answers_staff_settle(
    portal: PortalPage,
    complaint_customer: PortalCustomer,
    staff_logins: dict[str, tuple[str, str]],
) -> None:
    page = portal.page
    await log_in(portal, complaint_customer.login, complaint_customer.password)
    await page.get_by_role("navigation").get_by_role("link", name="Reklamacje").click()
    await expect(page).to_have_title(titled("Reklamacje"))
    await expect(page.get_by_text("Nie masz reklamacji.")).to_be_visible()
    await portal.check_accessibility("complaints empty")

    # A refused form: the summary names each missing field, tied to it.
    await page.get_by_role("link", name="Złóż reklamację").click()
    await expect(page).to_have_title(titled("Nowa reklamacja"))
    await page.get_by_role("button", name="Złóż reklamację").click()
    await expect(page).to_have_title(titled("Błąd: Nowa reklamacja"))
    await expect(page.locator(".error-summary")).to_contain_text("Temat")
    await expect(page.get_by_label("Opis problemu")).to_have_attribute("aria-invalid", "true")
    await portal.check_accessibility("complaint refused")

    await page.get_by_label("Temat").fill(SUBJECT)
    await page.get_by_label("Opis problemu").fill("Zużycie dwa razy wyższe niż zwykle. <b>x</b>")
    await page.get_by_label("Oczekiwane rozwiązanie").fill("Korekta faktury")
    invoice = page.get_by_label("Faktura (opcjonalnie)")
    invoice_number = (await invoice.locator("option").nth(1).text_content() or "").strip()
    await invoice.select_option(index=1)
    await page.get_by_role("button", name="Złóż reklamację").click()
    await expect(page.get_by_role("status")).to_contain_text("Przyjęliśmy reklamację")
    await expect(page).to_have_url(re.compile(r"/complaints/[0-9a-f-]{36}$"))
    complaint_path = page.url[page.url.index("/complaints/") :]
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Reklamacja: {SUBJECT}")
    await expect(page.locator(".facts")).to_contain_text(invoice_number)
    await expect(page.locator(".facts")).to_contain_text("w rozpatrywaniu")
    await expect(page.get_by_text("<b>x</b>")).to_be_visible()  # text, never HTML (R12)
    await portal.check_accessibility("complaint filed")
    await portal.goto("/complaints")
    row = page.get_by_role("row").filter(has_text=SUBJECT)
    await expect(row).to_contain_text("pozostało: 10")

    # Staff: the queue by deadline, an overdue letter first and marked as such.
    await staff_log_in(portal, *staff_logins["care"])
    csrf = await page.locator("input[name=csrf_token]").first.input_value()
    letter = await page.request.post(
        portal.base_url + "/api/v1/staff/complaints",
        headers={"X-CSRF-Token": csrf},
        data={
            "customer_number": complaint_customer.customer.number,
            "channel": "letter",
            "received_on": (datetime.now(UTC).date() - timedelta(days=15)).isoformat(),
            "subject": "List: brak wody (portal)",
            "description": "Przerwa w dostawie wody bez zapowiedzi.",
            "expected_resolution": "Wyjaśnienie",
        },
    )
    assert letter.status == 201, await letter.text()
    await page.get_by_role("navigation").get_by_role("link", name="Reklamacje").click()
    await expect(page).to_have_title(titled("Reklamacje"))
    rows = page.get_by_role("row")
    overdue = rows.filter(has_text="List: brak wody (portal)")
    ours = rows.filter(has_text=SUBJECT)
    await expect(overdue).to_contain_text("po terminie")
    await expect(ours).not_to_contain_text("po terminie")
    subjects = await page.locator("tbody th").all_text_contents()
    assert subjects.index("List: brak wody (portal)") < subjects.index(SUBJECT)
    await portal.check_accessibility("staff complaint queue")

    await ours.get_by_role("link", name=SUBJECT).click()
    await expect(page).to_have_title(titled(f"Reklamacja: {SUBJECT}"))
    await page.get_by_role("button", name="Wyślij pytanie").click()
    await expect(page.locator(".error-summary")).to_contain_text("Pytanie do klienta")
    await portal.check_accessibility("staff request refused")
    await page.get_by_label("Pytanie do klienta").fill("Prosimy o zdjęcie wodomierza.")
    await page.get_by_role("button", name="Wyślij pytanie").click()
    await expect(page.get_by_role("status")).to_contain_text("Wysłaliśmy pytanie do klienta")
    await expect(page.locator(".facts")).to_contain_text("czekamy na Twoją odpowiedź")
    staff_path = page.url[page.url.index("/staff/complaints/") :]
    await portal.check_accessibility("staff complaint")

    # The customer answers on the complaint page the emails link to.
    await portal.goto(complaint_path)
    await expect(page.get_by_role("article").first).to_contain_text("Prosimy o zdjęcie wodomierza.")
    await page.get_by_label("Twoja odpowiedź").fill("Zdjęcie wysłałem pocztą, stan 123,456.")
    await page.get_by_role("button", name="Wyślij odpowiedź").click()
    await expect(page.get_by_role("status")).to_contain_text("Wysłaliśmy Twoją odpowiedź")
    await expect(page.get_by_role("article").last).to_contain_text("stan 123,456")
    await expect(page.get_by_label("Twoja odpowiedź")).to_have_count(0)
    await portal.check_accessibility("complaint answered")

    # Staff settle it; a settle without an outcome is refused first.
    await portal.goto(staff_path)
    await expect(page.get_by_role("article").last).to_contain_text("stan 123,456")
    await page.get_by_role("button", name="Rozpatrz").click()
    await expect(page.locator(".error-summary")).to_contain_text("Rozstrzygnięcie")
    await portal.check_accessibility("staff settle refused")
    await page.get_by_label("uwzględniona", exact=True).check()
    await page.get_by_label("Uzasadnienie dla klienta").fill("Wystawimy korektę faktury.")
    await page.get_by_role("button", name="Rozpatrz").click()
    await expect(page.get_by_role("status")).to_contain_text("Reklamacja rozpatrzona")
    await expect(page.get_by_role("button", name="Rozpatrz")).to_have_count(0)
    # Staff hide the customer's answer (R12) with the form under it, a second step behind a
    # disclosure: a forged form changes nothing, one without a reason is refused beside its field;
    # then its text reaches no screen any more, and staff see when and why it was hidden.
    answer = page.get_by_role("article").last
    answer_id = (await answer.get_attribute("id") or "")[8:]
    await expect(answer.get_by_label("Powód ukrycia")).to_be_hidden()
    forged = await page.request.post(
        portal.base_url + f"{staff_path}/messages/{answer_id}/hide",
        form={"csrf_token": "forged", "reason": "Dane osobowe osoby trzeciej"},
    )
    assert forged.status == 422 and "Formularz wygasł" in await forged.text()
    await page.reload()
    await expect(answer).to_contain_text("stan 123,456")
    await answer.get_by_text("Ukryj tę wiadomość").click()
    await expect(answer).to_contain_text("Ukrycia nie można cofnąć.")
    await answer.get_by_role("button", name="Ukryj wiadomość").click()
    await expect(page).to_have_title(titled(f"Błąd: Reklamacja: {SUBJECT}"))
    await expect(page.locator(".error-summary")).to_contain_text("Powód ukrycia")
    reason = page.get_by_role("article").last.get_by_label("Powód ukrycia")
    await expect(reason).to_be_visible()  # the refused form stays open
    await expect(reason).to_have_attribute("aria-invalid", "true")
    await portal.check_accessibility("staff hide refused")
    await page.locator(".error-summary a").click()
    await expect(reason).to_be_focused()
    await reason.fill("Dane osobowe osoby trzeciej")
    await page.get_by_role("button", name="Ukryj wiadomość").click()
    await expect(page.get_by_role("status")).to_contain_text("Wiadomość ukryta")
    await expect(page).to_have_url(re.compile(rf"{staff_path}#message-{answer_id}$"))
    hidden = page.get_by_role("article").last
    await expect(hidden).to_contain_text("Dane osobowe osoby trzeciej")
    await expect(hidden).not_to_contain_text("stan 123,456")
    await expect(hidden.get_by_role("button", name="Ukryj wiadomość")).to_have_count(0)
    await portal.check_accessibility("staff message hidden")

    # The customer sees the outcome on the complaint page and in the inbox (R10).
    await portal.goto(complaint_path)
    outcome = page.locator("section.card")
    await expect(outcome).to_contain_text("Rozpatrzenie: uwzględniona")
    await expect(outcome).to_contain_text("Wystawimy korektę faktury.")
    hidden_answer = page.get_by_role("article").last
    await expect(hidden_answer).to_contain_text("Wiadomość ukryta")
    await expect(hidden_answer).not_to_contain_text("stan 123,456")
    await portal.check_accessibility("complaint settled")
    message = page.get_by_role("article").filter(has_text="Wystawimy korektę faktury.")
    deadline = time.monotonic() + 20
    while True:  # notify delivers the outcome in the background
        await portal.goto("/inbox")
        if await message.count() or time.monotonic() > deadline:
            break
        await page.wait_for_timeout(300)
    await expect(message).to_contain_text(SUBJECT)
    await expect(message).to_contain_text("rozpatrzenie reklamacji")
    await portal.check_accessibility("inbox with the outcome")

    # A complaint that is not this customer's (here: no such one) answers the HTML 404 page.
    missing = await portal.goto(f"/complaints/{uuid4()}")
    assert missing is not None and missing.status == 404
    await expect(page).to_have_title(titled("Nie znaleziono strony"))
