"""Request and response bodies of the customer's contracts, invoices and settlement (R7.2-R7.4, R9).

Money is exact: integer grosze (``12345`` is 123,45 zł), never a float. Every answer carries
``data_as_of``: the time of the last completed sync with the billing system (R9).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import Field

from services.gateway.schemas.common import Page, Schema

DATA_AS_OF = Field(
    description="R9: the billing data is current as of this time (the last completed sync); "
    "null before the first sync",
    examples=["2026-11-24T22:00:00Z"],
)
GROSZE = "integer grosze (1/100 PLN)"


class AddressOut(Schema):
    street: str = Field(examples=["ul. Wodna 12"])
    postal_code: str = Field(examples=["00-001"])
    city: str = Field(examples=["Warszawa"])


class ContractOut(Schema):
    contract_id: UUID
    contract_number: str = Field(examples=["U/2019/000013/1"])
    premises_id: str = Field(examples=["P000013-1"])
    premises_address: AddressOut
    start_date: date
    end_date: date | None
    status: Literal["active", "ended", "suspended"]
    billing_period_months: int = Field(examples=[2])
    water_price_grosze: int = Field(description=f"water, net per m³, {GROSZE}", examples=[585])
    sewage_price_grosze: int = Field(description=f"sewage, net per m³, {GROSZE}", examples=[842])
    subscription_fee_grosze: int = Field(
        description=f"subscription fee, net per month, {GROSZE}", examples=[450]
    )
    has_document: bool = Field(description="the signed document is at .../document (PDF)")


class ContractList(Schema):
    items: list[ContractOut]
    data_as_of: datetime | None = DATA_AS_OF


class ContractDocumentOut(Schema):
    title: str = Field(examples=["Umowa o zaopatrzenie w wodę i odprowadzanie ścieków"])
    signed_on: date
    clauses: list[str]


class ContractDetailOut(ContractOut):
    document: ContractDocumentOut | None
    data_as_of: datetime | None = DATA_AS_OF


InvoiceStatus = Literal["issued", "corrected", "cancelled"]


class InvoiceItem(Schema):
    """One invoice in the list. ``corrected``: replaced by a correcting invoice; ``cancelled``: void."""

    invoice_id: UUID
    number: str = Field(examples=["FV/2026/10/000013"])
    contract_number: str = Field(examples=["U/2019/000013/1"])
    issued_on: date
    due_date: date
    period_from: date
    period_to: date
    gross_grosze: int = Field(description=GROSZE, examples=[19238])
    status: InvoiceStatus


class InvoicePage(Page[InvoiceItem]):
    data_as_of: datetime | None = DATA_AS_OF


class InvoiceLineOut(Schema):
    description: str = Field(examples=["Woda"])
    quantity: Decimal = Field(description="m³ with three decimals, or months", examples=["12.345"])
    unit: str = Field(examples=["m3"])
    unit_price_grosze: int = Field(examples=[585])
    net_grosze: int = Field(examples=[7222])
    vat_rate_percent: int = Field(examples=[8])
    vat_grosze: int = Field(examples=[578])
    gross_grosze: int = Field(examples=[7800])


class InvoiceDetailOut(Schema):
    """An invoice with its lines. The same invoice renders at ``/invoices/{id}.html`` and ``.pdf``."""

    invoice_id: UUID
    number: str = Field(examples=["FV/2026/10/000013"])
    contract_number: str
    issued_on: date
    sale_date: date
    due_date: date
    period_from: date
    period_to: date
    lines: list[InvoiceLineOut]
    net_grosze: int = Field(description=GROSZE)
    vat_grosze: int = Field(description=GROSZE)
    gross_grosze: int = Field(description=GROSZE)
    status: InvoiceStatus
    corrects: str | None = Field(description="the number of the invoice this one corrects")
    corrected_by: str | None = Field(description="the number of the invoice that corrects this one")
    correction_reason: str | None
    cancel_reason: str | None
    paid_grosze: int = Field(description=f"paid so far, {GROSZE}")
    outstanding_grosze: int = Field(description=f"still to pay, {GROSZE}")
    data_as_of: datetime | None = DATA_AS_OF


class OpenInvoiceOut(Schema):
    invoice_id: UUID
    number: str
    due_date: date
    gross_grosze: int
    outstanding_grosze: int = Field(description=f"still to pay, {GROSZE}")
    days_overdue: int = Field(description="days after the due date; 0 when not overdue")


class ChargeOut(Schema):
    invoice_id: UUID
    number: str
    issued_on: date
    due_date: date
    gross_grosze: int


class PaymentOut(Schema):
    payment_id: str
    paid_on: date
    amount_grosze: int
    invoice_number: str | None
    method: str = Field(examples=["transfer"])


class SettlementOut(Schema):
    """R7.4: the account as the billing system last reported it."""

    today: date = Field(description="the business date the due and overdue figures refer to")
    balance_grosze: int = Field(
        description=f"invoiced less paid, {GROSZE}: positive is owed, negative is overpaid",
        examples=[19238],
    )
    due_grosze: int = Field(description=f"open and not yet due, {GROSZE}")
    overdue_grosze: int = Field(description=f"open after the due date, {GROSZE}")
    next_due_date: date | None
    due: list[OpenInvoiceOut]
    overdue: list[OpenInvoiceOut]
    recent_charges: list[ChargeOut]
    recent_payments: list[PaymentOut]
    data_as_of: datetime | None = DATA_AS_OF
