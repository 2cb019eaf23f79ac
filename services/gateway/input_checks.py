"""Control characters refused at the edge: in the path, the query, header values, JSON strings
and form fields (pure, no I/O; services/gateway/edge.py answers 400 when one is found).

A NUL reaching PostgreSQL fails the statement (a 500 before this check). Free text may keep
its line breaks and tabs (a complaint's description); nothing else below U+0020, nor DEL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec

# Path, query and header values: no control character at all (tab allowed in header values).
_IN_LINE = re.compile(r"[\x00-\x1f\x7f]")
_IN_LINE_BYTES = re.compile(rb"[\x00-\x1f\x7f]")
_IN_HEADER = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# JSON strings and form fields: line breaks and tabs are text.
_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_IN_TEXT_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def path_or_query_refused(path: str, query: bytes) -> bool:
    if _IN_LINE.search(path):
        return True
    return bool(query) and bool(_IN_LINE_BYTES.search(unquote_to_bytes(query.replace(b"+", b" "))))


def header_refused(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    return any(_IN_HEADER.search(value) for _, value in headers)


def _has_control(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_IN_TEXT.search(value))
    if isinstance(value, dict):
        return any(_has_control(k) or _has_control(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_control(item) for item in value)
    return False


def json_refused(body: bytes) -> bool:
    """A JSON body with a control character in any string (a body that is not JSON at all is
    left to the route, which answers 400 for it)."""
    try:
        return _has_control(msgspec.json.decode(body))
    except msgspec.DecodeError:
        return False


def form_refused(body: bytes) -> bool:
    return bool(_IN_TEXT_BYTES.search(unquote_to_bytes(body.replace(b"+", b" "))))
