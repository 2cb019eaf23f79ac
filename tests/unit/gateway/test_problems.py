"""Problem details speak Polish unless the client puts English first."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway.problems import prefers_english


class FakeRequest:
    def __init__(self, accept_language: str) -> None:
        self.headers = {"accept-language": accept_language} if accept_language else {}


@pytest.mark.parametrize(
    ("header", "english"),
    [
        ("", False),
        ("en", True),
        ("en-GB,en;q=0.9", True),
        ("pl-PL,pl;q=0.9,en;q=0.8", False),
        ("de, en;q=0.5", True),
        ("en;q=0.3, pl;q=0.7", False),
        ("fr", False),
    ],
)
def test_language_follows_accept_language(header: str, english: bool) -> None:
    request: Any = FakeRequest(header)
    assert prefers_english(request) is english


def test_the_invoice_page_billing_writes_is_the_page_the_gateway_documents() -> None:
    """The gateway passes billing's invoice page on unchanged, so the two models must agree."""
    from contracts.billing import InvoicePage as Written
    from services.gateway.schemas.billing import InvoicePage as Documented

    written = Written.model_json_schema()
    documented = Documented.model_json_schema()
    assert written["properties"].keys() == documented["properties"].keys()

    def item(schema: dict[str, Any]) -> dict[str, Any]:
        return schema["$defs"][next(k for k in schema["$defs"] if "Invoice" in k)]["properties"]  # type: ignore[no-any-return]

    assert item(written).keys() == item(documented).keys()
