"""Messages the utility's billing system (ERP) publishes to IBOK on exchange ``billing.in``.

The routing key of each message is its ``schema``. Every message carries ``message_id``,
``occurred_at`` and ``schema``; processing is idempotent (natural keys are upserted and a
message id seen before is a no-op).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal

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


class ContractUpserted(Envelope):
    SCHEMA: ClassVar[str] = "contract.upserted.v1"

    contract_number: ContractNumber
    customer_number: CustomerNumber
    premises: Premises
    start_date: date
    end_date: date | None = None
    status: Literal["active", "ended", "suspended"]
    billing_period_months: int = Field(ge=1, le=12)
    revision: int = Field(ge=0)


class SyncCompleted(Envelope):
    """The billing system finished a batch; IBOK's billing data is current as of ``as_of`` (R9)."""

    SCHEMA: ClassVar[str] = "sync.completed.v1"

    as_of: AwareDatetime


BILLING_SERVICE_MESSAGES: tuple[type[Envelope], ...] = (
    CustomerUpserted,
    ContractUpserted,
    SyncCompleted,
)


class MeterUpserted(Envelope):
    """A water meter at a premises; ``legalization_expires`` is the end of its legal verification."""

    SCHEMA: ClassVar[str] = "meter.upserted.v1"

    serial: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9/-]+$")
    premises_id: str = Field(min_length=1, max_length=32)
    customer_number: CustomerNumber
    diameter_mm: int = Field(ge=10, le=500)
    installed_on: date
    legalization_expires: date
    removed_on: date | None = None
    revision: int = Field(ge=0)


READINGS_SERVICE_MESSAGES: tuple[type[Envelope], ...] = (MeterUpserted,)
