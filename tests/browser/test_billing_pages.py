"""The money in the browser: the start page's payments card and the next expected reading,
invoices with their PDF (R7.3), contracts and their documents (R7.2), the settlement (R7.4)."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.conftest import PortalCustomer, PortalPage, log_in, titled


async def test_start_page_shows_money_meter_legalizacja_messages_and_data_as_of(
    portal: PortalPage, portal_customer: PortalCustomer
) -> None:
    page = portal.page
    await log_in(portal, portal_customer.login, portal_customer.password)
    await expect(page.get_by_role("heading", name="Płatności")).to_be_visible()
    main = page.locator("main")
    await expect(main).to_contain_text("Saldo")
    await expect(main).to_contain_text(re.compile(r"\d,\d\d\u00a0zł"))
    await expect(main).to_contain_text("Dane według stanu na")
    await expect(main).to_contain_text("Legalizacja ważna do")
    await expect(main).to_contain_text(
        re.compile(r"zostało \d+\u00a0(dzień|dni)|legalizacja wygasła")
    )
    await expect(main).to_contain_text("Następny odczyt do")
    await expect(page.get_by_role("heading", name="Wiadomości", exact=True)).to_be_visible()
    await portal.check_accessibility("home with data")


async def test_invoices_list_detail_and_pdf(
    portal: PortalPage, portal_customer: PortalCustomer
) -> None:
    page = portal.page
    await log_in(portal, portal_customer.login, portal_customer.password)
    await page.get_by_role("link", name="Faktury", exact=True).first.click()
    await expect(page).to_have_title(titled("Faktury"))
    await portal.check_accessibility("invoices")
    first = page.locator("tbody tr th a").first
    number = (await first.text_content() or "").strip()
    await first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Faktura {number}")
    await expect(page.get_by_role("table")).to_contain_text("zł")
    await portal.check_accessibility("invoice")
    link = page.get_by_role("link", name="Pobierz fakturę (PDF)")
    pdf = await page.request.get(portal.base_url + (await link.get_attribute("href") or ""))
    assert pdf.status == 200
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert (await pdf.body()).startswith(b"%PDF")


async def test_contracts_with_their_document_and_the_settlement_open(
    portal: PortalPage, portal_customer: PortalCustomer
) -> None:
    page = portal.page
    await log_in(portal, portal_customer.login, portal_customer.password)
    await portal.goto("/contracts")
    await expect(page).to_have_title(titled("Umowy"))
    await portal.check_accessibility("contracts")
    await page.locator("main h2 a").first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Umowa")
    await portal.check_accessibility("contract")
    document = page.get_by_role("link", name="Pobierz umowę (PDF)")
    if await document.count():
        answer = await page.request.get(
            portal.base_url + (await document.get_attribute("href") or "")
        )
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("application/pdf")
    for path, title in [
        ("/settlement", "Rozliczenia"),
    ]:
        answer = await portal.goto(path)
        assert answer is not None and answer.status == 200, path
        await expect(page).to_have_title(titled(title))
        await portal.check_accessibility(path)


async def test_staff_find_a_customer_by_name_and_see_billings_view_beside_the_account(
    portal: PortalPage, portal_customer: PortalCustomer, staff_logins: dict[str, tuple[str, str]]
) -> None:
    from tests.browser.test_staff_pages import staff_log_in

    page = portal.page
    await staff_log_in(portal, *staff_logins["care"])
    # By part of the name: a list of hits, each leading to the customer.
    longest = max(portal_customer.customer.name.split(), key=len)
    await page.get_by_label("Numer klienta lub nazwa").fill(longest[1:].lower())
    await page.get_by_role("button", name="Znajdź").click()
    number_link = page.get_by_role("link", name=portal_customer.customer.number, exact=True)
    if await number_link.count():  # more than one hit
        await portal.check_accessibility("staff search results")
        await number_link.click()
    main = page.locator("main")
    await expect(main).to_contain_text(portal_customer.customer.name)
    await expect(main).to_contain_text("Dane według stanu na")
    await expect(main).to_contain_text(portal_customer.login)
    await portal.check_accessibility("staff customer view with billing")


async def test_in_english_money_and_dates_follow_the_chosen_language(
    portal: PortalPage, portal_customer: PortalCustomer
) -> None:
    page = portal.page
    await log_in(portal, portal_customer.login, portal_customer.password)
    await portal.goto("/invoices")
    await expect(page.locator("tbody")).to_contain_text(re.compile(r"\d,\d\d\u00a0zł"))
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page).to_have_title(titled("Invoices"))
    await expect(page.locator("tbody")).to_contain_text(re.compile(r"PLN\u00a0[\d,]+\.\d\d"))
    await expect(page.locator("tbody")).to_contain_text(re.compile(r"\d{1,2} [A-Z][a-z]+ \d{4}"))
    await portal.check_accessibility("invoices in English")


async def test_another_customers_invoice_contract_and_pdf_answer_the_404_page(
    portal: PortalPage, portal_customer: PortalCustomer, db: object
) -> None:
    other = await db.fetchrow(  # type: ignore[attr-defined]
        "SELECT i.invoice_id, c.contract_id FROM billing.invoices i"
        " JOIN billing.contracts c ON c.customer_number = i.customer_number"
        " WHERE i.customer_number <> $1 LIMIT 1",
        portal_customer.customer.number,
    )
    assert other is not None
    await log_in(portal, portal_customer.login, portal_customer.password)
    for path in (
        f"/invoices/{other['invoice_id']}",
        f"/invoices/{other['invoice_id']}/pdf",
        f"/contracts/{other['contract_id']}",
        f"/contracts/{other['contract_id']}/document",
    ):
        answer = await portal.goto(path)
        assert answer is not None and answer.status == 404, path
        await expect(portal.page.get_by_role("heading", level=1)).to_have_text(
            "Nie znaleziono strony"
        )
