"""Submitting and listing readings (R1, R7.5, R8): readings' handlers on its own schema."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from contracts import topology
from contracts.readings import ReadingHistoryQuery, SubmitReading
from runtime.errors import DomainError
from services.readings import handlers
from services.readings.handlers import Readings
from tests.support.customers import with_active_contract
from tests.support.readings import (
    TODAY,
    control_reading,
    extra_customer,
    meter_for,
    settling_invoice,
)
from tests.support.service import add_customer, emitted, ingest_readings, outbox_mark
from tools.billing_sim.dataset import Dataset, SimCustomer


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


async def submit(r: Readings, customer: SimCustomer, serial: str, value: Any, **extra: Any) -> Any:
    return await handlers.submit_reading(
        r,
        SubmitReading(customer_number=customer.number, serial=serial, value=value, **extra),
    )


async def refused(r: Readings, customer: SimCustomer, serial: str, value: Any, **extra: Any) -> Any:
    with pytest.raises(DomainError) as caught:
        await submit(r, customer, serial, value, **extra)
    return caught.value


async def customer_readings(r: Readings, serial: str) -> int:
    return int(
        await r.pool.fetchval(
            "SELECT count(*) FROM readings WHERE serial = $1 AND source = 'customer'", serial
        )
    )


async def history(r: Readings, customer: SimCustomer, **query: Any) -> list[Any]:
    page = await handlers.reading_history(
        r, ReadingHistoryQuery(customer_number=customer.number, **query)
    )
    return page.items


@pytest.fixture(scope="module")
def olek(loaded: Dataset) -> SimCustomer:
    return with_active_contract(loaded, 3)


async def test_accepted_reading_is_queued_once_for_the_billing_system(
    readings: Readings, olek: SimCustomer
) -> None:
    meter = meter_for(olek)
    await ingest_readings(readings, [meter, control_reading(meter.serial, "100", day(-30))])
    mark = await outbox_mark(readings.rt)

    accepted = await submit(readings, olek, meter.serial, "105.5")

    assert (accepted.flagged, accepted.replaced, accepted.message) == (
        False,
        False,
        "Odczyt przyjęty.",
    )
    assert (accepted.reading.value, accepted.reading.read_on) == (Decimal("105.5"), TODAY)
    sent = await emitted(readings.rt, "reading.submitted.v1", after=mark)
    assert [(exchange, body["reading_id"], body["revision"]) for exchange, body in sent] == [
        (topology.IBOK_OUT_EXCHANGE, str(accepted.reading.reading_id), 1)
    ]


async def test_second_reading_the_same_day_replaces_the_first_while_unbilled(
    readings: Readings, olek: SimCustomer
) -> None:
    meter = meter_for(olek)
    await ingest_readings(readings, [meter, control_reading(meter.serial, "50", day(-40))])
    mark = await outbox_mark(readings.rt)

    first = await submit(readings, olek, meter.serial, "60", read_on=TODAY)
    second = await submit(readings, olek, meter.serial, "61.25")

    assert second.replaced is True
    assert second.message_en == "Reading accepted: it replaced the reading of the same day."
    assert second.reading.reading_id == first.reading.reading_id
    assert (second.reading.value, second.reading.revision) == (Decimal("61.25"), 2)
    # The replacement is still held to the previous reading (the inspector's 50 m3).
    below = await refused(readings, olek, meter.serial, "49.999")
    assert below.code == "reading_below_previous"
    sent = await emitted(readings.rt, "reading.submitted.v1", after=mark)
    assert [(body["revision"], body["value"]) for _, body in sent] == [(1, "60.000"), (2, "61.250")]
    assert [
        (h.source, h.value, h.read_on) for h in await history(readings, olek, serial=meter.serial)
    ] == [
        ("customer", Decimal("61.25"), TODAY),
        ("inspector", Decimal("50"), day(-40)),
    ]


async def test_reading_below_previous_is_refused_in_polish_and_english(
    readings: Readings, olek: SimCustomer
) -> None:
    meter = meter_for(olek)
    await ingest_readings(readings, [meter, control_reading(meter.serial, "120.5", day(-10))])

    problem = await refused(readings, olek, meter.serial, "120.4")

    assert (problem.code, problem.status) == ("reading_below_previous", 422)
    assert "poprzedni odczyt (120.500 m³" in problem.detail
    assert problem.detail_en.startswith("The reading cannot be below the previous one")
    assert await customer_readings(readings, meter.serial) == 0
    assert (await submit(readings, olek, meter.serial, "120.5")).reading.value == Decimal("120.5")


@pytest.mark.parametrize(
    ("value", "read_on", "code"),
    [
        ("10", 1, "reading_in_future"),
        ("10", -401, "reading_before_installation"),
        ("12.3456", None, "reading_value_precision"),
        ("-1", None, "reading_value_invalid"),
    ],
)
async def test_impossible_reading_is_refused_and_changes_nothing(
    readings: Readings, olek: SimCustomer, value: str, read_on: int | None, code: str
) -> None:
    meter = meter_for(olek, installed_on=day(-400))
    await ingest_readings(readings, [meter])
    mark = await outbox_mark(readings.rt)

    when = {"read_on": day(read_on)} if read_on is not None else {}
    problem = await refused(readings, olek, meter.serial, Decimal(value), **when)

    assert (problem.code, problem.status) == (code, 422)
    assert problem.detail and problem.detail_en
    assert await customer_readings(readings, meter.serial) == 0
    assert await emitted(readings.rt, "reading.submitted.v1", after=mark) == []


async def test_another_customers_meter_answers_like_an_unknown_one(
    readings: Readings, olek: SimCustomer, loaded: Dataset
) -> None:
    theirs = with_active_contract(loaded, 4).meters[0].serial
    before = await customer_readings(readings, theirs)

    other = await refused(readings, olek, theirs, "1")
    unknown = await refused(readings, olek, "NOSUCH1", "1")

    assert (other.code, other.status, other.detail) == (unknown.code, 404, unknown.detail)
    assert other.code == "meter_not_found"
    assert await customer_readings(readings, theirs) == before
    assert await history(readings, olek, serial=theirs) == []


async def test_control_readings_are_shown_with_their_source(
    readings: Readings, olek: SimCustomer
) -> None:
    meter = meter_for(olek)
    await ingest_readings(
        readings,
        [
            meter,
            control_reading(meter.serial, "10", day(-90), "inspector"),
            control_reading(meter.serial, "20", day(-60), "estimate"),
        ],
    )
    await submit(readings, olek, meter.serial, "25")

    assert [
        (h.source, h.value, h.status) for h in await history(readings, olek, serial=meter.serial)
    ] == [
        ("customer", Decimal("25"), "accepted"),
        ("estimate", Decimal("20"), "accepted"),
        ("inspector", Decimal("10"), "accepted"),
    ]


async def test_history_filters_by_meter_and_dates_and_pages_with_a_cursor(
    readings: Readings, olek: SimCustomer
) -> None:
    meter, other = meter_for(olek), meter_for(olek)
    await ingest_readings(
        readings,
        [
            meter,
            other,
            *[control_reading(meter.serial, str(10 * k), day(-70 + 10 * k)) for k in range(7)],
            control_reading(other.serial, "5", day(-5)),
        ],
    )
    seen: list[date] = []
    cursor, pages = None, 0
    while True:
        page = await handlers.reading_history(
            readings,
            ReadingHistoryQuery(
                customer_number=olek.number, serial=meter.serial, limit=3, cursor=cursor
            ),
        )
        seen += [item.read_on for item in page.items]
        pages += 1
        if (cursor := page.next_cursor) is None:
            break
    assert pages == 3
    assert seen == [day(-70 + 10 * k) for k in reversed(range(7))]  # newest first, no repeats

    ranged = await history(
        readings, olek, serial=meter.serial, date_from=day(-50), date_to=day(-30)
    )
    assert [h.read_on for h in ranged] == [day(-30), day(-40), day(-50)]
    both = await history(readings, olek, date_from=day(-5), date_to=day(-5))
    assert {h.serial for h in both} >= {other.serial}
    with pytest.raises(DomainError) as bad:
        await history(readings, olek, cursor="not-a-cursor")
    assert (bad.value.code, bad.value.status) == ("invalid_cursor", 422)


# --- R1 and "unbilled": customers of our own, so the contract can end and invoices arrive ---------


async def own_customer(billing: Any, readings: Readings, number: str) -> SimCustomer:
    customer = extra_customer(number, contract_start=TODAY - timedelta(days=800))
    customer.meters.append(meter_for(customer, installed_on=TODAY - timedelta(days=700)))
    await add_customer(billing, readings, customer)
    return customer


async def test_customer_whose_contract_ended_keeps_history_but_cannot_submit(
    billing: Any, readings: Readings
) -> None:
    customer = await own_customer(billing, readings, "S9000161")
    serial = customer.meters[0].serial
    await submit(readings, customer, serial, "7", read_on=day(-3))
    ended = customer.contracts[0].model_copy(
        update={
            "message_id": uuid.uuid4(),
            "status": "ended",
            "end_date": TODAY - timedelta(days=1),
            "revision": 2,
        }
    )
    await ingest_readings(readings, [ended])

    problem = await refused(readings, customer, serial, "8")

    assert (problem.code, problem.status) == ("contract_not_active", 403)
    assert "nie jest aktywna" in problem.detail
    assert await customer_readings(readings, serial) == 1
    assert [h.value for h in await history(readings, customer)] == [Decimal("7")]


async def test_reading_of_a_billed_period_can_no_longer_be_replaced(
    billing: Any, readings: Readings
) -> None:
    customer = await own_customer(billing, readings, "S9000162")
    serial = customer.meters[0].serial
    await ingest_readings(readings, [control_reading(serial, "10", day(-1))])
    # A backdated reading is held to the later one too.
    above = await refused(readings, customer, serial, "10.001", read_on=day(-2))
    assert above.code == "reading_above_next"
    await submit(readings, customer, serial, "7", read_on=day(-2))
    # The billing system settles the period up to that day: the reading is billed now.
    await ingest_readings(readings, [settling_invoice(customer, day(-2))])

    again = await refused(readings, customer, serial, "8", read_on=day(-2))

    assert (again.code, again.status) == ("reading_period_billed", 409)
    assert [(h.source, h.value, h.revision) for h in await history(readings, customer)] == [
        ("inspector", Decimal("10"), 1),
        ("customer", Decimal("7"), 1),
    ]
    # After the settled period readings go on as usual.
    assert (await submit(readings, customer, serial, "10.5")).reading.value == Decimal("10.5")
