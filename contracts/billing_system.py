"""Messages the utility's billing system (ERP) publishes to IBOK on exchange ``billing.in``.

The routing key of each message is its ``schema``. Every message carries ``message_id``,
``occurred_at`` and ``schema``; processing is idempotent (natural keys are upserted and a
message id seen before is a no-op).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.base import Contract, Envelope
from contracts.identity import IdentityKind

CustomerNumber = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9/-]+$")]
ContractNumber = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9/-]+$")]


class Address(Contract):
    street: str = Field(max_length=200)
    postal_code: str = Field(max_length=10)
    city: str = Field(max_length=100)


class IdentityCheck(Contract):
    """A salted digest of the customer's PESEL (person) or NIP (company); see contracts.identity."""

    kind: IdentityKind
    digest: str = Field(max_length=300)


class CustomerUpserted(Envelope):
    SCHEMA: ClassVar[str] = "customer.upserted.v1"

    customer_number: CustomerNumber
    kind: Literal["person", "company"]
    name: str = Field(min_length=1, max_length=200)
    address: Address
    identity_checks: list[IdentityCheck] = Field(min_length=1, max_length=4)
    # The billing system's own revision of this record: an older one never overwrites a newer.
    revision: int = Field(ge=0)


class Premises(Contract):
    premises_id: str = Field(min_length=1, max_length=32)
    address: Address


class ContractDocument(Contract):
    """The signed contract as the billing system holds it: title and the text of its clauses."""

    title: str = Field(max_length=300)
    signed_on: date
    clauses: list[str] = Field(default_factory=list, max_length=200)


class ContractUpserted(Envelope):
    SCHEMA: ClassVar[str] = "contract.upserted.v1"

    contract_number: ContractNumber
    customer_number: CustomerNumber
    premises: Premises
    start_date: date
    end_date: date | None = None
    status: Literal["active", "ended", "suspended"]
    billing_period_months: int = Field(ge=1, le=12)
    # Tariff per m3 in grosze, net (water and sewage), as the contract states them.
    water_price_grosze: int = Field(default=0, ge=0)
    sewage_price_grosze: int = Field(default=0, ge=0)
    # The fixed subscription fee (opłata abonamentowa) per month, net, in grosze.
    subscription_fee_grosze: int = Field(default=0, ge=0)
    document: ContractDocument | None = None
    revision: int = Field(ge=0)


class SyncCompleted(Envelope):
    """The billing system finished a batch; IBOK's billing data is current as of ``as_of`` (R9)."""

    SCHEMA: ClassVar[str] = "sync.completed.v1"

    as_of: AwareDatetime


MeterSerial = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9/-]+$")]
# Volumes are m3 with three decimals (R18); readings are meter states in m3.
Volume = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=3)]
# Money is exact: integer grosze (R18). Negative amounts appear only in corrections.
Grosze = int


class MeterExchange(Contract):
    """The meter this one replaced: its final state, and this meter's initial state."""

    previous_serial: MeterSerial
    previous_final_reading: Volume
    initial_reading: Volume
    exchanged_on: date


class MeterUpserted(Envelope):
    """A water meter at a premises; ``legalization_expires`` is the end of its legal verification."""

    SCHEMA: ClassVar[str] = "meter.upserted.v1"

    serial: MeterSerial
    premises_id: str = Field(min_length=1, max_length=32)
    customer_number: CustomerNumber
    contract_number: ContractNumber | None = None
    diameter_mm: int = Field(ge=10, le=500)
    installed_on: date
    legalization_expires: date
    removed_on: date | None = None
    exchange: MeterExchange | None = None
    is_main: bool = True
    revision: int = Field(ge=0)


class ControlReadingRecorded(Envelope):
    """A reading by the utility's inspector, or the billing system's estimate (R8, §3.3)."""

    SCHEMA: ClassVar[str] = "control-reading.recorded.v1"

    reading_id: str = Field(min_length=1, max_length=40)
    serial: MeterSerial
    value: Volume
    read_on: date
    source: Literal["inspector", "estimate", "meter_exchange"] = "inspector"
    inspector: str = Field(default="", max_length=100)


class InvoiceLine(Contract):
    description: str = Field(min_length=1, max_length=200)
    quantity: Decimal = Field(max_digits=12, decimal_places=3)
    unit: str = Field(max_length=10)  # "m3", "szt.", "mies."
    unit_price_grosze: Grosze
    net_grosze: Grosze
    vat_rate_percent: int = Field(ge=0, le=100)
    vat_grosze: Grosze
    gross_grosze: Grosze


class InvoiceIssued(Envelope):
    """A VAT invoice; ``number`` is the natural key, ``corrects`` names the invoice a correction replaces."""

    SCHEMA: ClassVar[str] = "invoice.issued.v1"

    number: str = Field(min_length=1, max_length=40)
    customer_number: CustomerNumber
    contract_number: ContractNumber
    issued_on: date
    sale_date: date
    due_date: date
    period_from: date
    period_to: date
    lines: list[InvoiceLine] = Field(min_length=1, max_length=100)
    net_grosze: Grosze
    vat_grosze: Grosze
    gross_grosze: Grosze
    revision: int = Field(default=1, ge=0)


class InvoiceCorrected(Envelope):
    """A correcting invoice: replaces the figures of ``corrected_number`` from now on."""

    SCHEMA: ClassVar[str] = "invoice.corrected.v1"

    corrected_number: str = Field(min_length=1, max_length=40)
    correction: InvoiceIssued
    reason: str = Field(max_length=500)


class InvoiceCancelled(Envelope):
    SCHEMA: ClassVar[str] = "invoice.cancelled.v1"

    number: str = Field(min_length=1, max_length=40)
    customer_number: CustomerNumber
    reason: str = Field(default="", max_length=500)


class PaymentRecorded(Envelope):
    """Money received; ``invoice_number`` is empty when paid to the account in general."""

    SCHEMA: ClassVar[str] = "payment.recorded.v1"

    payment_id: str = Field(min_length=1, max_length=40)
    customer_number: CustomerNumber
    amount_grosze: Grosze = Field(gt=0)
    paid_on: date
    invoice_number: str | None = Field(default=None, max_length=40)
    method: Literal["transfer", "cash", "card", "direct_debit"] = "transfer"


BILLING_SERVICE_MESSAGES: tuple[type[Envelope], ...] = (
    CustomerUpserted,
    ContractUpserted,
    InvoiceIssued,
    InvoiceCorrected,
    InvoiceCancelled,
    PaymentRecorded,
    SyncCompleted,
)
# Readings also takes the invoices: one that settles a period closes it to new readings (R8).
READINGS_SERVICE_MESSAGES: tuple[type[Envelope], ...] = (
    MeterUpserted,
    ControlReadingRecorded,
    ContractUpserted,
    InvoiceIssued,
    InvoiceCorrected,
    InvoiceCancelled,
)


# --- IBOK to the billing system: exchange ``ibok.out``, routing key = schema ---------------------


class ReadingSubmitted(Envelope):
    """A customer's meter reading accepted by IBOK (R8); emitted exactly once per revision.

    A second reading of the same meter on the same day replaces the first while its period is
    unbilled: it comes again with the same ``reading_id`` and ``revision`` one higher, and the
    billing system keeps the highest revision of each ``reading_id``.
    """

    SCHEMA: ClassVar[str] = "reading.submitted.v1"

    reading_id: UUID
    revision: int = Field(default=1, ge=1)
    serial: MeterSerial
    customer_number: CustomerNumber
    value: Volume
    read_on: date
    flagged: bool = False


class ContactDataChanged(Envelope):
    """R16: the customer's verified contact data as it is now."""

    SCHEMA: ClassVar[str] = "contact-data.changed.v1"

    customer_number: CustomerNumber
    email: str
    phone: str | None = None
    correspondence_address: Address | None = None
    marketing_consent: bool = False


class ComplaintFiled(Envelope):
    SCHEMA: ClassVar[str] = "complaint.filed.v1"

    complaint_id: UUID
    customer_number: CustomerNumber
    channel: Literal["ibok", "phone", "letter"]
    received_on: date
    due_on: date
    subject: str = Field(max_length=200)
    description: str = Field(max_length=4000)
    expected_resolution: str = Field(max_length=1000)
    invoice_number: str | None = None
    reading_id: UUID | None = None


class ComplaintSettled(Envelope):
    SCHEMA: ClassVar[str] = "complaint.settled.v1"

    complaint_id: UUID
    customer_number: CustomerNumber
    outcome: Literal["accepted", "rejected"]
    outcome_text: str = Field(max_length=4000)
    settled_on: date
