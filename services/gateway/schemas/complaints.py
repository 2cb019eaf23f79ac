"""Request and response bodies of complaints (R10) and their messages (R12), customer and staff.

All text is plain text, length-limited, stored and answered as text: never HTML (R12).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from contracts.billing import (
    DESCRIPTION_MAX,
    EXPECTED_MAX,
    MESSAGE_MAX,
    REASON_MAX,
    SUBJECT_MAX,
    ComplaintChannel,
    ComplaintOutcomeKind,
    ComplaintStatus,
)
from services.gateway.schemas.common import Schema


class ComplaintCreate(Schema):
    """A complaint filed by the customer. Name at most one invoice (by id or number), your own."""

    subject: str = Field(
        min_length=1, max_length=SUBJECT_MAX, examples=["Za wysoka faktura za październik"]
    )
    description: str = Field(
        min_length=1,
        max_length=DESCRIPTION_MAX,
        examples=["Zużycie na fakturze jest dwa razy wyższe niż zwykle, a odczyt się nie zgadza."],
    )
    expected_resolution: str = Field(
        min_length=1, max_length=EXPECTED_MAX, examples=["Korekta faktury według mojego odczytu"]
    )
    invoice_id: UUID | None = None
    invoice_number: str | None = Field(default=None, max_length=40, examples=["FV/2026/10/000013"])
    reading_id: UUID | None = Field(default=None, description="one of your readings")


class StaffComplaintCreate(ComplaintCreate):
    """A complaint registered by staff from a phone call or a letter; the 10 days run from
    ``received_on``, the day it reached the utility."""

    customer_number: str = Field(min_length=1, max_length=20, examples=["K000013"])
    channel: Literal["phone", "letter"]
    received_on: date = Field(examples=["2026-11-20"])


class ComplaintMessageCreate(Schema):
    body: str = Field(
        min_length=1, max_length=MESSAGE_MAX, examples=["Przesyłam zdjęcie licznika z 20.11."]
    )


class InformationRequest(Schema):
    question: str = Field(
        min_length=1,
        max_length=MESSAGE_MAX,
        examples=["Prosimy o zdjęcie wodomierza z widocznym stanem i numerem."],
    )


class SettleRequest(Schema):
    outcome: ComplaintOutcomeKind
    outcome_text: str = Field(
        min_length=1,
        max_length=MESSAGE_MAX,
        examples=["Faktura zostanie skorygowana według odczytu z 20.11.2026."],
    )


class HideRequest(Schema):
    reason: str = Field(
        min_length=1, max_length=REASON_MAX, examples=["Treść obraźliwa (regulamin §3.2)"]
    )


class ComplaintMessageOut(Schema):
    """A message of the thread. ``hidden``: staff hid it (R12); its ``body`` is then null."""

    message_id: UUID
    author: Literal["customer", "staff"]
    kind: Literal["question", "answer"] = Field(
        description="question: staff asked for information; answer: the customer wrote"
    )
    body: str | None
    created_at: datetime
    hidden: bool


class StaffComplaintMessageOut(ComplaintMessageOut):
    """Staff also see who hid a message, when and why (the audit of R12)."""

    hidden_at: datetime | None = None
    hidden_by: UUID | None = None
    hidden_reason: str | None = None


class ComplaintOut(Schema):
    """A complaint. ``due_on``: the last day to settle it (10 days from ``received_on``, §5.4);
    ``waiting_for_customer`` does not stop that clock."""

    complaint_id: UUID
    channel: ComplaintChannel
    status: ComplaintStatus
    subject: str
    description: str
    expected_resolution: str
    invoice_number: str | None
    reading_id: UUID | None
    received_on: date
    due_on: date
    overdue: bool = Field(description="unsettled and past due_on")
    due_in_days: int = Field(description="days left to due_on: 0 on its last day, <0 after it")
    outcome: ComplaintOutcomeKind | None
    outcome_text: str | None
    settled_on: date | None
    filed_at: datetime


class ComplaintDetailOut(ComplaintOut):
    messages: list[ComplaintMessageOut]


class StaffComplaintOut(ComplaintOut):
    customer_number: str


class StaffComplaintDetailOut(StaffComplaintOut):
    messages: list[StaffComplaintMessageOut]
