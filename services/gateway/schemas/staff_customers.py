"""What staff see of customers: search results and one customer's contracts, balance and account."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime

from contracts.billing import ContractSummary
from contracts.billing_system import Address
from services.gateway.schemas.common import Schema

AccountStatus = Literal["none", "pending", "active", "blocked"]


class AccountState(Schema):
    """The customer's IBOK account: never a password hash or an identity number."""

    status: AccountStatus
    login: str | None = None
    blocked_until: date | None = None
    email_verified: bool = False


class CustomerHit(Schema):
    customer_number: str
    name: str
    kind: Literal["person", "company"]
    city: str
    account: AccountState


class CustomerHits(Schema):
    items: list[CustomerHit]


class StaffCustomerView(Schema):
    customer_number: str
    name: str
    kind: Literal["person", "company"]
    address: Address
    contracts: list[ContractSummary]
    balance_grosze: int
    overdue_grosze: int
    data_as_of: AwareDatetime | None
    account: AccountState
