"""The billing service: the requests it answers and the events it emits."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field

from contracts.base import Contract, Envelope
from contracts.billing_system import (
    Address,
    ContractDocument,
    ContractNumber,
    CustomerNumber,
    InvoiceLine,
)
from contracts.identity import IdentityKind
from contracts.rpc import Operation


class RegistrationEligibilityQuery(Contract):
    """May this person register (R1)? Asked by auth with what the customer typed in."""

    customer_number: CustomerNumber
    contract_number: ContractNumber
    identity_kind: IdentityKind
    identity_number: str = Field(min_length=1, max_length=20, repr=False)


class RegistrationEligibility(Contract):
    eligible: bool
    customer_name: str = ""


CHECK_REGISTRATION = Operation(
    "billing", "check-registration", RegistrationEligibilityQuery, RegistrationEligibility
)


class ComplaintInformationRequested(Envelope):
    """Staff asked the customer for more information on a complaint (R10); notify tells them."""

    SCHEMA: ClassVar[str] = "billing.complaint-information-requested.v1"

    complaint_id: UUID
    customer_number: str
    subject: str
    question: str = Field(max_length=4000)
    due_on: date


class ComplaintOutcome(Envelope):
    """A complaint was settled (R10); notify sends the outcome by email and to the inbox."""

    SCHEMA: ClassVar[str] = "billing.complaint-outcome.v1"

    complaint_id: UUID
    customer_number: str
    subject: str
    outcome: Literal["accepted", "rejected"]
    outcome_text: str = Field(max_length=4000)
    settled_on: date


class BillingDataChanged(Envelope):
    """Billing applied the billing system's messages: these customers' money views changed.

    ``customer_numbers`` is None when everyone's did (a sync completed moves "data as of").
    Every gateway process drops the answers it keeps for them (services/gateway/billing_cache.py).
    """

    SCHEMA: ClassVar[str] = "billing.data-changed.v1"

    customer_numbers: list[CustomerNumber] | None


# --- the customer's money views (R7.2, R7.3, R7.4, R9): asked by the gateway ---------------------
# Every query names the customer from the session; the billing service scopes every row by it,
# so another customer's id is simply "not found".

InvoiceStatus = Literal["issued", "corrected", "cancelled"]


class CustomerScope(Contract):
    customer_number: CustomerNumber


class ContractSummary(Contract):
    contract_id: UUID
    contract_number: str
    premises_id: str
    premises_address: Address
    start_date: date
    end_date: date | None
    status: Literal["active", "ended", "suspended"]
    billing_period_months: int
    # The tariff, net, in grosze per m3 (water, sewage) and per month (subscription fee).
    water_price_grosze: int
    sewage_price_grosze: int
    subscription_fee_grosze: int
    has_document: bool


class ContractList(Contract):
    items: list[ContractSummary]
    data_as_of: AwareDatetime | None


class ContractQuery(Contract):
    customer_number: CustomerNumber
    contract_id: UUID


class ContractDetail(ContractSummary):
    document: ContractDocument | None
    data_as_of: AwareDatetime | None


class RenderedDocument(Contract):
    """A document rendered by billing (PDF or HTML); its bytes travel base64-encoded in JSON."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    media_type: str
    filename: str
    content: bytes


class InvoicesQuery(Contract):
    customer_number: CustomerNumber
    status: InvoiceStatus | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)


class InvoiceSummary(Contract):
    invoice_id: UUID
    number: str
    contract_number: str
    issued_on: date
    due_date: date
    period_from: date
    period_to: date
    gross_grosze: int
    status: InvoiceStatus


class InvoicePage(Contract):
    items: list[InvoiceSummary]
    next_cursor: str | None
    data_as_of: AwareDatetime | None


class InvoiceQuery(Contract):
    customer_number: CustomerNumber
    invoice_id: UUID


class InvoiceDocumentQuery(InvoiceQuery):
    format: Literal["html", "pdf"]


class InvoiceDetail(Contract):
    invoice_id: UUID
    number: str
    contract_number: str
    issued_on: date
    sale_date: date
    due_date: date
    period_from: date
    period_to: date
    lines: list[InvoiceLine]
    net_grosze: int
    vat_grosze: int
    gross_grosze: int
    status: InvoiceStatus
    corrects: str | None
    corrected_by: str | None
    correction_reason: str | None
    cancel_reason: str | None
    # What of the gross is paid, and what is still to pay (0 for corrected or cancelled ones).
    paid_grosze: int
    outstanding_grosze: int
    data_as_of: AwareDatetime | None


class OpenInvoice(Contract):
    invoice_id: UUID
    number: str
    due_date: date
    gross_grosze: int
    outstanding_grosze: int
    days_overdue: int = Field(ge=0)


class Charge(Contract):
    invoice_id: UUID
    number: str
    issued_on: date
    due_date: date
    gross_grosze: int


class Payment(Contract):
    payment_id: str
    paid_on: date
    amount_grosze: int
    invoice_number: str | None
    method: str


class Settlement(Contract):
    """R7.4: the account's balance (positive: to pay; negative: overpaid), due and overdue."""

    today: date
    balance_grosze: int
    due_grosze: int
    overdue_grosze: int
    next_due_date: date | None
    due: list[OpenInvoice]
    overdue: list[OpenInvoice]
    recent_charges: list[Charge]
    recent_payments: list[Payment]
    data_as_of: AwareDatetime | None


class CustomerOverview(Contract):
    """What staff see of a customer on the billing side: contracts and balance."""

    customer_number: str
    name: str
    kind: Literal["person", "company"]
    address: Address
    contracts: list[ContractSummary]
    balance_grosze: int
    overdue_grosze: int
    data_as_of: AwareDatetime | None


LIST_CONTRACTS = Operation("billing", "list-contracts", CustomerScope, ContractList)
GET_CONTRACT = Operation("billing", "get-contract", ContractQuery, ContractDetail)
CONTRACT_DOCUMENT = Operation("billing", "contract-document", ContractQuery, RenderedDocument)
LIST_INVOICES = Operation("billing", "list-invoices", InvoicesQuery, InvoicePage)
GET_INVOICE = Operation("billing", "get-invoice", InvoiceQuery, InvoiceDetail)
INVOICE_DOCUMENT = Operation("billing", "invoice-document", InvoiceDocumentQuery, RenderedDocument)
GET_SETTLEMENT = Operation("billing", "get-settlement", CustomerScope, Settlement)
CUSTOMER_OVERVIEW = Operation("billing", "customer-overview", CustomerScope, CustomerOverview)


class CustomerSearch(Contract):
    """Staff look a customer up by number (prefix) or name (any part), case-insensitively."""

    q: str = Field(min_length=2, max_length=100)
    limit: int = Field(default=20, ge=1, le=100)


class CustomerFound(Contract):
    customer_number: str
    name: str
    kind: Literal["person", "company"]
    city: str


class CustomersFound(Contract):
    items: list[CustomerFound]


SEARCH_CUSTOMERS = Operation("billing", "search-customers", CustomerSearch, CustomersFound)
# --- complaints (R10, R12): asked by the gateway, for the customer and for staff ------------------
# Customer operations name the customer from the session; staff operations name the staff member.
# ``request_id`` makes a retried command (a redelivered request, a repeated click carrying the
# same Idempotency-Key) answer what the first one did instead of acting twice.

ComplaintChannel = Literal["ibok", "phone", "letter"]
ComplaintStatus = Literal["filed", "waiting_for_customer", "settled"]
ComplaintOutcomeKind = Literal["accepted", "rejected"]
SUBJECT_MAX, DESCRIPTION_MAX, EXPECTED_MAX, MESSAGE_MAX, REASON_MAX = 200, 4000, 1000, 4000, 500


class FileComplaint(Contract):
    """A complaint filed in IBOK by the customer, or registered by staff (phone, letter)."""

    request_id: UUID
    customer_number: CustomerNumber
    channel: ComplaintChannel = "ibok"
    # The date it reached the utility (the 10 days run from it); None: today (Warsaw).
    received_on: date | None = None
    filed_by: UUID | None = None  # the staff member who registered it
    subject: str = Field(min_length=1, max_length=SUBJECT_MAX)
    description: str = Field(min_length=1, max_length=DESCRIPTION_MAX)
    expected_resolution: str = Field(min_length=1, max_length=EXPECTED_MAX)
    invoice_id: UUID | None = None
    invoice_number: str | None = Field(default=None, max_length=40)
    reading_id: UUID | None = None


class ComplaintMessageView(Contract):
    """One message of a complaint's thread. A hidden message (R12) carries no body for the
    customer; staff see who hid it, when and why."""

    message_id: UUID
    author: Literal["customer", "staff"]
    kind: Literal["question", "answer"]
    body: str | None
    created_at: AwareDatetime
    hidden: bool = False
    hidden_at: AwareDatetime | None = None
    hidden_by: UUID | None = None
    hidden_reason: str | None = None


class ComplaintView(Contract):
    complaint_id: UUID
    customer_number: str
    channel: ComplaintChannel
    status: ComplaintStatus
    subject: str
    description: str
    expected_resolution: str
    invoice_number: str | None
    reading_id: UUID | None
    received_on: date
    due_on: date
    overdue: bool
    due_in_days: int
    outcome: ComplaintOutcomeKind | None
    outcome_text: str | None
    settled_on: date | None
    filed_at: AwareDatetime
    messages: list[ComplaintMessageView] = Field(default_factory=list)


class ComplaintsQuery(Contract):
    """The customer's complaints, newest first."""

    customer_number: CustomerNumber
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)


class StaffComplaintsQuery(Contract):
    """All complaints for staff, the oldest deadline first."""

    status: ComplaintStatus | Literal["open"] | None = None
    due_before: date | None = None
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)


class ComplaintPage(Contract):
    items: list[ComplaintView]
    next_cursor: str | None


class ComplaintRef(Contract):
    """One complaint: the customer's (``customer_number`` set) or any, for staff."""

    complaint_id: UUID
    customer_number: CustomerNumber | None = None
    staff_view: bool = False


class AnswerComplaint(Contract):
    """The customer's message on their complaint (the answer to a request for information)."""

    request_id: UUID
    customer_number: CustomerNumber
    complaint_id: UUID
    body: str = Field(min_length=1, max_length=MESSAGE_MAX)


class RequestComplaintInformation(Contract):
    request_id: UUID
    staff_id: UUID
    complaint_id: UUID
    question: str = Field(min_length=1, max_length=MESSAGE_MAX)


class SettleComplaint(Contract):
    staff_id: UUID
    complaint_id: UUID
    outcome: ComplaintOutcomeKind
    outcome_text: str = Field(min_length=1, max_length=MESSAGE_MAX)


class HideComplaintMessage(Contract):
    staff_id: UUID
    complaint_id: UUID
    message_id: UUID
    reason: str = Field(min_length=1, max_length=REASON_MAX)


FILE_COMPLAINT = Operation("billing", "file-complaint", FileComplaint, ComplaintView)
LIST_COMPLAINTS = Operation("billing", "list-complaints", ComplaintsQuery, ComplaintPage)
GET_COMPLAINT = Operation("billing", "get-complaint", ComplaintRef, ComplaintView)
ANSWER_COMPLAINT = Operation("billing", "answer-complaint", AnswerComplaint, ComplaintView)
STAFF_COMPLAINTS = Operation("billing", "staff-complaints", StaffComplaintsQuery, ComplaintPage)
REQUEST_COMPLAINT_INFORMATION = Operation(
    "billing", "request-complaint-information", RequestComplaintInformation, ComplaintView
)
SETTLE_COMPLAINT = Operation("billing", "settle-complaint", SettleComplaint, ComplaintView)
HIDE_COMPLAINT_MESSAGE = Operation(
    "billing", "hide-complaint-message", HideComplaintMessage, ComplaintView
)
