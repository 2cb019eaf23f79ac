"""Replies the services could give, for the fake client to answer with."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from contracts import auth, billing, notify, readings
from contracts.billing_system import Address
from tests.service.gateway.conftest import CUSTOMER

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
INVOICE_ID = UUID("00000000-0000-4000-8000-00000000f001")
COMPLAINT_ID = UUID("00000000-0000-4000-8000-00000000c001")
READING_ID = UUID("00000000-0000-4000-8000-00000000a001")
ADDRESS = Address(street="ul. Wodna 1", postal_code="00-001", city="Warszawa")


def profile() -> auth.Profile:
    return auth.Profile(
        account_id=CUSTOMER.account_id,
        login=CUSTOMER.login,
        customer_number=CUSTOMER.customer_number,
        customer_name="Jan Kowalski",
        email="jan@example.com",
        email_verified=True,
        language="pl",
        created_at=NOW,
    )


def invoice_page(*numbers: str) -> billing.InvoicePage:
    return billing.InvoicePage(
        items=[
            billing.InvoiceSummary(
                invoice_id=INVOICE_ID,
                number=number,
                contract_number="U/2020/1",
                issued_on=date(2026, 11, 1),
                due_date=date(2026, 11, 15),
                period_from=date(2026, 9, 1),
                period_to=date(2026, 10, 31),
                gross_grosze=12_345,
                status="issued",
            )
            for number in numbers
        ],
        next_cursor=None,
        data_as_of=NOW,
    )


def settlement(balance_grosze: int = 0) -> billing.Settlement:
    return billing.Settlement(
        today=date(2026, 11, 30),
        balance_grosze=balance_grosze,
        due_grosze=0,
        overdue_grosze=0,
        next_due_date=None,
        due=[],
        overdue=[],
        recent_charges=[],
        recent_payments=[],
        data_as_of=NOW,
    )


def complaint(status: billing.ComplaintStatus = "filed") -> billing.ComplaintView:
    return billing.ComplaintView(
        complaint_id=COMPLAINT_ID,
        customer_number=CUSTOMER.customer_number,
        channel="ibok",
        status=status,
        subject="Za wysoka faktura",
        description="Faktura za październik jest za wysoka.",
        expected_resolution="Korekta",
        invoice_number=None,
        reading_id=None,
        received_on=date(2026, 11, 20),
        due_on=date(2026, 11, 30),
        overdue=False,
        due_in_days=0,
        outcome=None,
        outcome_text=None,
        settled_on=None,
        filed_at=NOW,
    )


def reading_view(value: str = "123.456") -> readings.ReadingView:
    return readings.ReadingView(
        reading_id=READING_ID,
        serial="WM0000011",
        value=Decimal(value),
        read_on=date(2026, 11, 30),
        source="customer",
        status="accepted",
        submitted_at=NOW,
    )


def flagged_reading() -> readings.FlaggedReadingView:
    return readings.FlaggedReadingView(
        reading_id=READING_ID,
        customer_number=CUSTOMER.customer_number,
        serial="WM0000011",
        value=Decimal("999.000"),
        read_on=date(2026, 11, 30),
        revision=1,
        status="pending_review",
        previous_value=Decimal("100.000"),
        previous_read_on=date(2026, 10, 30),
        daily_average_m3=Decimal("0.300"),
        submitted_at=NOW,
    )


def terms(version: int = 3) -> notify.TermsVersion:
    return notify.TermsVersion(
        version=version,
        effective_on=date(2026, 11, 1),
        published_at=NOW,
        text="§1. Regulamin IBOK.",
    )


def inbox_message() -> notify.InboxMessage:
    return notify.InboxMessage(
        id=UUID("00000000-0000-4000-8000-00000000e001"),
        kind="announcement",
        title="Przerwa w dostawie wody",
        body="W sobotę 5 grudnia od 8:00 do 12:00.",
        created_at=NOW,
    )
