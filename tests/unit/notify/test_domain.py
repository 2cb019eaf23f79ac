"""Delivery retry rules, who gets which email, message identities and the terms rules, without I/O."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import date, timedelta
from typing import Any

import aiosmtplib
import pytest

from runtime.errors import DomainError
from services.notify import domain
from services.notify.mailer import failure_of, mime_bytes


def test_retry_backoff_grows_and_is_capped() -> None:
    assert domain.retry_delay(1) == timedelta(seconds=5)
    assert domain.retry_delay(2) == timedelta(seconds=10)
    assert domain.retry_delay(3) == timedelta(seconds=20)
    assert domain.retry_delay(30) == timedelta(minutes=30)


def test_retry_backoff_follows_the_configured_base() -> None:
    base = timedelta(milliseconds=50)
    assert domain.retry_delay(1, base) == base
    assert domain.retry_delay(4, base) == base * 8


def test_only_5xx_answers_are_permanent() -> None:
    assert domain.is_permanent_smtp_failure(550)
    assert domain.is_permanent_smtp_failure(554)
    assert not domain.is_permanent_smtp_failure(451)
    assert not domain.is_permanent_smtp_failure(None)


@pytest.mark.parametrize(
    ("code", "attempt", "outcome"),
    [
        (451, 1, "retry"),
        (421, 7, "retry"),
        (None, 1, "retry"),  # connection refused, timeout, dropped connection
        (550, 1, "failed"),
        (554, 1, "failed"),
        (451, 8, "failed"),  # out of attempts
        (None, 8, "failed"),
    ],
)
def test_a_failed_attempt_is_retried_unless_permanent_or_the_last(
    code: int | None, attempt: int, outcome: str
) -> None:
    assert domain.after_failed_attempt(code, attempt, max_attempts=8) == outcome


def test_smtp_errors_are_classified_by_their_code() -> None:
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "no such user", "x@example.com")]
    )
    assert failure_of(refused)[0] == 550
    assert failure_of(aiosmtplib.SMTPDataError(451, "try later"))[0] == 451
    assert failure_of(ConnectionRefusedError(111, "refused")) == (
        None,
        "ConnectionRefusedError: [Errno 111] refused",
    )
    assert failure_of(aiosmtplib.SMTPServerDisconnected("gone"))[0] is None


def test_commercial_information_is_emailed_only_with_consent_terms_to_everyone() -> None:
    assert domain.emails_broadcast("announcement", marketing_consent=True)
    assert not domain.emails_broadcast("announcement", marketing_consent=False)
    assert domain.emails_broadcast("terms", marketing_consent=False)


def test_fanout_ids_are_stable_per_job_and_customer() -> None:
    job, other_job = uuid.uuid4(), uuid.uuid4()
    first = domain.fanout_message_ids(job, "K000001")
    assert first == domain.fanout_message_ids(job, "K000001")
    assert first[0] != first[1]
    assert first != domain.fanout_message_ids(job, "K000002")
    assert first != domain.fanout_message_ids(other_job, "K000001")


def test_an_event_leads_to_the_same_inbox_message_and_email_however_often_it_arrives() -> None:
    message_id = uuid.uuid4()
    assert domain.event_message_ids(message_id) == domain.event_message_ids(message_id)
    assert domain.event_message_ids(message_id) != domain.event_message_ids(uuid.uuid4())


def test_terms_cannot_take_effect_before_today() -> None:
    today = date(2026, 3, 10)
    domain.check_terms_effective_date(today, today)
    domain.check_terms_effective_date(date(2026, 4, 1), today)
    with pytest.raises(DomainError) as refused:
        domain.check_terms_effective_date(date(2026, 3, 9), today)
    assert refused.value.code == "terms_effective_in_past" and refused.value.status == 422


def test_blank_staff_text_is_refused() -> None:
    assert domain.check_text_given("body", " text ") == " text "
    with pytest.raises(DomainError) as refused:
        domain.check_text_given("body", " \n\t ")
    assert refused.value.code == "text_blank"


def test_language_is_polish_unless_english_was_chosen() -> None:
    assert domain.language_of("en") == "en"
    assert domain.language_of("pl") == "pl"
    assert domain.language_of("de") == "pl"
    assert domain.language_of(None) == "pl"


def _outbox_email(subject: str = "IBOK: zmiana regulaminu") -> Any:
    from services.notify.store import Email

    return Email(
        id=uuid.UUID("00000000-0000-0000-0000-000000000007"),
        recipient="jan@example.com",
        subject=subject,
        body_text="Dzień dobry,\nlink: http://x/verify-email?token=abc_-1\n",
        body_html="<p>Dzień dobry</p>",
        template="t",
        attempts=0,
    )


def test_the_wire_form_has_both_parts_and_a_message_id_stable_across_attempts() -> None:
    first = mime_bytes(_outbox_email(), "IBOK <ibok@example.com>")
    again = mime_bytes(_outbox_email(), "IBOK <ibok@example.com>")
    for raw in (first, again):
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert message["Message-ID"] == "<00000000-0000-0000-0000-000000000007@ibok>"
        assert message["To"] == "jan@example.com" and message["From"] == "IBOK <ibok@example.com>"
        assert [p.get_content_type() for p in message.walk()] == [
            "multipart/alternative",
            "text/plain",
            "text/html",
        ]
        plain = message.get_body(preferencelist=("plain",))
        assert plain is not None and "token=abc_-1" in plain.get_content()
        assert not message.defects


def test_a_polish_subject_is_encoded_and_reads_back_the_same() -> None:
    raw = mime_bytes(_outbox_email("IBOK: zażółć gęślą jaźń „x”"), "IBOK <ibok@example.com>")
    assert raw.isascii()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "IBOK: zażółć gęślą jaźń „x”"


def test_a_header_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError):
        mime_bytes(_outbox_email("IBOK\r\nBcc: x@example.com"), "IBOK <ibok@example.com>")
