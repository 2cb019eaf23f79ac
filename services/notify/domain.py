"""What an email says: rendering from templates, and the retry rules of delivery. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(template: str, language: str, **context: Any) -> RenderedEmail:
    """Templates are ``<name>.<lang>.{subject,txt,html}``; Polish when the language has none."""
    lang = language if language in ("pl", "en") else "pl"
    subject = _templates.get_template(f"{template}.{lang}.subject").render(**context).strip()
    text = _templates.get_template(f"{template}.{lang}.txt").render(**context)
    html = _templates.get_template(f"{template}.{lang}.html").render(**context)
    return RenderedEmail(subject, text, html)


MAX_ATTEMPTS = 8


def retry_delay(attempt: int) -> timedelta:
    """Backoff after a temporary failure: 5 s, 10 s, 20 s ... capped at 30 minutes."""
    return timedelta(seconds=min(5 * 2 ** max(attempt - 1, 0), 1800))


def is_permanent_smtp_failure(code: int | None) -> bool:
    """5xx answers are final (RFC 5321); 4xx and connection trouble are worth retrying."""
    return code is not None and 500 <= code < 600
