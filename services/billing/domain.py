"""The billing rules: pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.identity import IdentityKind, identity_digest_matches, normalise_identity_number


@dataclass(frozen=True)
class ContractTerm:
    status: str
    start_date: date
    end_date: date | None


def contract_is_current(contract: ContractTerm, today: date) -> bool:
    """R1: a water supply and sewage contract in force on ``today`` (Warsaw calendar, R18)."""
    if contract.status != "active":
        return False
    if contract.start_date > today:
        return False
    return contract.end_date is None or contract.end_date >= today


def identity_matches(checks: list[dict[str, str]], kind: IdentityKind, number: str) -> bool:
    """R5/R1: the typed PESEL or NIP matches one of the digests the billing system sent.

    Every digest of that kind is tried, so the time taken does not reveal which one matched.
    """
    digits = normalise_identity_number(kind, number)
    if digits is None:
        return False
    results = [identity_digest_matches(c["digest"], digits) for c in checks if c["kind"] == kind]
    return any(results)
