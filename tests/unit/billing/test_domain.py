"""The billing rules without a database or broker."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.identity import make_identity_digest
from services.billing import domain

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("status", "start", "end", "current"),
    [
        ("active", date(2020, 1, 1), None, True),
        ("active", date(2020, 1, 1), TODAY, True),
        ("active", date(2020, 1, 1), date(2026, 11, 24), False),
        ("active", date(2026, 11, 26), None, False),
        ("ended", date(2020, 1, 1), None, False),
        ("suspended", date(2020, 1, 1), None, False),
    ],
)
def test_only_a_contract_in_force_today_qualifies(
    status: str, start: date, end: date | None, current: bool
) -> None:
    assert domain.contract_is_current(domain.ContractTerm(status, start, end), TODAY) is current


def test_identity_number_matching_a_digest_is_recognised() -> None:
    checks = [{"kind": "pesel", "digest": make_identity_digest("44051401359", iterations=1_000)}]
    assert domain.identity_matches(checks, "pesel", "440514 01359")
    assert not domain.identity_matches(checks, "pesel", "44051401358")
    assert not domain.identity_matches(checks, "nip", "4405140135")
    assert not domain.identity_matches(checks, "pesel", "not-a-number")
