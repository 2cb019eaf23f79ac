"""One short function per message or request the readings service receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

import asyncpg

from contracts import readings as msgs
from contracts import topology
from contracts.billing_system import (
    ReadingSubmitted,
)
from runtime.clock import business_today
from runtime.errors import Conflict, DomainError, NotFound
from runtime.logs import get_logger
from runtime.paging import cursor_key, decode_cursor, encode_cursor
from runtime.service import ServiceRuntime
from runtime.unit_of_work import UnitOfWork
from services.readings import domain, store, views
from services.readings.consumption import domain as consumption_domain

log = get_logger(__name__)


@dataclass
class Readings:
    """The readings service's dependencies, wired once in app.py."""

    rt: ServiceRuntime

    @property
    def pool(self) -> asyncpg.Pool:
        return self.rt.pool


# --- from the billing system ----------------------------------------------------------------------


# --- R7.6: legalizacja ----------------------------------------------------------------------------


async def remind_legalization(
    r: Readings, uow: UnitOfWork, today: date, serial: str | None = None
) -> int:
    """R7.6: emit the reminders due today (each once per meter, expiry date and threshold)."""
    thresholds = r.rt.settings.legalization_reminder_days
    if not thresholds:
        return 0
    horizon = today + timedelta(days=max(thresholds))
    sent = 0
    for row in await store.meters_expiring(uow.conn, today, horizon, serial):
        due = domain.legalization_reminder_due(
            row["legalization_expires"], today, thresholds, row["sent"]
        )
        if due is None:
            continue
        if await store.record_reminder(
            uow.conn, row["serial"], row["customer_number"], row["legalization_expires"], due
        ):
            uow.emit(
                topology.EVENTS_EXCHANGE,
                msgs.LegalizationExpiring(
                    customer_number=row["customer_number"],
                    serial=row["serial"],
                    expires_on=row["legalization_expires"],
                    days_before=due,
                ),
            )
            sent += 1
    return sent


async def send_legalization_reminders(r: Readings, today: date | None = None) -> int:
    """The daily sweep: every meter whose reminder became due since the last one."""
    async with r.rt.unit_of_work() as uow:
        sent = await remind_legalization(r, uow, today or business_today())
    log.info("legalization.reminders_sent", count=sent)
    return sent


# --- the customer's requests ----------------------------------------------------------------------


async def meters(r: Readings, q: msgs.MetersQuery) -> msgs.MeterPage:
    """R7.6: the customer's meters with legalizacja expiry, days left and last reading."""
    after = decode_cursor(q.cursor)
    rows = await store.meters_page(
        r.pool, q.customer_number, str(after[0]) if after else None, q.limit + 1
    )
    contracts = await store.contracts_of_customer(r.pool, q.customer_number)
    today = business_today()
    items = [views.meter_view(row, contracts, today) for row in rows[: q.limit]]
    more = len(rows) > q.limit
    return msgs.MeterPage(
        items=items, next_cursor=encode_cursor(items[-1].serial) if more else None
    )


def _chain(meters_here: list[asyncpg.Record], serial: str) -> list[asyncpg.Record]:
    """The meter and the ones it replaced, by exchange, oldest first."""
    by_serial = {m["serial"]: m for m in meters_here}
    chain, current = [], by_serial.get(serial)
    while current is not None and current not in chain:
        chain.append(current)
        current = by_serial.get(current["previous_serial"] or "")
    return chain[::-1]


async def submit_reading(r: Readings, cmd: msgs.SubmitReading) -> msgs.ReadingAccepted:
    """R1, R8: validate a customer's reading, store it and send it to the billing system once."""
    today = business_today()
    read_on = cmd.read_on or today
    value = domain.reading_value(cmd.value)
    customer = cmd.customer_number
    async with r.rt.unit_of_work() as uow:
        await store.lock_meters(uow.conn, cmd.serial)
        known = await store.submission_context(uow.conn, cmd.serial, customer, read_on)
        meter = known.meter
        if meter is None:
            raise NotFound(
                "meter_not_found",
                "Nie ma takiego licznika wśród Twoich liczników.",
                detail_en="There is no such meter among your meters.",
            )
        contract = domain.require_current_contract(map(views.contract_term, known.contracts), today)
        settled = {c["contract_number"]: c["settled_through"] for c in known.contracts}
        chain = _chain(known.chain, cmd.serial)
        existing = known.existing
        replaced_id = existing["id"] if existing else None
        counting = [row for row in known.counting if row["id"] != replaced_id]
        around = domain.check_reading(
            meter=domain.MeterFacts(cmd.serial, meter["installed_on"], meter["removed_on"]),
            contract=contract,
            value=value,
            read_on=read_on,
            today=today,
            others=[views.known_reading(row) for row in counting if row["serial"] == cmd.serial],
            settled_through=settled[contract.contract_number],
        )
        previous = around.previous
        baseline = None
        if previous is not None:
            curve = consumption_domain.consumption_curve(views.meter_segments(chain, counting))
            baseline = consumption_domain.recent_daily_average(curve, previous.read_on)
        flagged = domain.jump_is_implausible(
            previous=previous,
            value=value,
            read_on=read_on,
            daily_average=baseline,
            factor=r.rt.settings.reading_jump_factor,
        )
        # Under the meter's lock the stored revision is known before writing: one message per
        # revision, its id derived from both, so it is never sent twice. The messages are
        # written by the statement that saves the reading.
        reading_id = replaced_id or uuid.uuid4()
        revision = existing["revision"] + 1 if existing else 1
        outbox = [
            uow.outbox_row(
                topology.IBOK_OUT_EXCHANGE,
                ReadingSubmitted(
                    message_id=uuid.uuid5(reading_id, f"submitted:{revision}"),
                    reading_id=reading_id,
                    revision=revision,
                    serial=cmd.serial,
                    customer_number=customer,
                    value=value,
                    read_on=read_on,
                    flagged=flagged,
                ),
            )
        ]
        if flagged:
            outbox.append(
                uow.outbox_row(
                    topology.EVENTS_EXCHANGE,
                    msgs.ReadingFlagged(
                        message_id=uuid.uuid5(reading_id, f"flagged:{revision}"),
                        reading_id=reading_id,
                        customer_number=customer,
                        serial=cmd.serial,
                        value=value,
                        read_on=read_on,
                        daily_average_m3=domain.m3(baseline or Fraction(0)),
                    ),
                )
            )
        row = await store.save_customer_reading(
            uow.conn,
            reading_id=reading_id,
            serial=cmd.serial,
            customer=customer,
            value=value,
            read_on=read_on,
            flagged=flagged,
            previous_value=previous.value if previous else None,
            previous_read_on=previous.read_on if previous else None,
            baseline_daily_m3=domain.m3(baseline) if baseline is not None else None,
            outbox=outbox,
        )
        if (row["id"], row["revision"]) != (reading_id, revision):
            # Only a writer that ignored the meter's lock could cause this: roll everything back.
            raise RuntimeError("the reading changed under the meter's lock")
    log.info("reading.accepted", serial=cmd.serial, revision=row["revision"], flagged=flagged)
    return _accepted(views.reading_view(row), replaced=existing is not None, flagged=flagged)


def _accepted(view: msgs.ReadingView, *, replaced: bool, flagged: bool) -> msgs.ReadingAccepted:
    if flagged:
        pl = (
            "Odczyt przyjęty. Zużycie jest znacznie wyższe niż zwykle, więc odczyt sprawdzi "
            "pracownik Wodociągów; wynik zobaczysz w historii odczytów."
        )
        en = (
            "Reading accepted. The use is much higher than usual, so staff will check the "
            "reading; you will see the outcome in the reading history."
        )
    elif replaced:
        pl, en = (
            "Odczyt przyjęty: zastąpił odczyt z tego samego dnia.",
            ("Reading accepted: it replaced the reading of the same day."),
        )
    else:
        pl, en = "Odczyt przyjęty.", "Reading accepted."
    return msgs.ReadingAccepted(
        reading=view, replaced=replaced, flagged=flagged, message=pl, message_en=en
    )


async def reading_history(r: Readings, q: msgs.ReadingHistoryQuery) -> msgs.ReadingPage:
    """R7.5: the customer's readings of every source, newest first, filtered and paged."""
    key = cursor_key(q.cursor, date.fromisoformat, uuid.UUID)
    rows = await store.history_page(
        r.pool,
        q.customer_number,
        serial=q.serial,
        date_from=q.date_from,
        date_to=q.date_to,
        after=key,
        limit=q.limit + 1,
    )
    items = [views.reading_view(row) for row in rows[: q.limit]]
    more = len(rows) > q.limit
    cursor = encode_cursor(items[-1].read_on, items[-1].reading_id) if more else None
    return msgs.ReadingPage(items=items, next_cursor=cursor)


# --- staff ----------------------------------------------------------------------------------------


async def flagged_readings(r: Readings, q: msgs.FlaggedReadingsQuery) -> msgs.FlaggedReadingPage:
    """R8: flagged readings for staff to review, oldest first."""
    key = cursor_key(q.cursor, datetime.fromisoformat, uuid.UUID)
    rows = await store.flagged_page(
        r.pool, pending_only=q.status == "pending_review", after=key, limit=q.limit + 1
    )
    items = [views.flagged_view(row) for row in rows[: q.limit]]
    more = len(rows) > q.limit
    cursor = (
        encode_cursor(items[-1].submitted_at.isoformat(), items[-1].reading_id) if more else None
    )
    return msgs.FlaggedReadingPage(items=items, next_cursor=cursor)


async def review_reading(r: Readings, cmd: msgs.ReviewReading) -> msgs.FlaggedReadingView:
    """R8: staff accept or reject a flagged reading; a rejection's reason is shown to the customer."""
    reason = cmd.reason.strip()
    if cmd.decision == "rejected" and not reason:
        raise DomainError(
            "review_reason_required",
            "Podaj powód odrzucenia odczytu: klient go zobaczy.",
            detail_en="Give the reason for rejecting the reading: the customer will see it.",
            status=422,
            fields={"reason": "required when rejecting"},
        )
    async with r.rt.unit_of_work() as uow:
        row = await store.reading_for_update(uow.conn, cmd.reading_id)
        if row is None or not row["flagged"]:
            raise NotFound(
                "reading_not_found",
                "Nie ma takiego oznaczonego odczytu.",
                detail_en="There is no such flagged reading.",
            )
        if row["status"] != "pending_review":
            raise Conflict(
                "reading_already_reviewed",
                "Ten odczyt został już sprawdzony.",
                detail_en="This reading has already been reviewed.",
            )
        row = await store.record_review(
            uow.conn, cmd.reading_id, cmd.decision, reason, cmd.reviewer
        )
        reviewed = msgs.ReadingReviewed(
            reading_id=row["id"],
            revision=row["revision"],
            customer_number=row["customer_number"],
            serial=row["serial"],
            decision=cmd.decision,
            reason=reason,
        )
        # To the billing system only: the customer sees the decision and its reason in the
        # reading history, so no IBOK service consumes it (contracts.topology).
        exchange = topology.IBOK_OUT_EXCHANGE
        message_id = uuid.uuid5(row["id"], f"reviewed:{row['revision']}:{exchange}")
        uow.emit(exchange, reviewed.model_copy(update={"message_id": message_id}))
    log.info("reading.reviewed", decision=cmd.decision, reading_id=str(row["id"]))
    return views.flagged_view(row)
