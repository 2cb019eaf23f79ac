"""Request and response bodies of meters, readings, consumption and the staff's flagged readings."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BeforeValidator, Field, PlainSerializer

from contracts.readings import ReadingSource, ReadingStatus
from services.gateway.schemas.common import Schema

# R18: volumes are m³ with three decimals, sent as strings so no client reads them as floats.
Volume = Annotated[
    Decimal,
    PlainSerializer(lambda v: f"{v:.3f}", return_type=str, when_used="json"),
    Field(examples=["123.456"]),
]
Percent = Annotated[
    Decimal,
    PlainSerializer(lambda v: f"{v:.1f}", return_type=str, when_used="json"),
    Field(examples=["12.5"]),
]


class PremisesAddress(Schema):
    street: str
    postal_code: str
    city: str


class LastReading(Schema):
    value: Volume
    read_on: date
    source: ReadingSource


class MeterExchange(Schema):
    """The meter this one replaced: the old meter's final state and this meter's initial one."""

    previous_serial: str
    previous_final_reading: Volume
    initial_reading: Volume
    exchanged_on: date


class Meter(Schema):
    serial: str = Field(examples=["WM0000011"])
    premises_id: str = Field(examples=["P000001-1"])
    premises_address: PremisesAddress | None = None
    contract_number: str | None = None
    diameter_mm: int = Field(examples=[20])
    installed_on: date
    removed_on: date | None = None
    is_main: bool = True
    legalization_expires: date = Field(description="End of the meter's legal verification (R7.6)")
    legalization_days_left: int = Field(description="Negative once the legalizacja has ended")
    exchange: MeterExchange | None = None
    last_reading: LastReading | None = None
    can_submit: bool = Field(description="False once the contract has ended (R1)")


# A decimal written plainly; how many decimals and whether it may be negative are rules of the
# readings service (422 ``reading_value_precision``, ``reading_value_invalid``).
METER_STATE = r"^-?[0-9]{1,12}(\.[0-9]{1,12})?$"


def _meter_state(value: object) -> object:
    """A meter state is a JSON number or a decimal string of ASCII digits: no exponent,
    spaces, ``NaN`` or other digits that ``Decimal`` would read."""
    if isinstance(value, bool) or (isinstance(value, str) and not re.fullmatch(METER_STATE, value)):
        raise ValueError("a number, or a decimal written with digits")
    return value


MeterState = Annotated[
    Decimal,
    BeforeValidator(_meter_state),
    Field(
        json_schema_extra={
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": METER_STATE}]
        }
    ),
]


class SubmitReadingRequest(Schema):
    serial: str = Field(
        min_length=1, max_length=32, pattern=r"^[A-Za-z0-9/-]+$", examples=["WM0000011"]
    )
    value: MeterState = Field(
        description="Meter state in m³, at most three decimals; a string or a number.",
        examples=["123.456"],
    )
    read_on: date | None = Field(
        default=None, description="The day read (Europe/Warsaw); today when omitted."
    )


class Reading(Schema):
    reading_id: UUID
    serial: str
    value: Volume
    read_on: date
    source: ReadingSource = Field(
        description="customer, inspector (control reading), estimate (billing system), "
        "meter_exchange (final or initial state of an exchanged meter)"
    )
    status: ReadingStatus = Field(
        description="accepted; pending_review (flagged for staff); rejected by staff"
    )
    flagged: bool = False
    revision: int = Field(default=1, description="Raised when a same-day reading replaces it")
    submitted_at: datetime
    review_reason: str | None = Field(default=None, description="Staff's reason, when rejected")


class ReadingAccepted(Schema):
    reading: Reading
    replaced: bool = Field(description="A second reading the same day replaced the first")
    flagged: bool = Field(description="Much higher use than usual: staff will review it (R8)")
    message: str


class ConsumptionItem(Schema):
    label: str = Field(examples=["2025-03", "2025-03/2025-04"])
    start: date
    end: date
    days: int
    covered_days: int = Field(description="Days of the span known from readings")
    complete: bool
    consumption_m3: Volume | None
    daily_average_m3: Volume | None
    previous_year_m3: Volume | None = Field(
        description="The same span a year before, when readings cover all of it"
    )
    change_percent: Percent | None


class ConsumptionTrend(Schema):
    direction: Literal["rising", "falling", "stable", "unknown"]
    change_percent: Percent | None = None


class Consumption(Schema):
    premises_id: str | None
    premises: list[str] = Field(description="Every premises of the customer (for ?premises=)")
    group: Literal["month", "period"]
    date_from: date
    date_to: date
    billing_period_months: int | None = None
    items: list[ConsumptionItem]
    total_m3: Volume
    covered_days: int
    average_daily_m3: Volume | None
    previous_year_average_daily_m3: Volume | None
    trend: ConsumptionTrend


class FlaggedReading(Schema):
    reading_id: UUID
    customer_number: str
    serial: str
    value: Volume
    read_on: date
    revision: int
    status: ReadingStatus
    previous_value: Volume | None
    previous_read_on: date | None
    daily_average_m3: Volume | None = Field(description="Recent daily use the reading was held to")
    submitted_at: datetime
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_reason: str | None = None


class ReviewReadingRequest(Schema):
    decision: Literal["accepted", "rejected"]
    reason: str = Field(
        default="",
        max_length=500,
        description="Required when rejecting; the customer sees it",
        examples=["Odczyt niezgodny ze zdjęciem licznika."],
    )
