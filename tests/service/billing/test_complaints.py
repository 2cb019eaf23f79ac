"""Complaints (R10, R12): billing's complaint handlers on billing's schema; the events each step
emits are read from billing's outbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts import billing as msgs
from contracts import topology
from runtime.clock import business_today
from runtime.errors import DomainError
from services.billing.complaints import handlers
from services.billing.handlers import Billing
from tests.support.customers import with_active_contract
from tests.support.service import count, emitted, outbox_mark
from tools.billing_sim.dataset import Dataset, SimCustomer

STAFF = UUID("00000000-0000-4000-8000-000000000001")


@pytest.fixture(scope="module")
def customer(loaded: Dataset) -> SimCustomer:
    return with_active_contract(loaded, 18)


def filing(customer: SimCustomer, **changes: Any) -> msgs.FileComplaint:
    return msgs.FileComplaint(
        request_id=uuid4(),
        customer_number=customer.number,
        subject="Faktura",
        description="Za dużo",
        expected_resolution="Korekta",
        **changes,
    )


async def refusal(call: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    return caught.value


async def test_a_complaint_lives_from_filing_through_a_question_to_the_outcome(
    billing: Billing, customer: SimCustomer
) -> None:
    mark = await outbox_mark(billing.rt)
    filed = await handlers.file_complaint(billing, filing(customer))
    assert (filed.status, filed.due_on) == ("filed", business_today() + timedelta(days=10))
    [(exchange, sent)] = await emitted(billing.rt, "complaint.filed.v1", after=mark)
    assert exchange == topology.IBOK_OUT_EXCHANGE and sent["complaint_id"] == str(
        filed.complaint_id
    )

    question = msgs.RequestComplaintInformation(
        request_id=uuid4(), staff_id=STAFF, complaint_id=filed.complaint_id, question="Zdjęcie?"
    )
    asked = await handlers.request_information(billing, question)
    assert asked.status == "waiting_for_customer"
    await handlers.request_information(billing, question)  # a retry changes nothing
    requested = await emitted(billing.rt, "billing.complaint-information-requested.v1", after=mark)
    assert [body["question"] for _, body in requested] == ["Zdjęcie?"]

    answer = msgs.AnswerComplaint(
        request_id=uuid4(),
        customer_number=customer.number,
        complaint_id=filed.complaint_id,
        body="<b>Zdjęcie</b> w załączniku",
    )
    answered = await handlers.answer_complaint(billing, answer)
    assert answered.status == "filed"
    assert [m.kind for m in answered.messages] == ["question", "answer"]

    settle = msgs.SettleComplaint(
        staff_id=STAFF, complaint_id=filed.complaint_id, outcome="accepted", outcome_text="Korekta"
    )
    settled = await handlers.settle_complaint(billing, settle)
    assert (settled.status, settled.outcome) == ("settled", "accepted")
    await handlers.settle_complaint(billing, settle)  # the same outcome again: nothing new
    assert len(await emitted(billing.rt, "complaint.settled.v1", after=mark)) == 1
    [(_, outcome)] = await emitted(billing.rt, "billing.complaint-outcome.v1", after=mark)
    assert outcome["outcome_text"] == "Korekta"
    other = settle.model_copy(update={"outcome": "rejected"})
    assert (await refusal(handlers.settle_complaint(billing, other))).status == 409


async def test_a_complaint_about_another_customers_invoice_is_refused_and_nothing_is_filed(
    billing: Billing, customer: SimCustomer, loaded: Dataset
) -> None:
    someone = with_active_contract(loaded, 19)
    foreign = await billing.rt.pool.fetchrow(
        "SELECT invoice_id, number FROM invoices WHERE customer_number = $1 LIMIT 1",
        someone.number,
    )
    before = await count(billing.rt.pool, "SELECT count(*) FROM complaints")
    mark = await outbox_mark(billing.rt)
    for ref in ({"invoice_id": foreign["invoice_id"]}, {"invoice_number": foreign["number"]}):
        problem = await refusal(handlers.file_complaint(billing, filing(customer, **ref)))
        assert (problem.code, problem.status) == ("invoice_not_found", 404)
    assert await count(billing.rt.pool, "SELECT count(*) FROM complaints") == before
    assert await count(billing.rt.pool, "SELECT count(*) FROM outbox WHERE id > $1", mark) == 0


async def test_the_same_request_files_one_complaint_and_staff_see_the_overdue_first(
    billing: Billing, loaded: Dataset
) -> None:
    letter_customer = with_active_contract(loaded, 20)
    today = business_today()
    letter = filing(
        letter_customer, channel="letter", received_on=today - timedelta(days=12), filed_by=STAFF
    )
    first = await handlers.file_complaint(billing, letter)
    again = await handlers.file_complaint(billing, letter)
    assert again.complaint_id == first.complaint_id
    assert (first.due_on, first.overdue, first.due_in_days) == (today - timedelta(days=2), True, -2)

    page = await handlers.staff_complaints(billing, msgs.StaffComplaintsQuery(status="open"))
    due = [item.due_on for item in page.items]
    assert due == sorted(due) and page.items[0].overdue


async def test_staff_hide_a_customer_message_and_it_stays_for_the_audit(
    billing: Billing, loaded: Dataset
) -> None:
    owner = with_active_contract(loaded, 21)
    filed = await handlers.file_complaint(billing, filing(owner))
    said = await handlers.answer_complaint(
        billing,
        msgs.AnswerComplaint(
            request_id=uuid4(),
            customer_number=owner.number,
            complaint_id=filed.complaint_id,
            body="obraźliwy tekst",
        ),
    )
    message_id = said.messages[0].message_id
    hidden = await handlers.hide_message(
        billing,
        msgs.HideComplaintMessage(
            staff_id=STAFF, complaint_id=filed.complaint_id, message_id=message_id, reason="R12"
        ),
    )
    assert (hidden.messages[0].body, hidden.messages[0].hidden_reason) == (None, "R12")
    as_customer = await handlers.get_complaint(
        billing, msgs.ComplaintRef(complaint_id=filed.complaint_id, customer_number=owner.number)
    )
    assert as_customer.messages[0].body is None and as_customer.messages[0].hidden_by is None
    stranger = msgs.ComplaintRef(complaint_id=filed.complaint_id, customer_number="K999999")
    assert (await refusal(handlers.get_complaint(billing, stranger))).status == 404
