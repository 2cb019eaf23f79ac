"""Request and response bodies of the inbox, the terms of service and staff messages to customers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from contracts.notify import TERMS_TEXT_MAX, InboxKind
from services.gateway.schemas.common import Page, Schema


class InboxMessage(Schema):
    """A message in the IBOK inbox. ``body`` is plain text: show it as text, never as HTML (R12)."""

    id: UUID
    kind: InboxKind = Field(examples=["complaint_outcome"])
    title: str = Field(examples=["Reklamacja „Faktura FV/2026/03/0001” uwzględniona"])
    body: str = Field(
        examples=["Reklamacja została rozpatrzona 05.03.2026. Decyzja: uwzględniona."]
    )
    created_at: datetime
    read: bool
    read_at: datetime | None = None


class InboxPage(Page[InboxMessage]):
    """One page of the inbox, newest first, and how many messages are unread in the whole inbox."""

    unread: int = Field(ge=0, examples=[2])


class TermsVersion(Schema):
    version: int = Field(examples=[2])
    effective_on: date = Field(examples=["2026-07-01"])
    published_at: datetime
    text: str


class TermsVersionSummary(Schema):
    version: int = Field(examples=[2])
    effective_on: date = Field(examples=["2026-07-01"])
    published_at: datetime
    in_force: bool = Field(description="Whether this is the version in force today (Warsaw).")


class PublishTermsRequest(Schema):
    text: str = Field(min_length=1, max_length=TERMS_TEXT_MAX, examples=["REGULAMIN ... § 1 ..."])
    effective_on: date = Field(
        description="The day the new version applies (today or later, Warsaw).",
        examples=["2026-07-01"],
    )


class TermsPublishedResponse(Schema):
    version: int
    effective_on: date
    fanout_job_id: UUID = Field(
        description="Follow the notification of every customer at /staff/fanouts/{id}."
    )


class AnnouncementRequest(Schema):
    subject: str = Field(
        min_length=1, max_length=200, pattern=r"^[^\r\n]+$", examples=["Nowa taryfa od 1 lipca"]
    )
    body: str = Field(
        min_length=1,
        max_length=10_000,
        description="Plain text; blank lines separate paragraphs. Shown escaped, never as HTML.",
        examples=["Od 1 lipca obowiązuje nowa taryfa za wodę i ścieki."],
    )


class AnnouncementResponse(Schema):
    announcement_id: UUID
    fanout_job_id: UUID


class FanoutStatus(Schema):
    """A message to every customer: how many were reached so far (``total`` when it started)."""

    job_id: UUID
    kind: Literal["terms", "announcement"]
    status: Literal["running", "done"]
    total: int
    done: int
    emails: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
