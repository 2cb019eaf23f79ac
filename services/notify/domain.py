"""What notify says and when: email and inbox rendering, delivery retry rules, terms rules. No I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from runtime.errors import DomainError

Language = Literal["pl", "en"]


def language_of(value: str | None) -> Language:
    """Polish first; English only where the customer chose it."""
    return "en" if value == "en" else "pl"


def paragraphs(text: str) -> Markup:
    """Customer or staff text in HTML: escaped first, then blank lines become paragraphs (R12)."""
    blocks = [b.strip() for b in str(text).replace("\r\n", "\n").split("\n\n") if b.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in b.split("\n")))
        for b in blocks
    )


_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_templates.filters["paragraphs"] = paragraphs


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class InboxNote:
    """An inbox message as the customer reads it: a title and plain text."""

    kind: str
    title: str
    body: str


def render_email(template: str, language: str, **context: Any) -> RenderedEmail:
    """Templates are ``<name>.<lang>.{subject,txt,html}``; Polish when the language has none."""
    lang = language_of(language)
    subject = _templates.get_template(f"{template}.{lang}.subject").render(**context)
    text = _templates.get_template(f"{template}.{lang}.txt").render(**context)
    html = _templates.get_template(f"{template}.{lang}.html").render(**context)
    # A subject is one header line, whatever the template or the staff typed.
    return RenderedEmail(" ".join(subject.split()), text, html)


def render_inbox(kind: str, language: str, **context: Any) -> InboxNote:
    """``<kind>.<lang>.inbox.txt``: the first line is the title, the rest (after a blank line) the body."""
    lang = language_of(language)
    rendered = _templates.get_template(f"{kind}.{lang}.inbox.txt").render(**context)
    title, _, body = rendered.partition("\n")
    return InboxNote(kind, title.strip(), body.strip("\n").rstrip() + "\n")


_MONTHS_EN = (
    "January February March April May June July August September October November December"
).split()


def format_date(day: date, language: str) -> str:
    """``01.05.2026`` in Polish, ``1 May 2026`` in English."""
    if language_of(language) == "en":
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return day.strftime("%d.%m.%Y")


def format_volume(value: Decimal, language: str) -> str:
    """m³ with three decimals (R18); a decimal comma in Polish."""
    text = f"{value.quantize(Decimal('0.001'))}"
    return text.replace(".", ",") if language_of(language) == "pl" else text


# --- delivery ----------------------------------------------------------------------------------

DeliveryOutcome = Literal["retry", "failed"]


def retry_delay(
    attempt: int,
    base: timedelta = timedelta(seconds=5),
    cap: timedelta = timedelta(minutes=30),
) -> timedelta:
    """Backoff after a temporary failure: base, 2x base, 4x base ... capped (5 s, 10 s ... 30 min)."""
    return min(base * 2 ** max(attempt - 1, 0), cap)


def is_permanent_smtp_failure(code: int | None) -> bool:
    """5xx answers are final (RFC 5321); 4xx and connection trouble are worth retrying."""
    return code is not None and 500 <= code < 600


def after_failed_attempt(code: int | None, attempt: int, max_attempts: int) -> DeliveryOutcome:
    """A permanent answer, or a temporary one on the last allowed attempt, ends the email as failed."""
    if is_permanent_smtp_failure(code) or attempt >= max_attempts:
        return "failed"
    return "retry"


# --- who is told what --------------------------------------------------------------------------


def emails_broadcast(kind: str, marketing_consent: bool) -> bool:
    """R15: commercial information is emailed only with consent; terms changes to everyone (R11)."""
    return marketing_consent if kind == "announcement" else True


def event_message_ids(source: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """The inbox message and email an event leads to: the same ids however often it arrives."""
    return uuid.uuid5(source, "inbox"), uuid.uuid5(source, "email")


def fanout_message_ids(job_id: uuid.UUID, customer_number: str) -> tuple[uuid.UUID, uuid.UUID]:
    """One inbox message and at most one email per customer and fan-out job, even after a restart."""
    return uuid.uuid5(job_id, f"inbox:{customer_number}"), uuid.uuid5(
        job_id, f"email:{customer_number}"
    )


# --- terms (R11) -------------------------------------------------------------------------------

# The seeded terms (services/notify/seed/regulamin-ibok.txt) apply from this day (its §10.6).
SEED_TERMS_EFFECTIVE_ON = date(2025, 8, 11)


def check_terms_effective_date(effective_on: date, today: date) -> None:
    """R11: a new version of the terms is announced before it applies, never retroactively."""
    if effective_on < today:
        raise DomainError(
            "terms_effective_in_past",
            "Data wejścia w życie regulaminu nie może być wcześniejsza niż dzisiaj.",
            detail_en="The terms cannot take effect before today.",
            status=422,
            fields={"effective_on": "before today"},
        )


def check_text_given(field: str, text: str) -> str:
    """Text from staff must say something; it is stored as given and rendered escaped (R12)."""
    if not text.strip():
        raise DomainError(
            "text_blank",
            "Treść nie może być pusta.",
            detail_en="The text must not be blank.",
            status=422,
            fields={field: "blank"},
        )
    return text
