"""The API reference's files are the pinned ones (finding 6)."""

from __future__ import annotations

import pytest

from services.gateway import api_reference


def test_the_installed_swagger_ui_files_match_their_pinned_digests() -> None:
    assets = api_reference.load_assets()
    for name, (digest, _) in api_reference.PINNED.items():
        assert assets[name][2] == digest


def test_a_file_that_differs_from_its_pin_stops_the_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pinned = dict(api_reference.PINNED)
    pinned["swagger-ui.css"] = ("sha384-AAAA", "text/css")
    monkeypatch.setattr(api_reference, "PINNED", pinned)
    with pytest.raises(RuntimeError, match="pinned digest"):
        api_reference.load_assets()
