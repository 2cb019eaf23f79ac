"""The simulator's data set is deterministic, consistent and has the variety the tests need."""

from __future__ import annotations

import random

from contracts.billing_system import (
    ContractUpserted,
    CustomerUpserted,
    MeterUpserted,
    SyncCompleted,
)
from tools.billing_sim.dataset import build_dataset, nip, pesel


def _pesel_valid(number: str) -> bool:
    weights = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]
    digits = [int(c) for c in number]
    return (10 - sum(d * w for d, w in zip(digits[:10], weights, strict=True)) % 10) % 10 == digits[
        10
    ]


def _nip_valid(number: str) -> bool:
    weights = [6, 5, 7, 2, 3, 4, 5, 6, 7]
    digits = [int(c) for c in number]
    return sum(d * w for d, w in zip(digits[:9], weights, strict=True)) % 11 == digits[9]


def test_identity_numbers_have_valid_check_digits() -> None:
    rng = random.Random(3)
    assert all(_pesel_valid(pesel(rng)) for _ in range(200))
    assert all(_nip_valid(nip(rng)) for _ in range(200))


def test_same_seed_same_data_and_the_variety_is_there() -> None:
    first, second = build_dataset(60, seed=5), build_dataset(60, seed=5)
    assert [c.identity_number for c in first.customers] == [
        c.identity_number for c in second.customers
    ]
    kinds = {c.kind for c in first.customers}
    assert kinds == {"person", "company"}
    assert any(len(c.contracts) == 2 for c in first.customers)
    assert any(all(k.status == "ended" for k in c.contracts) for c in first.customers)


def test_messages_come_customers_first_and_end_with_a_sync() -> None:
    messages = list(build_dataset(5, seed=2).messages(digest_iterations=1_000))
    kinds = [type(m) for m in messages]
    assert kinds[:5] == [CustomerUpserted] * 5
    assert set(kinds[5:-1]) == {ContractUpserted, MeterUpserted}
    assert kinds[-1] is SyncCompleted
