"""The readings service: the requests it answers and the events it emits."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.base import Contract, Envelope
from contracts.billing_system import Address, CustomerNumber
from contracts.rpc import Operation

ReadingSource = Literal["customer", "inspector", "estimate", "meter_exchange"]
# accepted: counts; pending_review: flagged (R8), counts until staff reject it; rejected: by staff.
ReadingStatus = Literal["accepted", "pending_review", "rejected"]
Language = Literal["pl", "en"]
Limit = Annotated[int, Field(ge=1, le=100)]
Cursor = Annotated[str | None, Field(default=None, max_length=200)]


# --- events -------------------------------------------------------------------------------------


class ReadingFlagged(Envelope):
    """R8: an accepted reading far above recent use, flagged for staff; the customer is told."""

    SCHEMA: ClassVar[str] = "readings.reading-flagged.v1"

    reading_id: UUID
    customer_number: str
    serial: str
    value: Decimal
    read_on: date
    daily_average_m3: Decimal


class LegalizationExpiring(Envelope):
    """R7.6: the meter's legal verification ends soon; notify reminds the customer.

    Sent once per meter, expiry date and reminder (``days_before``: 90, then 30 by default).
    """

    SCHEMA: ClassVar[str] = "readings.legalization-expiring.v1"

    customer_number: str
    serial: str
    expires_on: date
    days_before: int = Field(default=30, ge=0)


class ReadingReviewed(Envelope):
    """Staff accepted or rejected a flagged reading (R8).

    Goes to ``ibok.out`` only: the billing system drops a rejected reading it received with
    ``flagged: true``; the customer sees the decision and its reason in the reading history.
    """

    SCHEMA: ClassVar[str] = "readings.reading-reviewed.v1"

    reading_id: UUID
    revision: int = Field(ge=1)
    customer_number: str
    serial: str
    decision: Literal["accepted", "rejected"]
    reason: str = Field(default="", max_length=500)


# --- shared views -------------------------------------------------------------------------------


class LastReading(Contract):
    value: Decimal
    read_on: date
    source: ReadingSource


class MeterExchangeView(Contract):
    previous_serial: str
    previous_final_reading: Decimal
    initial_reading: Decimal
    exchanged_on: date


class MeterView(Contract):
    serial: str
    premises_id: str
    premises_address: Address | None = None
    contract_number: str | None = None
    diameter_mm: int
    installed_on: date
    removed_on: date | None = None
    is_main: bool = True
    legalization_expires: date
    legalization_days_left: int
    exchange: MeterExchangeView | None = None
    last_reading: LastReading | None = None
    # R1: readings may be submitted only while the meter's contract is current.
    can_submit: bool


class ReadingView(Contract):
    reading_id: UUID
    serial: str
    value: Decimal
    read_on: date
    source: ReadingSource
    status: ReadingStatus
    flagged: bool = False
    revision: int = 1
    submitted_at: AwareDatetime
    review_reason: str | None = None


# --- requests -----------------------------------------------------------------------------------


class MetersQuery(Contract):
    customer_number: CustomerNumber
    limit: Limit = 20
    cursor: Cursor = None


class MeterPage(Contract):
    items: list[MeterView]
    next_cursor: str | None = None


class SubmitReading(Contract):
    """R8: a customer's reading of one of their own meters. ``value`` is checked by the domain
    (three decimals at most), so a refusal carries a stable code."""

    customer_number: CustomerNumber
    serial: str = Field(min_length=1, max_length=32)
    value: Decimal
    read_on: date | None = None  # today (Warsaw) when omitted


class ReadingAccepted(Contract):
    reading: ReadingView
    replaced: bool = False  # a second reading the same day replaced the first
    flagged: bool = False
    message: str
    message_en: str


class ReadingHistoryQuery(Contract):
    customer_number: CustomerNumber
    serial: str | None = Field(default=None, max_length=32)
    date_from: date | None = None
    date_to: date | None = None
    limit: Limit = 20
    cursor: Cursor = None


class ReadingPage(Contract):
    items: list[ReadingView]
    next_cursor: str | None = None


class ConsumptionQuery(Contract):
    customer_number: CustomerNumber
    group: Literal["month", "period"] = "month"
    date_from: date | None = None
    date_to: date | None = None
    premises_id: str | None = Field(default=None, max_length=32)


class ConsumptionItem(Contract):
    label: str
    start: date
    end: date  # inclusive
    days: int
    covered_days: int
    complete: bool
    consumption_m3: Decimal | None
    daily_average_m3: Decimal | None
    previous_year_m3: Decimal | None
    change_percent: Decimal | None


class ConsumptionTrend(Contract):
    direction: Literal["rising", "falling", "stable", "unknown"]
    change_percent: Decimal | None = None


class ConsumptionReport(Contract):
    premises_id: str | None
    premises: list[str]
    group: Literal["month", "period"]
    date_from: date
    date_to: date
    billing_period_months: int | None = None
    items: list[ConsumptionItem]
    total_m3: Decimal
    covered_days: int
    average_daily_m3: Decimal | None
    previous_year_average_daily_m3: Decimal | None
    trend: ConsumptionTrend


class ConsumptionChartQuery(ConsumptionQuery):
    language: Language = "pl"


class ConsumptionChart(Contract):
    svg: str


class FlaggedReadingsQuery(Contract):
    status: Literal["pending_review", "all"] = "pending_review"
    limit: Limit = 20
    cursor: Cursor = None


class FlaggedReadingView(Contract):
    reading_id: UUID
    customer_number: str
    serial: str
    value: Decimal
    read_on: date
    revision: int
    status: ReadingStatus
    previous_value: Decimal | None
    previous_read_on: date | None
    daily_average_m3: Decimal | None
    submitted_at: AwareDatetime
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_reason: str | None = None


class FlaggedReadingPage(Contract):
    items: list[FlaggedReadingView]
    next_cursor: str | None = None


class ReviewReading(Contract):
    """Staff decide on a flagged reading; a rejection needs a reason, which the customer sees."""

    reading_id: UUID
    decision: Literal["accepted", "rejected"]
    reason: str = Field(default="", max_length=500)
    reviewer: str = Field(min_length=1, max_length=64)


METERS = Operation("readings", "meters", MetersQuery, MeterPage)
SUBMIT_READING = Operation("readings", "submit-reading", SubmitReading, ReadingAccepted)
READING_HISTORY = Operation("readings", "reading-history", ReadingHistoryQuery, ReadingPage)
CONSUMPTION = Operation("readings", "consumption", ConsumptionQuery, ConsumptionReport)
CONSUMPTION_CHART = Operation(
    "readings", "consumption-chart", ConsumptionChartQuery, ConsumptionChart
)
FLAGGED_READINGS = Operation(
    "readings", "flagged-readings", FlaggedReadingsQuery, FlaggedReadingPage
)
REVIEW_READING = Operation("readings", "review-reading", ReviewReading, FlaggedReadingView)
