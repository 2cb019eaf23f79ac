"""One short function per message or request the readings service receives."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

import asyncpg

from contracts import readings as msgs
from contracts import topology
from contracts.base import Envelope
from contracts.billing_system import (
    ContractUpserted,
    ControlReadingRecorded,
    InvoiceCancelled,
    InvoiceCorrected,
    InvoiceIssued,
    MeterUpserted,
    ReadingSubmitted,
)
from runtime.clock import business_today
from runtime.errors import Conflict, DomainError, NotFound
from runtime.logs import get_logger
from runtime.paging import cursor_key, decode_cursor, encode_cursor
from runtime.service import ServiceRuntime
from runtime.unit_of_work import UnitOfWork
from services.readings import domain, store, views
from services.readings.chart import render_chart

log = get_logger(__name__)

# Ids of readings made from the billing system's data are derived from its ids, so a message
# delivered twice lands on the same row.
READING_IDS = uuid.UUID("5b0e6a4e-2f35-4c57-9a57-4f8f5a0b7d11")


@dataclass
class Readings:
    """The readings service's dependencies, wired once in app.py."""

    rt: ServiceRuntime

    @property
    def pool(self) -> asyncpg.Pool:
        return self.rt.pool


# --- from the billing system ----------------------------------------------------------------------


BILLING_SYSTEM_MESSAGES: tuple[type[Envelope], ...] = (
    MeterUpserted,
    ControlReadingRecorded,
    ContractUpserted,
    InvoiceIssued,
    InvoiceCorrected,
    InvoiceCancelled,
)


async def ingest_batch(r: Readings, uow: UnitOfWork, fresh: Sequence[Envelope]) -> None:
    """The billing system's messages, many at a time, in one transaction, in delivery order.

    Each is applied as it would be alone (a later message about the same meter, contract or
    invoice wins, as before); the runtime's inbox hands over only the messages not applied
    before. The meters the batch touches are locked at once, in one order, before any is
    changed (submitted readings lock their meter too).
    """
    await store.lock_meters(uow.conn, *meters_touched(fresh))
    settling = store.SettledInvoices(uow.conn)
    for msg in fresh:
        match msg:
            case InvoiceIssued() if domain.settles_period(msg.period_to, msg.issued_on):
                await settling.settle(msg.number, msg.contract_number, msg.period_to)
            case InvoiceCorrected() if domain.settles_period(
                msg.correction.period_to, msg.correction.issued_on
            ):
                c = msg.correction
                await settling.settle(c.number, c.contract_number, c.period_to)
            case InvoiceCancelled():
                await settling.cancel(msg.number)
            case MeterUpserted():
                await settling.flush()
                await upsert_meter(r, uow, msg)
            case ControlReadingRecorded():
                await settling.flush()
                await record_control_reading(uow.conn, msg)
            case ContractUpserted():
                await settling.flush()
                await store.upsert_contract(uow.conn, msg)
    await settling.flush()
    log.info("readings.ingested", fresh=len(fresh))


def meters_touched(messages: Sequence[Envelope]) -> list[str]:
    """The serials the batch's meter messages and control readings change."""
    serials: list[str] = []
    for msg in messages:
        if isinstance(msg, MeterUpserted):
            serials.append(msg.serial)
            if msg.exchange is not None:
                serials.append(msg.exchange.previous_serial)
        elif isinstance(msg, ControlReadingRecorded):
            serials.append(msg.serial)
    return serials


async def upsert_meter(r: Readings, uow: UnitOfWork, msg: MeterUpserted) -> None:
    """A meter, and when it replaced another, the exchange's final and initial states; the
    legalizacja reminders it makes due."""
    conn = uow.conn
    ex = msg.exchange
    if not await store.upsert_meter(conn, msg):
        return  # a newer revision is stored
    await store.adopt_orphan_readings(conn, msg.serial, msg.customer_number)
    if ex is not None:
        previous_customer = await store.meter_customer(conn, ex.previous_serial)
        for role, serial, customer, value in (
            ("final", ex.previous_serial, previous_customer, ex.previous_final_reading),
            ("initial", msg.serial, msg.customer_number, ex.initial_reading),
        ):
            external_id = f"meter-exchange:{msg.serial}:{role}"
            await store.upsert_system_reading(
                conn,
                reading_id=uuid.uuid5(READING_IDS, external_id),
                external_id=external_id,
                serial=serial,
                customer_number=customer or msg.customer_number,
                value=value,
                read_on=ex.exchanged_on,
                source="meter_exchange",
            )
    await remind_legalization(r, uow, business_today(), serial=msg.serial)


async def record_control_reading(conn: asyncpg.Connection, msg: ControlReadingRecorded) -> None:
    """R8 (§3.3): an inspector's reading or an estimate, shown with its source."""
    customer = await store.meter_customer(conn, msg.serial)
    reading_id = uuid.uuid5(READING_IDS, f"control:{msg.reading_id}")
    await store.upsert_control_reading(conn, msg, reading_id, customer)


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
            curve = domain.consumption_curve(views.meter_segments(chain, counting))
            baseline = domain.recent_daily_average(curve, previous.read_on)
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


async def consumption(r: Readings, q: msgs.ConsumptionQuery) -> msgs.ConsumptionReport:
    """R7.7: use per month or billing period of one premises, with the year before and trend."""
    today = business_today()
    date_from, date_to = domain.consumption_range(q.date_from, q.date_to, today)
    contracts = await store.contracts_of_customer(r.pool, q.customer_number)
    all_meters = await store.meters_of_customer(r.pool, q.customer_number)
    premises = sorted(
        {m["premises_id"] for m in all_meters} | {c["premises_id"] for c in contracts}
    )
    if q.premises_id is not None and q.premises_id not in premises:
        raise NotFound(
            "premises_not_found",
            "Nie ma takiego punktu poboru wśród Twoich.",
            detail_en="There is no such premises among yours.",
        )
    current = [c for c in contracts if domain.contract_is_current(views.contract_term(c), today)]
    chosen = (
        q.premises_id
        or (current[0]["premises_id"] if current else None)
        or (premises[0] if premises else None)
    )
    here = [m for m in all_meters if m["premises_id"] == chosen]
    mains = [m for m in here if m["is_main"]] or here
    readings = await store.counting_readings(
        r.pool, q.customer_number, [m["serial"] for m in mains]
    )
    curve = domain.consumption_curve(views.meter_segments(mains, readings))
    period_months = None
    if q.group == "period":
        of_premises = [c for c in contracts if c["premises_id"] == chosen]
        if not of_premises:
            raise DomainError(
                "billing_period_unknown",
                "Brak umowy dla tego punktu: nie znamy okresów rozliczeniowych.",
                detail_en="No contract for this premises: its billing periods are unknown.",
                status=422,
            )
        current_numbers = {c["contract_number"] for c in current}
        contract = next(
            (c for c in of_premises if c["contract_number"] in current_numbers), of_premises[0]
        )
        period_months = contract["billing_period_months"]
        spans = domain.billing_periods(contract["start_date"], period_months, date_from, date_to)
    else:
        spans = domain.months(date_from, date_to)
    figures = domain.consumption_figures(curve, spans)
    return views.consumption_report(
        figures,
        premises_id=chosen,
        premises=premises,
        group=q.group,
        spans=spans,
        date_from=date_from,
        date_to=date_to,
        period_months=period_months,
    )


async def consumption_chart(r: Readings, q: msgs.ConsumptionChartQuery) -> msgs.ConsumptionChart:
    report = await consumption(r, msgs.ConsumptionQuery(**q.model_dump(exclude={"language"})))
    return msgs.ConsumptionChart(svg=render_chart(report, q.language))


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
        for exchange in (topology.IBOK_OUT_EXCHANGE, topology.EVENTS_EXCHANGE):
            message_id = uuid.uuid5(row["id"], f"reviewed:{row['revision']}:{exchange}")
            uow.emit(exchange, reviewed.model_copy(update={"message_id": message_id}))
    log.info("reading.reviewed", decision=cmd.decision, reading_id=str(row["id"]))
    return views.flagged_view(row)
