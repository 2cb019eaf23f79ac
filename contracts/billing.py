"""The billing service: the requests it answers and the events it emits."""

from __future__ import annotations

from pydantic import Field

from contracts.base import Contract
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
