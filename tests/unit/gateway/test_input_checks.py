"""Control characters refused at the edge; line breaks in free text kept (finding 4)."""

from __future__ import annotations

import pytest

from services.gateway.input_checks import (
    form_refused,
    header_refused,
    json_refused,
    path_or_query_refused,
)


@pytest.mark.parametrize(
    ("path", "query"),
    [("/api/v1/a\x00b", b""), ("/x", b"q=%00"), ("/x", b"q=a%0Ab"), ("/x", b"q=%7F")],
)
def test_control_characters_in_the_path_or_query_are_refused(path: str, query: bytes) -> None:
    assert path_or_query_refused(path, query)


def test_an_ordinary_path_and_query_pass() -> None:
    assert not path_or_query_refused("/api/v1/invoices/FV 1", b"q=Kowalski+Jan&limit=10")


def test_json_strings_keep_line_breaks_and_tabs_but_not_nul_or_escape() -> None:
    assert not json_refused(b'{"description": "one\\r\\ntwo\\tthree"}')
    assert json_refused(b'{"login": "a\\u0000b"}')
    assert json_refused(b'{"nested": [{"x": "\\u001b[31m"}]}')
    assert json_refused(b'{"key\\u0000": 1}')
    assert not json_refused(b"not json at all")  # the route answers 400 for it


def test_form_fields_and_headers() -> None:
    assert form_refused(b"login=a%00b&csrf_token=x")
    assert not form_refused(b"description=line%0D%0Aline")
    assert header_refused([(b"user-agent", b"curl\x01")])
    assert not header_refused([(b"user-agent", b"Mozilla/5.0\t(X11)")])
