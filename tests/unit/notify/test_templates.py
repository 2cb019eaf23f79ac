"""Every email in Polish and English with a subject, a plain-text and an HTML part; text is escaped (R12)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.notify import domain

TEMPLATES = Path(domain.__file__).parent / "templates"

CONTEXTS: dict[str, dict[str, Any]] = {
    "email_verification": {
        "login": "jan",
        "link": "http://x/verify-email?token=abc",
        "expires": "1.01.2027 10:00",
    },
    "email_change": {
        "login": "jan",
        "link": "http://x/verify-email?token=abc",
        "expires": "1.01.2027 10:00",
    },
    "login_code": {
        "login": "jan",
        "code": "K7AF3HJ9",
        "expires": "1.01.2027 10:00",
        "link": "http://x/login",
    },
    "email_change_notice": {
        "login": "jan",
        "new_email": "n***@example.com",
        "link": "http://x/me/contact",
    },
    "password_reset": {
        "login": "jan",
        "link": "http://x/password-reset?token=abc",
        "expires": "1.01.2027 10:00",
    },
    "terms_changed": {"version": 2, "effective": "01.07.2026", "link": "http://x/terms"},
    "complaint_outcome": {
        "subject": "Faktura FV/1",
        "outcome": "accepted",
        "outcome_text": "Korekta wystawiona.",
        "settled": "05.03.2026",
        "link": "http://x/complaints/1",
    },
    "complaint_information_requested": {
        "subject": "Faktura FV/1",
        "question": "Prosimy o zdjęcie wodomierza.",
        "due": "10.03.2026",
        "link": "http://x/complaints/1",
    },
    "legalization_expiring": {"serial": "WM-1", "expires": "30.06.2026", "link": "http://x/meters"},
    "reading_flagged": {
        "serial": "WM-1",
        "value": "123,456",
        "read": "01.03.2026",
        "daily_average": "0,300",
        "link": "http://x/readings",
    },
    "announcement": {
        "title": "Nowa taryfa",
        "body": "Od 1 lipca nowa taryfa.",
        "link": "http://x/me/contact",
    },
}
INBOX_KINDS = [
    "terms_changed",
    "complaint_outcome",
    "complaint_information_requested",
    "legalization_expiring",
    "reading_flagged",
    "announcement",
]


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_every_email_renders_in_both_languages_with_both_parts(template: str) -> None:
    pl = domain.render_email(template, "pl", **CONTEXTS[template])
    en = domain.render_email(template, "en", **CONTEXTS[template])
    for email, greeting in ((pl, "Dzień dobry"), (en, "Hello")):
        assert email.subject.startswith("IBOK: ") and "\n" not in email.subject
        assert email.text.startswith(greeting) and "<p>" not in email.text
        assert email.html.startswith("<!doctype html>") and f"<p>{greeting},</p>" in email.html
        link = CONTEXTS[template]["link"]
        assert link in email.text and f'href="{link}"' in email.html
    assert pl.subject != en.subject or template == "announcement"
    assert '<html lang="pl">' in pl.html and '<html lang="en">' in en.html


@pytest.mark.parametrize("kind", INBOX_KINDS)
def test_every_inbox_message_has_a_title_and_a_plain_text_body_in_both_languages(kind: str) -> None:
    for lang in ("pl", "en"):
        note = domain.render_inbox(kind, lang, **CONTEXTS[kind])
        assert note.kind == kind and note.title and "\n" not in note.title
        assert note.body.strip() and "<" not in note.body


def test_template_files_exist_for_every_part_and_language() -> None:
    for template in CONTEXTS:
        for lang in ("pl", "en"):
            for part in ("subject", "txt", "html"):
                assert (TEMPLATES / f"{template}.{lang}.{part}").is_file()
    for kind in INBOX_KINDS:
        for lang in ("pl", "en"):
            assert (TEMPLATES / f"{kind}.{lang}.inbox.txt").is_file()


def test_verification_and_email_change_say_different_things() -> None:
    registration = domain.render_email("email_verification", "pl", **CONTEXTS["email_verification"])
    change = domain.render_email("email_change", "pl", **CONTEXTS["email_change"])
    assert "potwierdź adres" in registration.subject and "nowy adres" in change.subject


def test_unknown_language_falls_back_to_polish() -> None:
    email = domain.render_email("password_reset", "de", **CONTEXTS["password_reset"])
    assert email.subject == "IBOK: ustaw nowe hasło"


@pytest.mark.parametrize(
    ("template", "field"),
    [
        ("announcement", "body"),
        ("complaint_outcome", "outcome_text"),
        ("complaint_information_requested", "question"),
    ],
)
def test_staff_text_is_escaped_in_html_and_kept_as_written_in_plain_text(
    template: str, field: str
) -> None:
    hostile = 'Zobacz <script>alert("x")</script>\n<a href="http://evil">tu</a>'
    email = domain.render_email(template, "pl", **(CONTEXTS[template] | {field: hostile}))
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert 'href="http://evil"' not in email.html
    assert hostile in email.text


def test_staff_text_keeps_its_paragraphs_and_lines_in_html() -> None:
    html = domain.paragraphs("Pierwszy akapit\ndruga linia\n\nDrugi akapit")
    assert html == "<p>Pierwszy akapit<br>\ndruga linia</p>\n<p>Drugi akapit</p>"


def test_a_subject_is_one_line_even_if_the_text_had_line_breaks() -> None:
    email = domain.render_email(
        "announcement", "pl", **(CONTEXTS["announcement"] | {"title": "A\r\nBcc: x@y"})
    )
    assert email.subject == "IBOK: A Bcc: x@y"


def test_dates_and_volumes_follow_the_language() -> None:
    assert domain.format_date(date(2026, 5, 1), "pl") == "01.05.2026"
    assert domain.format_date(date(2026, 5, 1), "en") == "1 May 2026"
    assert domain.format_volume(Decimal("12.5"), "pl") == "12,500"
    assert domain.format_volume(Decimal("12.5"), "en") == "12.500"


def test_inbox_for_a_rejected_complaint_says_so_in_the_title() -> None:
    note = domain.render_inbox(
        "complaint_outcome", "pl", **(CONTEXTS["complaint_outcome"] | {"outcome": "rejected"})
    )
    assert note.title == "Reklamacja „Faktura FV/1” nieuwzględniona"
    assert "Korekta wystawiona." in note.body
