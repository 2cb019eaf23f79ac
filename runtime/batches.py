"""Applying messages in batches: one transaction for many messages (bulk imports).

``consume_envelopes`` runs one transaction (and FastStream's per-message layers) for each
message, which is right for events and slow for a nightly import of 100,000 invoices. Here the
messages are collected in delivery order until ``max_batch`` of them or ``max_wait`` seconds have
gathered; one worker then takes the batches one at a time, in order, hands the valid messages
of a batch to one ``apply`` call (one transaction) and the batch with each message's outcome to
``settle`` (the broker side: ``runtime.batch_consumer``). When a batch fails, each half of it is
applied in turn (and so on, down to the message that fails alone), so one bad message cannot
hold back the others; while the database is unreachable a batch is held and retried (not the
messages' fault), and handed back as such after ``max_transient_wait``.

A batch the worker could not settle (its ``apply`` interrupted) is handed to ``unsettled``, so
its owner can give its messages back to the broker; the worker notes its progress
(``last_progress``) so that its owner can tell a worker that has stopped from a busy one, and a
worker that died is started again with the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import asyncpg
from pydantic import ValidationError

from contracts.base import Envelope
from runtime.db import TRANSIENT_DB_ERRORS
from runtime.logs import bind_correlation_id, get_logger

log = get_logger(__name__)

BatchApply = Callable[[Sequence[Envelope]], Awaitable[None]]
# Says why a well-formed message must still be refused (dead-lettered), or None to accept it.
Refusal = Callable[[Envelope], str | None]
# What became of a message handed to ``apply``: None when applied, else why not and whether
# the cause was an outage (not the message's fault) rather than the message itself.
Failure = tuple[str, bool]

T = TypeVar("T")


class _TransientGiveUp(Exception):
    """The database stayed unreachable longer than we hold messages for."""


class Batcher(Generic[T]):
    """Cuts items into batches in arrival order; one worker applies and settles them in order.

    ``add`` takes an item and its envelope (None for an item with nothing to apply, such as a
    message refused on arrival, which is settled in its place in the order all the same).
    ``settle`` receives each batch's items with their outcome once its ``apply`` is over.
    ``keep`` says whether an item is still to be applied when its batch's turn comes; those it
    turns down are neither applied nor settled (a delivery whose channel was lost meanwhile:
    the broker hands it out again). ``unsettled`` receives the items of a batch that was neither
    settled nor dropped (its apply was interrupted): they must not stay with the broker as if
    they were being handled.
    """

    def __init__(
        self,
        apply: BatchApply,
        settle: Callable[[list[tuple[T, Failure | None]]], Awaitable[None]],
        *,
        max_batch: int,
        max_wait: float,
        on_transient: Callable[[], None] = lambda: None,
        max_transient_wait: float = 60.0,
        keep: Callable[[T], bool] = lambda item: True,
        unsettled: Callable[[list[T]], None] = lambda items: None,
    ) -> None:
        self._apply = apply
        self._settle = settle
        self._keep = keep
        self._unsettled = unsettled
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._on_transient = on_transient
        self._max_transient_wait = max_transient_wait
        self._items: list[T] = []
        self._envelopes: list[Envelope | None] = []
        self._timer: asyncio.TimerHandle | None = None
        self._batches: asyncio.Queue[tuple[list[T], list[Envelope | None]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        # When the worker last took a batch, tried an apply or settled (time.monotonic()).
        self.last_progress = time.monotonic()

    def add(self, item: T, envelope: Envelope | None) -> None:
        self._items.append(item)
        self._envelopes.append(envelope)
        if len(self._items) >= self._max_batch:
            self._cut()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_wait, self._cut)

    async def drain(self) -> None:
        """Apply and settle what is waiting now and every batch before it (at shutdown)."""
        self._cut()
        if self._worker is not None:
            await self._batches.join()

    async def close(self, timeout: float | None = None) -> None:
        """``drain``, then stop the worker. After ``timeout`` seconds of draining (an apply that
        hangs) the worker is stopped wherever it is: a shutdown never waits for ever, and what
        was not settled stays with the broker, which delivers it again."""
        try:
            async with asyncio.timeout(timeout):
                await self.drain()
        except TimeoutError:
            log.error("batch.drain_timed_out", seconds=timeout, batches=self._batches.qsize())
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    def _cut(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._items:
            self._batches.put_nowait((self._items, self._envelopes))
            self._items, self._envelopes = [], []
        if not self._batches.empty():
            self._start_worker()

    def _start_worker(self) -> None:
        worker = self._worker
        if worker is not None and not worker.done():
            return
        if worker is not None and not worker.cancelled() and worker.exception() is not None:
            log.error("batch.worker_died", error=repr(worker.exception()))
        self._worker = asyncio.create_task(self._work(), name="batch-worker")

    async def restart_worker(self) -> None:
        """Stop the worker wherever it is (a batch it was applying is not settled) and start a
        new one for the batches waiting: for an owner that found it making no progress."""
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done():
            worker.cancel()
            await asyncio.wait({worker}, timeout=5)
        if not self._batches.empty():
            self._start_worker()

    async def _work(self) -> None:
        while True:
            items, envelopes = await self._batches.get()
            self.last_progress = time.monotonic()
            bind_correlation_id(None)  # one id for the batch's log lines
            settled = False
            try:
                kept = [i for i, item in enumerate(items) if self._keep(item)]
                if len(kept) < len(items):
                    log.info("batch.items_dropped", size=len(items) - len(kept))
                    items, envelopes = [items[i] for i in kept], [envelopes[i] for i in kept]
                if not items:
                    settled = True
                    continue
                outcomes = await self._outcomes(envelopes)
                settled = True  # from here on ``settle`` answers for every item
                await self._settle(list(zip(items, outcomes, strict=True)))
                self.last_progress = time.monotonic()
            except asyncio.CancelledError:
                if cancelled_from_outside():
                    raise
                log.warning("batch.settle_interrupted", size=len(items))
            except Exception:
                log.exception("batch.settle_failed", size=len(items))
            finally:
                if not settled:
                    # Left with the broker as if being handled, a later batch's acknowledgement
                    # could cover them: the owner hands them back.
                    self._unsettled(items)
                self._batches.task_done()

    async def _outcomes(self, envelopes: list[Envelope | None]) -> list[Failure | None]:
        outcomes: list[Failure | None] = [None] * len(envelopes)
        present = [i for i, envelope in enumerate(envelopes) if envelope is not None]
        if present:
            await self._apply_halving(envelopes, present, outcomes)
        return outcomes

    async def _apply_halving(
        self, envelopes: list[Envelope | None], part: list[int], outcomes: list[Failure | None]
    ) -> None:
        """Apply ``part`` of the batch; if it fails, each half in turn, down to the message
        that fails alone: one bad message cannot keep the others from applying, and finding
        it takes about two transactions per halving, not one per message."""
        batch = [envelope for i in part if (envelope := envelopes[i]) is not None]
        try:
            await self._apply_retrying(batch)
            return
        except _TransientGiveUp:
            for i in part:
                outcomes[i] = ("database unavailable", True)
            return
        except Exception as exc:
            if len(part) == 1:
                log.exception(
                    "message.failed", schema=batch[0].SCHEMA, message_id=str(batch[0].message_id)
                )
                outcomes[part[0]] = (f"{type(exc).__name__}: {exc}", False)
                return
            log.warning("batch.failed_halving", size=len(part), error=type(exc).__name__)
        half = len(part) // 2
        await self._apply_halving(envelopes, part[:half], outcomes)
        await self._apply_halving(envelopes, part[half:], outcomes)

    async def _apply_retrying(self, envelopes: list[Envelope]) -> None:
        """Apply, waiting out a database outage (not the messages' fault) with backoff."""
        delay, waited = 0.2, 0.0
        while True:
            self.last_progress = time.monotonic()
            try:
                await self._apply(envelopes)
                return
            except TRANSIENT_DB_ERRORS as exc:
                self._on_transient()
                if waited >= self._max_transient_wait:
                    raise _TransientGiveUp from exc
                log.warning("batch.retry", size=len(envelopes), error=type(exc).__name__)
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 5.0)


def envelope_or_reason(
    body: bytes, routing_key: str, by_schema: dict[str, type[Envelope]], refuse: Refusal | None
) -> Envelope | str:
    """The message as its contract, or why it must be dead-lettered."""
    model = by_schema.get(routing_key)
    try:
        # The routing key names the schema (one pass of the JSON); the schema field must agree.
        envelope = model.model_validate_json(body) if model else None
    except ValidationError:
        envelope = None  # said again below, with the reason, from the parsed JSON
    if envelope is None:
        try:
            data = json.loads(body)
        except ValueError:
            return "body is not JSON"
        schema = data.get("schema") if isinstance(data, dict) else None
        if schema not in by_schema:
            return f"unknown schema {schema!r}"
        try:
            envelope = by_schema[schema].model_validate(data)
        except ValidationError as exc:
            return f"invalid {schema}: {exc.errors(include_url=False)}"
    refusal = refuse(envelope) if refuse else None
    return envelope if refusal is None else f"refused {envelope.SCHEMA}: {refusal}"


def cancelled_from_outside() -> bool:
    """Whether this task is being cancelled by its owner, rather than handed a CancelledError by
    aiormq (which cancels the calls in flight on a channel that closes)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def first_deliveries(
    conn: asyncpg.Connection, envelopes: Sequence[Envelope]
) -> list[Envelope]:
    """Record the batch's message ids in the inbox; the envelopes not processed before, in order.

    Call inside the transaction that applies them, so both commit or neither does.
    """
    # Inserted in id order: two batches that share ids (a redelivery beside its first
    # delivery, in two processes) take their row locks in one order and cannot deadlock.
    fresh = {
        row[0]
        for row in await conn.fetch(
            "INSERT INTO inbox (message_id) SELECT id FROM unnest($1::uuid[]) AS id ORDER BY id"
            " ON CONFLICT DO NOTHING RETURNING message_id",
            [e.message_id for e in envelopes],
        )
    }
    seen: set[object] = set()
    result = []
    for envelope in envelopes:
        if envelope.message_id in fresh and envelope.message_id not in seen:
            seen.add(envelope.message_id)
            result.append(envelope)
    return result
