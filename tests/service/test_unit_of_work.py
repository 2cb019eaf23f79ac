"""The runtime's unit of work on a real schema: events, inbox and after-commit calls happen when
the transaction commits, and not at all when the handler fails."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

import pytest

from contracts import topology
from contracts.base import Envelope
from contracts.readings import LegalizationExpiring
from runtime.service import ServiceRuntime
from runtime.unit_of_work import UnitOfWork
from tests.support.service import count, emitted, outbox_mark


def reminder(serial: str) -> LegalizationExpiring:
    return LegalizationExpiring(
        customer_number="U0000001", serial=serial, expires_on=date(2027, 1, 1)
    )


async def test_emitted_events_and_after_commit_calls_come_with_the_commit(
    readings_rt: ServiceRuntime,
) -> None:
    mark = await outbox_mark(readings_rt)
    called: list[str] = []
    async with readings_rt.unit_of_work() as uow:
        uow.emit(topology.EVENTS_EXCHANGE, reminder("UOW-1"))
        uow.emit(topology.EVENTS_EXCHANGE, reminder("UOW-2"))
        uow.after_commit(lambda: called.append("committed"))
        assert called == []
    sent = await emitted(readings_rt, LegalizationExpiring.SCHEMA, after=mark)
    assert [body["serial"] for _, body in sent] == ["UOW-1", "UOW-2"]
    assert called == ["committed"]


async def test_a_failing_handler_leaves_no_event_no_inbox_record_and_no_call(
    readings_rt: ServiceRuntime,
) -> None:
    message = reminder("UOW-3")
    mark = await outbox_mark(readings_rt)
    called: list[str] = []

    async def failing(uow: UnitOfWork, msg: LegalizationExpiring) -> None:
        uow.emit(topology.EVENTS_EXCHANGE, msg)
        uow.after_commit(lambda: called.append("committed"))
        raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError):
        await readings_rt.deliver(failing, message)
    assert await emitted(readings_rt, LegalizationExpiring.SCHEMA, after=mark) == []
    assert called == []
    inboxed = "SELECT count(*) FROM inbox WHERE message_id = $1"
    assert await count(readings_rt.pool, inboxed, message.message_id) == 0

    # The redelivery is applied, once; a third delivery is a duplicate and skips the handler.
    applied: list[str] = []

    async def recording(uow: UnitOfWork, msg: LegalizationExpiring) -> None:
        applied.append(msg.serial)

    await readings_rt.deliver(recording, message)
    await readings_rt.deliver(recording, message)
    assert applied == ["UOW-3"]
    assert await count(readings_rt.pool, inboxed, message.message_id) == 1


async def test_a_batch_hands_over_only_the_messages_not_seen_before(
    readings_rt: ServiceRuntime,
) -> None:
    first, second = reminder("UOW-4"), reminder("UOW-5")
    seen: list[list[UUID]] = []

    async def apply(uow: UnitOfWork, fresh: Sequence[Envelope]) -> None:
        seen.append([m.message_id for m in fresh])

    await readings_rt.deliver_batch(apply, [first])
    await readings_rt.deliver_batch(apply, [first, second, second])
    assert seen == [[first.message_id], [second.message_id]]
