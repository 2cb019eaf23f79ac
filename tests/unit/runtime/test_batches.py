"""The batching consumer's core: batches by size or time, in order, and one bad message
does not keep the others of its batch from applying."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from contracts.base import Envelope
from contracts.billing_system import SyncCompleted
from runtime.batches import Batcher


def _messages(n: int) -> list[SyncCompleted]:
    return [SyncCompleted(as_of=datetime(2026, 1, 1 + i, tzinfo=UTC)) for i in range(n)]


async def test_messages_are_applied_in_batches_of_the_size_in_arrival_order() -> None:
    batches: list[list[Envelope]] = []

    async def apply(batch: Sequence[Envelope]) -> None:
        batches.append(list(batch))

    batcher = Batcher(apply, max_batch=3, max_wait=0.01)
    messages = _messages(7)
    outcomes = await asyncio.gather(*(batcher.submit(m) for m in messages))
    assert outcomes == [None] * 7
    assert [len(b) for b in batches] == [3, 3, 1]  # the last one by time
    assert [m for b in batches for m in b] == messages


async def test_a_failing_batch_is_applied_one_by_one_and_only_the_bad_message_fails() -> None:
    messages = _messages(4)
    bad = messages[2]
    applied: list[Envelope] = []

    async def apply(batch: Sequence[Envelope]) -> None:
        if bad in batch:
            raise ValueError("bad row")
        applied.extend(batch)

    batcher = Batcher(apply, max_batch=4, max_wait=0.01)
    outcomes = await asyncio.gather(*(batcher.submit(m) for m in messages))
    assert applied == [m for m in messages if m is not bad]
    assert outcomes[2] == ("ValueError: bad row", False)
    assert [o for i, o in enumerate(outcomes) if i != 2] == [None] * 3


async def test_an_outage_is_waited_out_and_then_the_batch_applies() -> None:
    calls = 0

    async def apply(batch: Sequence[Envelope]) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise asyncpg.exceptions.CannotConnectNowError("starting up")

    batcher = Batcher(apply, max_batch=2, max_wait=0.01)
    assert await asyncio.gather(*(batcher.submit(m) for m in _messages(2))) == [None, None]
    assert calls == 3


async def test_a_long_outage_hands_the_messages_back_as_not_their_fault() -> None:
    async def apply(batch: Sequence[Envelope]) -> None:
        raise asyncpg.exceptions.CannotConnectNowError("down")

    batcher = Batcher(apply, max_batch=1, max_wait=0.01, max_transient_wait=0.0)
    assert await batcher.submit(_messages(1)[0]) == ("database unavailable", True)
