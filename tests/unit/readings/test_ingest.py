"""What readings takes from the billing system's messages, without a database (R8)."""

from __future__ import annotations

from datetime import date, timedelta

from contracts.billing_system import MeterExchange
from services.readings.domain import settles_period
from services.readings.ingest.handlers import meters_touched
from tests.support.readings import control_reading, extra_customer, meter_for

DAY = date(2026, 3, 31)


def test_an_invoice_issued_after_its_period_settles_it() -> None:
    assert settles_period(DAY, DAY + timedelta(days=3))


def test_an_invoice_issued_on_the_last_day_of_its_period_settles_it() -> None:
    assert settles_period(DAY, DAY)


def test_an_invoice_issued_in_advance_settles_nothing() -> None:
    assert not settles_period(DAY, DAY - timedelta(days=1))


def test_a_batch_locks_every_meter_it_changes_including_the_one_replaced() -> None:
    customer = extra_customer("R9000900", contract_start=DAY - timedelta(days=400))
    plain = meter_for(customer, "SW-A")
    exchanged = meter_for(
        customer,
        "SW-B",
        exchange=MeterExchange(
            previous_serial="SW-OLD",
            previous_final_reading="120.5",
            initial_reading="0",
            exchanged_on=DAY,
        ),
    )
    reading = control_reading("SW-C", "3", DAY)
    assert meters_touched([plain, exchanged, reading]) == ["SW-A", "SW-B", "SW-OLD", "SW-C"]
