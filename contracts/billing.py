"""The billing service: the requests it answers and the events it emits."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Contract, Envelope
from contracts.billing_system import ContractNumber, CustomerNumber
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
