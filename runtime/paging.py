"""Keyset pagination shared by every list: an opaque cursor holds the last row's sort key."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from runtime.errors import DomainError

MAX_LIMIT = 100


def encode_cursor(*sort_key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(sort_key, default=str).encode()).decode().rstrip("=")


def invalid_cursor() -> DomainError:
    """The one answer to a cursor this service did not give out. The cursor is an opaque string
    to the client (any string is well-formed), so it is refused as unknown content, 422
    ``invalid_cursor``, not as malformed."""
    return DomainError(
        "invalid_cursor",
        "Nieprawidłowy kursor strony.",
        detail_en="Invalid page cursor.",
        status=422,
    )


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The sort key of the last row of the previous page; None for the first page."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as exc:
        raise invalid_cursor() from exc
    if not isinstance(value, list):
        raise invalid_cursor()
    return value


def cursor_key(cursor: str | None, *parts: Callable[[Any], Any]) -> tuple[Any, ...] | None:
    """The previous page's last sort key, each part read by its parser (``date.fromisoformat``,
    ``UUID``, ``integer``...); None for the first page; ``invalid_cursor`` when it does not fit."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != len(parts):
        raise invalid_cursor()
    try:
        return tuple(read(value) for read, value in zip(parts, key, strict=True))
    except (TypeError, ValueError, AttributeError) as exc:
        raise invalid_cursor() from exc


def integer(value: Any) -> int:
    """A cursor part that must be a JSON integer (not a string, float or boolean)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")
    return value
