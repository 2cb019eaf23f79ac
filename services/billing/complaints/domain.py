"""The rules of complaints (R10, R12): the 10-day deadline, the states and the customer's text."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from runtime.errors import Conflict, DomainError

# §5.4 "w terminie 10 dni": ten calendar days counted from the day after the complaint reached
# the utility (Kodeks cywilny art. 111 §2: the day of the event is not counted), so a letter
# received on 1 June is due on 11 June. Weekends and holidays count; the deadline is not moved
# off a Saturday or a holiday (art. 115 would allow the later day; settling by the earlier one is
# never late, and staff see one plain date).
DEADLINE_DAYS = 10
# "Due soon" on the staff list: the deadline is today or within this many days.
DUE_SOON_DAYS = 2

FILED, WAITING, SETTLED = "filed", "waiting_for_customer", "settled"
STATUSES = (FILED, WAITING, SETTLED)


def due_on(received_on: date) -> date:
    """R10 §5.4: the last day to settle a complaint that reached the utility on ``received_on``."""
    return received_on + timedelta(days=DEADLINE_DAYS)


def due_in_days(due: date, today: date) -> int:
    """Days left to the deadline (0 on its last day, negative once past)."""
    return (due - today).days


def is_overdue(status: str, due: date, today: date) -> bool:
    """R10: an unsettled complaint past its last day. Waiting for the customer does not stop
    the clock: the deadline shows all the same."""
    return status != SETTLED and today > due


def is_due_soon(status: str, due: date, today: date) -> bool:
    return status != SETTLED and 0 <= due_in_days(due, today) <= DUE_SOON_DAYS


def check_received_on(received_on: date, today: date) -> date:
    """The date a phone call or letter reached the utility: not in the future."""
    if received_on > today:
        raise DomainError(
            "received_on_in_future",
            "Data wpływu reklamacji nie może być z przyszłości.",
            detail_en="The date the complaint was received cannot be in the future.",
            status=422,
            fields={"received_on": "future"},
        )
    return received_on


# --- states ---------------------------------------------------------------------------------------


def _settled() -> Conflict:
    return Conflict(
        "complaint_settled",
        "Reklamacja została już rozpatrzona.",
        detail_en="The complaint has been settled already.",
    )


def after_information_requested(status: str) -> str:
    """R10: staff may ask (again) until the complaint is settled; it then waits for the customer."""
    if status == SETTLED:
        raise _settled()
    return WAITING


def after_customer_message(status: str) -> str:
    """R10: the customer's answer puts the complaint back with staff (``filed``)."""
    if status == SETTLED:
        raise _settled()
    return FILED


@dataclass(frozen=True)
class Outcome:
    outcome: str
    text: str


def check_settlement(status: str, current: Outcome | None, wanted: Outcome) -> bool:
    """R10: settle once. True when the complaint is to be settled now; False when it already
    is, with the same outcome (a repeated request); a different outcome is refused."""
    if status != SETTLED:
        return True
    if current == wanted:
        return False
    raise _settled()


# --- the customer's text (R12) -----------------------------------------------------------------

_ALLOWED_CONTROLS = {"\n", "\t"}


def clean_text(value: str, field: str, limit: int) -> str:
    """R12: text is stored as text (never HTML), trimmed, within ``limit`` characters, and free
    of control characters other than newlines and tabs (``\\r\\n`` becomes ``\\n``)."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise DomainError(
            "text_empty",
            "Pole nie może być puste.",
            detail_en="The field cannot be empty.",
            status=422,
            fields={field: "empty"},
        )
    if len(text) > limit:
        raise DomainError(
            "text_too_long",
            f"Tekst jest za długi (najwyżej {limit} znaków).",
            detail_en=f"The text is too long (at most {limit} characters).",
            status=422,
            fields={field: "too_long"},
        )
    if any(unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS for c in text):
        raise DomainError(
            "text_invalid",
            "Tekst zawiera niedozwolone znaki sterujące.",
            detail_en="The text contains control characters.",
            status=422,
            fields={field: "control_characters"},
        )
    return text
