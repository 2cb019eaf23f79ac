"""The batching consumer's core: batches by size or time, in order, settled in order, and one
bad message does not keep the others of its batch from applying."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import asyncpg

from contracts.base import Envelope
from contracts.billing_system import SyncCompleted
from runtime.batches import Batcher, Failure

Settled = list[tuple[str, Failure | None]]


def _messages(n: int) -> list[SyncCompleted]:
    return [SyncCompleted(as_of=datetime(2026, 1, 1 + i, tzinfo=UTC)) for i in range(n)]


def _batcher(
    apply: Callable[[Sequence[Envelope]], Awaitable[None]],
    settled: list[Settled],
    *,
    max_batch: int = 3,
    max_wait: float = 0.01,
    max_transient_wait: float = 60.0,
) -> Batcher[str]:
    async def settle(batch: Settled) -> None:
        settled.append(batch)

    return Batcher(
        apply,
        settle,
        max_batch=max_batch,
        max_wait=max_wait,
        max_transient_wait=max_transient_wait,
    )


async def test_messages_are_applied_and_settled_in_batches_of_the_size_in_arrival_order() -> None:
    applied: list[list[Envelope]] = []

    async def apply(batch: Sequence[Envelope]) -> None:
        applied.append(list(batch))

    settled: list[Settled] = []
    batcher = _batcher(apply, settled)
    messages = _messages(7)
    for i, message in enumerate(messages):
        batcher.add(f"m{i}", message)
    await batcher.close()  # the last one cut at shutdown
    assert [len(b) for b in applied] == [3, 3, 1]
    assert [m for b in applied for m in b] == messages
    assert [[item for item, _ in b] for b in settled] == [
        ["m0", "m1", "m2"],
        ["m3", "m4", "m5"],
        ["m6"],
    ]
    assert all(outcome is None for b in settled for _, outcome in b)


async def test_a_batch_not_full_is_cut_after_the_wait() -> None:
    settled: list[Settled] = []

    async def apply(batch: Sequence[Envelope]) -> None:
        pass

    batcher = _batcher(apply, settled, max_batch=100, max_wait=0.01)
    batcher.add("m0", _messages(1)[0])
    for _ in range(100):
        if settled:
            break
        await asyncio.sleep(0.01)
    assert settled == [[("m0", None)]]
    await batcher.close()


async def test_items_without_an_envelope_keep_their_place_and_are_not_applied() -> None:
    applied: list[Envelope] = []

    async def apply(batch: Sequence[Envelope]) -> None:
        applied.extend(batch)

    settled: list[Settled] = []
    batcher = _batcher(apply, settled)
    messages = _messages(2)
    batcher.add("good0", messages[0])
    batcher.add("refused", None)
    batcher.add("good1", messages[1])
    await batcher.close()
    assert applied == messages
    assert [item for item, _ in settled[0]] == ["good0", "refused", "good1"]


async def test_a_failing_batch_is_halved_until_the_bad_message_fails_alone() -> None:
    messages = _messages(8)
    bad = messages[5]
    applied: list[Envelope] = []
    calls: list[int] = []

    async def apply(batch: Sequence[Envelope]) -> None:
        calls.append(len(batch))
        if bad in batch:
            raise ValueError("bad row")
        applied.extend(batch)

    settled: list[Settled] = []
    batcher = _batcher(apply, settled, max_batch=8)
    for i, message in enumerate(messages):
        batcher.add(f"m{i}", message)
    await batcher.close()
    assert applied == [m for m in messages if m is not bad]  # in their order
    assert calls == [8, 4, 4, 2, 1, 1, 2]  # halves in order: 0-3 ok, 4-5 fail, 4 ok, 5 alone
    outcomes = [outcome for _, outcome in settled[0]]
    assert outcomes == [None] * 5 + [("ValueError: bad row", False)] + [None] * 2


async def test_an_outage_is_waited_out_and_then_the_batch_applies() -> None:
    calls = 0

    async def apply(batch: Sequence[Envelope]) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise asyncpg.exceptions.CannotConnectNowError("starting up")

    settled: list[Settled] = []
    batcher = _batcher(apply, settled, max_batch=2)
    for i, message in enumerate(_messages(2)):
        batcher.add(f"m{i}", message)
    await batcher.close()
    assert settled == [[("m0", None), ("m1", None)]]
    assert calls == 3


async def test_a_long_outage_hands_the_messages_back_as_not_their_fault() -> None:
    async def apply(batch: Sequence[Envelope]) -> None:
        raise asyncpg.exceptions.CannotConnectNowError("down")

    settled: list[Settled] = []
    batcher = _batcher(apply, settled, max_batch=2, max_transient_wait=0.0)
    batcher.add("m0", _messages(1)[0])
    batcher.add("refused", None)
    await batcher.close()
    assert settled == [[("m0", ("database unavailable", True)), ("refused", None)]]


async def test_a_failed_settlement_does_not_stop_the_batches_after_it() -> None:
    async def apply(batch: Sequence[Envelope]) -> None:
        pass

    seen: list[list[str]] = []

    async def settle(batch: Settled) -> None:
        seen.append([item for item, _ in batch])
        if len(seen) == 1:
            raise RuntimeError("broker gone")

    batcher: Batcher[str] = Batcher(apply, settle, max_batch=1, max_wait=0.01)
    for i, message in enumerate(_messages(2)):
        batcher.add(f"m{i}", message)
    await batcher.close()
    assert seen == [["m0"], ["m1"]]


async def test_items_turned_down_when_their_turn_comes_are_neither_applied_nor_settled() -> None:
    applied: list[Envelope] = []

    async def apply(batch: Sequence[Envelope]) -> None:
        applied.extend(batch)

    lost: set[str] = set()
    settled: list[Settled] = []

    async def settle(batch: Settled) -> None:
        settled.append(batch)

    batcher: Batcher[str] = Batcher(
        apply, settle, max_batch=2, max_wait=0.01, keep=lambda item: item not in lost
    )
    messages = _messages(4)
    lost.update({"m1", "m2"})  # their channel went before their batches' turn
    for i, message in enumerate(messages):
        batcher.add(f"m{i}", message)
    await batcher.close()
    assert applied == [messages[0], messages[3]]
    assert settled == [[("m0", None)], [("m3", None)]]


async def test_closing_stops_an_apply_that_hangs_after_the_timeout_and_hands_its_batch_back() -> (
    None
):
    started = asyncio.Event()

    async def apply(batch: Sequence[Envelope]) -> None:
        started.set()
        await asyncio.Event().wait()  # never returns

    handed_back: list[list[str]] = []
    settled: list[Settled] = []

    async def settle(batch: Settled) -> None:
        settled.append(batch)

    batcher: Batcher[str] = Batcher(
        apply, settle, max_batch=2, max_wait=0.01, unsettled=handed_back.append
    )
    for i, message in enumerate(_messages(3)):
        batcher.add(f"m{i}", message)
    await asyncio.wait_for(started.wait(), 1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(batcher.close(timeout=0.2), 5)  # returns: the hang is cut short
    assert loop.time() - began >= 0.2  # after draining for the timeout
    assert handed_back == [["m0", "m1"]]  # the batch being applied; m2's never started
    assert settled == []
