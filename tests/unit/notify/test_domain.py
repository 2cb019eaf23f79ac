"""Email rendering and delivery rules without SMTP."""

from __future__ import annotations

from datetime import timedelta

from services.notify import domain


def test_verification_email_renders_in_polish_and_english_with_both_parts() -> None:
    pl = domain.render_email(
        "email_verification",
        "pl",
        login="jan",
        link="http://x/verify?token=abc",
        expires="1.01.2027 10:00",
    )
    en = domain.render_email(
        "email_verification",
        "en",
        login="jan",
        link="http://x/verify?token=abc",
        expires="1.01.2027 10:00",
    )
    assert "potwierdź" in pl.subject and "confirm" in en.subject
    for email in (pl, en):
        assert (
            "http://x/verify?token=abc" in email.text
            and 'href="http://x/verify?token=abc"' in email.html
        )


def test_html_part_escapes_customer_text() -> None:
    email = domain.render_email(
        "email_verification", "pl", login="<b>jan</b>", link="l", expires="e"
    )
    assert "<b>jan</b>" not in email.html and "&lt;b&gt;jan&lt;/b&gt;" in email.html


def test_unknown_language_falls_back_to_polish() -> None:
    assert domain.render_email(
        "email_verification", "de", login="j", link="l", expires="e"
    ).subject.startswith("IBOK: potwierdź")


def test_retry_backoff_grows_and_is_capped() -> None:
    assert domain.retry_delay(1) == timedelta(seconds=5)
    assert domain.retry_delay(2) == timedelta(seconds=10)
    assert domain.retry_delay(30) == timedelta(minutes=30)


def test_only_5xx_answers_are_permanent() -> None:
    assert domain.is_permanent_smtp_failure(550)
    assert not domain.is_permanent_smtp_failure(451)
    assert not domain.is_permanent_smtp_failure(None)
