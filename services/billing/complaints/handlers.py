"""Complaints (R10, R12): one short function per request the gateway sends about them.

Every change and its events commit in one transaction (the outbox): the billing system hears
of a complaint filed and settled (``ibok.out``); notify tells the customer that information is
requested and what the outcome is (``ibok.events``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from uuid import UUID, uuid4

import asyncpg

from contracts import billing, billing_system, topology
from contracts.base import Envelope
from runtime.clock import business_today
from runtime.errors import NotFound
from runtime.logs import get_logger
from runtime.paging import cursor_key, encode_cursor
from runtime.unit_of_work import UnitOfWork
from services.billing.complaints import domain as rules
from services.billing.complaints import store, views
from services.billing.handlers import Billing

log = get_logger(__name__)


async def file_complaint(b: Billing, cmd: billing.FileComplaint) -> billing.ComplaintView:
    """R10: a complaint filed in IBOK or registered by staff; the 10 days run from the day it
    reached the utility. Only the customer's own invoice may be named (else 404, nothing made)."""
    today = business_today()
    received_on = rules.check_received_on(cmd.received_on or today, today)
    subject = rules.clean_text(cmd.subject, "subject", billing.SUBJECT_MAX)
    description = rules.clean_text(cmd.description, "description", billing.DESCRIPTION_MAX)
    expected = rules.clean_text(
        cmd.expected_resolution, "expected_resolution", billing.EXPECTED_MAX
    )
    cmd = cmd.model_copy(
        update={"subject": subject, "description": description, "expected_resolution": expected}
    )
    staff_view = cmd.filed_by is not None
    if (done := await store.complaint_id_of_request(b.rt.pool, cmd.request_id)) is not None:
        return await views.full_view(b.rt.pool, done, staff_view=staff_view)
    complaint_id = uuid4()
    try:
        async with b.rt.unit_of_work() as uow:
            await _insert_filed(uow, cmd, complaint_id, received_on)
    except asyncpg.UniqueViolationError:
        # The same request, retried at the same moment: answer with what the first made.
        done = await store.complaint_id_of_request(b.rt.pool, cmd.request_id)
        if done is None:
            raise
        return await views.full_view(b.rt.pool, done, staff_view=staff_view)
    log.info("complaint.filed", complaint_id=str(complaint_id), channel=cmd.channel)
    return await views.full_view(b.rt.pool, complaint_id, staff_view=staff_view)


async def _insert_filed(
    uow: UnitOfWork, cmd: billing.FileComplaint, complaint_id: UUID, received_on: date
) -> None:
    """The complaint and its ComplaintFiled, in one transaction (the outbox). Only the
    customer's own invoice may be named."""
    conn = uow.conn
    if not await store.customer_known(conn, cmd.customer_number):
        raise NotFound(
            "customer_not_found", "Nie znaleziono klienta.", detail_en="No such customer."
        )
    invoice_number = None
    if cmd.invoice_id is not None or cmd.invoice_number is not None:
        invoice_number = await store.invoice_number_of_customer(
            conn, cmd.customer_number, cmd.invoice_id, cmd.invoice_number
        )
        if invoice_number is None:
            raise NotFound(
                "invoice_not_found", "Nie znaleziono faktury.", detail_en="No such invoice."
            )
    filed = billing_system.ComplaintFiled(
        complaint_id=complaint_id,
        customer_number=cmd.customer_number,
        channel=cmd.channel,
        received_on=received_on,
        due_on=rules.due_on(received_on),
        subject=cmd.subject,
        description=cmd.description,
        expected_resolution=cmd.expected_resolution,
        invoice_number=invoice_number,
        reading_id=cmd.reading_id,
    )
    fields = filed.model_dump(exclude={"message_id", "occurred_at", "schema_name"})
    await store.insert_complaint(conn, request_id=cmd.request_id, filed_by=cmd.filed_by, **fields)
    uow.emit(topology.IBOK_OUT_EXCHANGE, filed)


def _customer_page_start(cursor: str | None) -> tuple[datetime, UUID] | None:
    return cursor_key(cursor, datetime.fromisoformat, UUID)  # type: ignore[return-value]


def _staff_page_start(cursor: str | None) -> tuple[date, datetime, UUID] | None:
    key = cursor_key(cursor, date.fromisoformat, datetime.fromisoformat, UUID)
    return key  # type: ignore[return-value]


async def list_complaints(b: Billing, query: billing.ComplaintsQuery) -> billing.ComplaintPage:
    """The customer's complaints, newest first, with their deadline and state."""
    rows = await store.complaints_of_customer(
        b.rt.pool, query.customer_number, _customer_page_start(query.cursor), query.limit + 1
    )
    today = business_today()
    more, rows = len(rows) > query.limit, rows[: query.limit]
    last = rows[-1] if rows else None
    return billing.ComplaintPage(
        items=[views.view(r, today) for r in rows],
        next_cursor=encode_cursor(last["filed_at"].isoformat(), str(last["complaint_id"]))
        if more and last
        else None,
    )


async def staff_complaints(
    b: Billing, query: billing.StaffComplaintsQuery
) -> billing.ComplaintPage:
    """R10: every complaint for staff, the oldest deadline first (overdue ones lead)."""
    statuses: list[str] | None = None
    if query.status == "open":
        statuses = [rules.FILED, rules.WAITING]
    elif query.status:
        statuses = [query.status]
    rows = await store.complaints_by_deadline(
        b.rt.pool,
        statuses=statuses,
        due_before=query.due_before,
        after=_staff_page_start(query.cursor),
        limit=query.limit + 1,
    )
    today = business_today()
    more, rows = len(rows) > query.limit, rows[: query.limit]
    last = rows[-1] if rows else None
    return billing.ComplaintPage(
        items=[views.view(r, today, staff_view=True) for r in rows],
        next_cursor=encode_cursor(
            last["due_on"].isoformat(), last["filed_at"].isoformat(), str(last["complaint_id"])
        )
        if more and last
        else None,
    )


async def get_complaint(b: Billing, ref: billing.ComplaintRef) -> billing.ComplaintView:
    """One complaint with its messages; a customer sees only their own (else 404)."""
    if ref.customer_number is None and not ref.staff_view:
        raise views.not_found()
    return await views.full_view(
        b.rt.pool, ref.complaint_id, ref.customer_number, staff_view=ref.staff_view
    )


async def _add_message(
    uow: UnitOfWork,
    *,
    request_id: UUID,
    complaint_id: UUID,
    customer_number: str | None,
    author: str,
    kind: str,
    staff_id: UUID | None,
    body: str,
    next_status: Callable[[str], str],
    event: Callable[[asyncpg.Record], Envelope] | None = None,
) -> bool:
    """A message on a complaint, once per request id: the complaint is locked, the message
    added, the state moved to ``next_status`` of the current one (which refuses a settled
    complaint) and ``event`` of the complaint emitted to ``ibok.events``, in one transaction.
    ``customer_number`` scopes the lookup to the customer's own complaint. False when the
    request was done before (a retry changes nothing)."""
    conn = uow.conn
    if await store.message_of_request(conn, request_id) is not None:
        return False
    row = await store.complaint(conn, complaint_id, customer_number, for_update=True)
    if row is None:
        raise views.not_found()
    status = next_status(row["status"])
    await store.add_message(
        conn,
        message_id=uuid4(),
        request_id=request_id,
        complaint_id=complaint_id,
        author=author,
        kind=kind,
        staff_id=staff_id,
        body=body,
    )
    if status != row["status"]:
        await store.set_status(conn, complaint_id, status)
    if event is not None:
        uow.emit(topology.EVENTS_EXCHANGE, event(row))
    return True


async def answer_complaint(b: Billing, cmd: billing.AnswerComplaint) -> billing.ComplaintView:
    """R10: the customer answers in IBOK; a complaint waiting for them goes back to staff."""
    body = rules.clean_text(cmd.body, "body", billing.MESSAGE_MAX)
    async with b.rt.unit_of_work() as uow:
        await _add_message(
            uow,
            request_id=cmd.request_id,
            complaint_id=cmd.complaint_id,
            customer_number=cmd.customer_number,
            author="customer",
            kind="answer",
            staff_id=None,
            body=body,
            next_status=rules.after_customer_message,
        )
    return await views.full_view(b.rt.pool, cmd.complaint_id, cmd.customer_number, staff_view=False)


async def request_information(
    b: Billing, cmd: billing.RequestComplaintInformation
) -> billing.ComplaintView:
    """R10: staff ask the customer for more; notify tells them. The deadline does not move."""
    question = rules.clean_text(cmd.question, "question", billing.MESSAGE_MAX)

    def requested(row: asyncpg.Record) -> billing.ComplaintInformationRequested:
        return billing.ComplaintInformationRequested(
            complaint_id=cmd.complaint_id,
            customer_number=row["customer_number"],
            subject=row["subject"],
            question=question,
            due_on=row["due_on"],
        )

    async with b.rt.unit_of_work() as uow:
        added = await _add_message(
            uow,
            request_id=cmd.request_id,
            complaint_id=cmd.complaint_id,
            customer_number=None,
            author="staff",
            kind="question",
            staff_id=cmd.staff_id,
            body=question,
            next_status=rules.after_information_requested,
            event=requested,
        )
    if added:
        log.info("complaint.information_requested", complaint_id=str(cmd.complaint_id))
    return await views.full_view(b.rt.pool, cmd.complaint_id, staff_view=True)


async def settle_complaint(b: Billing, cmd: billing.SettleComplaint) -> billing.ComplaintView:
    """R10: settle once, accepted or rejected, with the outcome's text; the billing system and
    the customer (email and inbox, through notify) hear of it."""
    text = rules.clean_text(cmd.outcome_text, "outcome_text", billing.MESSAGE_MAX)
    today = business_today()
    async with b.rt.unit_of_work() as uow:
        conn = uow.conn
        row = await store.complaint(conn, cmd.complaint_id, for_update=True)
        if row is None:
            raise views.not_found()
        current = rules.Outcome(row["outcome"], row["outcome_text"]) if row["outcome"] else None
        settle_now = rules.check_settlement(
            row["status"], current, rules.Outcome(cmd.outcome, text)
        )
        if settle_now:
            await store.settle(
                conn,
                cmd.complaint_id,
                outcome=cmd.outcome,
                outcome_text=text,
                settled_on=today,
                settled_by=cmd.staff_id,
            )
            uow.emit(
                topology.IBOK_OUT_EXCHANGE,
                billing_system.ComplaintSettled(
                    complaint_id=cmd.complaint_id,
                    customer_number=row["customer_number"],
                    outcome=cmd.outcome,
                    outcome_text=text,
                    settled_on=today,
                ),
            )
            uow.emit(
                topology.EVENTS_EXCHANGE,
                billing.ComplaintOutcome(
                    complaint_id=cmd.complaint_id,
                    customer_number=row["customer_number"],
                    subject=row["subject"],
                    outcome=cmd.outcome,
                    outcome_text=text,
                    settled_on=today,
                ),
            )
    if settle_now:
        log.info(
            "complaint.settled",
            complaint_id=str(cmd.complaint_id),
            outcome=cmd.outcome,
            late=today > row["due_on"],
        )
    return await views.full_view(b.rt.pool, cmd.complaint_id, staff_view=True)


async def hide_message(b: Billing, cmd: billing.HideComplaintMessage) -> billing.ComplaintView:
    """R12: staff hide a customer's unlawful message; it stays for the audit (who, when, why)."""
    reason = rules.clean_text(cmd.reason, "reason", billing.REASON_MAX)
    async with b.rt.unit_of_work() as uow:
        author = await store.hide_message(
            uow.conn, cmd.complaint_id, cmd.message_id, cmd.staff_id, reason
        )
    if author is None:
        raise NotFound(
            "message_not_found",
            "Nie znaleziono wiadomości klienta.",
            detail_en="No such customer message on this complaint.",
        )
    log.info(
        "complaint.message_hidden",
        complaint_id=str(cmd.complaint_id),
        message_id=str(cmd.message_id),
        staff_id=str(cmd.staff_id),
    )
    return await views.full_view(b.rt.pool, cmd.complaint_id, staff_view=True)


def register(b: Billing) -> None:
    """Answer the complaint operations (called once from app.py)."""
    b.rt.answer(billing.FILE_COMPLAINT, partial(file_complaint, b))
    b.rt.answer(billing.LIST_COMPLAINTS, partial(list_complaints, b))
    b.rt.answer(billing.GET_COMPLAINT, partial(get_complaint, b))
    b.rt.answer(billing.ANSWER_COMPLAINT, partial(answer_complaint, b))
    b.rt.answer(billing.STAFF_COMPLAINTS, partial(staff_complaints, b))
    b.rt.answer(billing.REQUEST_COMPLAINT_INFORMATION, partial(request_information, b))
    b.rt.answer(billing.SETTLE_COMPLAINT, partial(settle_complaint, b))
    b.rt.answer(billing.HIDE_COMPLAINT_MESSAGE, partial(hide_message, b))
