"""The readings service: the requests it answers and the events it emits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from contracts.base import Envelope


class ReadingFlagged(Envelope):
    """R8: an accepted reading far above recent use, flagged for staff; the customer is told."""

    SCHEMA: ClassVar[str] = "readings.reading-flagged.v1"

    reading_id: UUID
    customer_number: str
    serial: str
    value: Decimal
    read_on: date
    daily_average_m3: Decimal


class LegalizationExpiring(Envelope):
    """R7.6: the meter's legal verification ends soon; notify reminds the customer."""

    SCHEMA: ClassVar[str] = "readings.legalization-expiring.v1"

    customer_number: str
    serial: str
    expires_on: date
