"""The notify service: the requests it answers (inbox, terms, announcements, fan-out status)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Contract
from contracts.rpc import Operation

PageLimit = Annotated[int, Field(ge=1, le=100)]
Cursor = Annotated[str, Field(max_length=200)]
# A header line: no line breaks (they would let text smuggle in other mail headers).
SubjectLine = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\r\n]+$")]

# --- the IBOK inbox (R10, R11, R15) ------------------------------------------------------------

InboxKind = Literal[
    "complaint_outcome",
    "complaint_information_requested",
    "terms_changed",
    "announcement",
    "reading_flagged",
    "legalization_expiring",
]


class InboxQuery(Contract):
    """One page of a customer's inbox, newest first; the caller scopes it to the session's customer."""

    customer_number: str = Field(min_length=1, max_length=32)
    limit: PageLimit = 20
    cursor: Cursor | None = None


class InboxMessage(Contract):
    id: UUID
    kind: InboxKind
    title: str
    body: str  # plain text; clients render it as text, never as HTML (R12)
    created_at: datetime
    read_at: datetime | None = None


class InboxPage(Contract):
    items: list[InboxMessage]
    next_cursor: str | None = None
    unread: int = Field(ge=0)


class MarkRead(Contract):
    """Mark one message read; a message of another customer is not found."""

    customer_number: str = Field(min_length=1, max_length=32)
    message_id: UUID


INBOX = Operation("notify", "inbox", InboxQuery, InboxPage)
MARK_READ = Operation("notify", "mark-read", MarkRead, InboxMessage)

# --- terms (R11) -------------------------------------------------------------------------------

TERMS_TEXT_MAX = 200_000


class TermsInForceQuery(Contract):
    """The version in force on ``on`` (default: today in Warsaw)."""

    on: date | None = None


class TermsVersionQuery(Contract):
    version: int = Field(ge=1)


class TermsVersion(Contract):
    version: int
    effective_on: date
    published_at: datetime
    text: str


class TermsVersionsQuery(Contract):
    limit: PageLimit = 20
    cursor: Cursor | None = None


class TermsVersionSummary(Contract):
    version: int
    effective_on: date
    published_at: datetime
    in_force: bool


class TermsVersionsPage(Contract):
    items: list[TermsVersionSummary]
    next_cursor: str | None = None


class PublishTerms(Contract):
    """Staff publish a new version; every recipient gets an inbox message and an email (R11)."""

    text: str = Field(min_length=1, max_length=TERMS_TEXT_MAX)
    effective_on: date
    published_by: str = Field(min_length=1, max_length=64)


class TermsPublished(Contract):
    version: int
    effective_on: date
    fanout_job_id: UUID


TERMS_IN_FORCE = Operation("notify", "terms-in-force", TermsInForceQuery, TermsVersion)
TERMS_VERSION = Operation("notify", "terms-version", TermsVersionQuery, TermsVersion)
TERMS_VERSIONS = Operation("notify", "terms-versions", TermsVersionsQuery, TermsVersionsPage)
PUBLISH_TERMS = Operation("notify", "publish-terms", PublishTerms, TermsPublished)

# --- commercial information (R15) --------------------------------------------------------------


class SendAnnouncement(Contract):
    """Email to the customers who consented, an inbox message for every customer (R15)."""

    subject: SubjectLine
    body: str = Field(min_length=1, max_length=10_000)
    sent_by: str = Field(min_length=1, max_length=64)


class AnnouncementSent(Contract):
    announcement_id: UUID
    fanout_job_id: UUID


SEND_ANNOUNCEMENT = Operation("notify", "send-announcement", SendAnnouncement, AnnouncementSent)

# --- fan-out progress --------------------------------------------------------------------------


class FanoutStatusQuery(Contract):
    job_id: UUID


class FanoutStatus(Contract):
    """How far a message to every customer has got; ``total`` is the count when it started."""

    job_id: UUID
    kind: Literal["terms", "announcement"]
    status: Literal["running", "done"]
    total: int
    done: int
    emails: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None


FANOUT_STATUS = Operation("notify", "fanout-status", FanoutStatusQuery, FanoutStatus)
