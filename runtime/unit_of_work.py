"""The unit of work (STYLE 13): one connection and transaction, the events it emits (outbox),
the inbox record of the message(s) it consumed, and the relay's wake-up after commit.

Handlers never open a transaction, check the inbox or wake the relay by hand:

    async with rt.unit_of_work() as uow:            # an RPC request that changes state
        row = await store.change_something(uow.conn, ...)
        uow.emit(topology.EVENTS_EXCHANGE, SomethingChanged(...))

A consumed message comes through ``ServiceRuntime.consume`` (or ``deliver`` in tests), which
opens the unit of work with ``message=`` and skips the handler when the inbox has seen the
message (``uow.duplicate``); a batch comes through ``consume_batches`` with only the messages
not seen before (``uow.fresh``).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import asyncpg

from contracts import topology
from contracts.base import Envelope
from runtime.batches import first_deliveries
from runtime.messaging import first_delivery
from runtime.outbox import OutboxRow, enqueue_args, enqueue_sql, outbox_row


class UnitOfWork:
    """What one transaction of a handler collects; opened by ``open_unit_of_work``."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        # True when the consumed message was processed before: the runtime skips the handler.
        self.duplicate = False
        # The consumed batch's messages not processed before, in delivery order.
        self.fresh: list[Envelope] = []
        self._events: list[OutboxRow] = []
        self._written_by_store = False
        self._after_commit: list[Callable[[], Awaitable[None] | None]] = []

    def emit(self, exchange: str, event: Envelope) -> None:
        """Publish ``event`` to ``exchange`` if and only if this unit of work commits: it is
        written to the outbox in the same transaction, and the relay is woken after commit."""
        topology.require_published(exchange, event.SCHEMA)
        self._events.append(outbox_row(exchange, event.SCHEMA, event))

    def outbox_row(self, exchange: str, event: Envelope) -> OutboxRow:
        """``event`` as an outbox row for a store function that writes it in the same statement
        as the state change (``runtime.outbox.enqueue_sql``): one round trip for both. The
        relay is woken after commit, as with ``emit``."""
        topology.require_published(exchange, event.SCHEMA)
        self._written_by_store = True
        return outbox_row(exchange, event.SCHEMA, event)

    def after_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        """Call ``callback`` (plain or async) once the transaction has committed: wake a mail
        sender, log what was done, tell other processes at once (``announce``)."""
        self._after_commit.append(callback)

    @property
    def publishes(self) -> bool:
        """Whether this unit of work wrote anything to the outbox."""
        return bool(self._events) or self._written_by_store

    async def _write_events(self) -> None:
        if self._events:
            await self.conn.execute(enqueue_sql(1), *enqueue_args(self._events))


@asynccontextmanager
async def open_unit_of_work(
    pool: asyncpg.Pool,
    wake_relay: Callable[[], None],
    *,
    message: Envelope | None = None,
    messages: Sequence[Envelope] | None = None,
) -> AsyncIterator[UnitOfWork]:
    """A connection from ``pool`` in a transaction; on a clean exit the emitted events are
    written and the transaction commits, then the relay and the ``after_commit`` callbacks are
    called. On an exception everything rolls back and nothing is published or called.

    ``message``: the consumed message, recorded in the inbox (``uow.duplicate`` when it was
    there already). ``messages``: a consumed batch, recorded likewise (``uow.fresh``).
    """
    async with pool.acquire() as conn:
        uow = UnitOfWork(conn)
        async with conn.transaction():
            if message is not None:
                uow.duplicate = not await first_delivery(conn, message)
            if messages is not None:
                uow.fresh = await first_deliveries(conn, messages)
            yield uow
            await uow._write_events()
    if uow.publishes:
        wake_relay()
    for callback in uow._after_commit:
        if inspect.isawaitable(result := callback()):
            await result
