"""The portal's texts: every key the templates use exists in Polish and English; safe redirects."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from services.gateway.portal.catalog import MESSAGES
from services.gateway.portal.i18n import language_of, safe_next, translate
from services.gateway.portal.pages import current_nav

PORTAL = Path(__file__).parents[3] / "services" / "gateway" / "portal"
KEY_IN_TEMPLATE = re.compile(r"""\bt\(\s*["']([\w.]+)["']""")
KEY_IN_CODE = re.compile(r"""(?<!name=)["']((?:[a-z_]+\.)+[a-z_0-9]+)["']""")


def keys_used() -> set[str]:
    used = set()
    for template in (PORTAL / "templates").rglob("*.html"):
        used |= set(KEY_IN_TEMPLATE.findall(template.read_text()))
    return used


def test_every_key_the_templates_use_is_in_the_catalog() -> None:
    used = keys_used()
    assert {key for key in used if not key.endswith(".")} - set(MESSAGES) == set()
    # ``t("source." ~ reading.source)``: the catalog has texts under that prefix.
    for prefix in (key for key in used if key.endswith(".")):
        assert any(known.startswith(prefix) for known in MESSAGES), prefix


def test_every_key_the_page_code_names_is_in_the_catalog() -> None:
    prefixes = {key.split(".")[0] for key in MESSAGES}
    named = set()
    for module in PORTAL.glob("*.py"):
        for key in KEY_IN_CODE.findall(module.read_text()):
            if key.split(".")[0] in prefixes and not key.endswith((".html", ".py")):
                named.add(key)
    assert named - set(MESSAGES) == set()


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_both_languages_have_a_text_with_the_same_placeholders(key: str) -> None:
    polish, english = MESSAGES[key]
    assert polish.strip() and english.strip()
    fields = [
        {name for _, name, _, _ in string.Formatter().parse(text) if name}
        for text in (polish, english)
    ]
    assert fields[0] == fields[1]


def test_polish_is_the_default_and_english_is_chosen_by_the_cookie() -> None:
    assert language_of({}) == "pl"
    assert language_of({"ibok_lang": "en"}) == "en"
    assert language_of({"ibok_lang": "de"}) == "pl"
    assert translate("login.title", "en") == "Log in"
    assert translate("registered.text", "pl", email="a@b.pl").endswith("a@b.pl.")


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/invoices?page=2", "/invoices?page=2"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        (None, "/"),
        ("", "/"),
    ],
)
def test_only_paths_on_this_site_are_followed_after_login(target: str | None, safe: str) -> None:
    assert safe_next(target) == safe


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", "/"),
        ("/meters", "/meters"),
        ("/readings", "/meters"),
        ("/me", "/me"),
        ("/me/contact", "/me"),
        ("/invoices/5b1e0b1c-0000-0000-0000-000000000000", "/invoices"),
        ("/terms", None),
    ],
)
def test_the_menu_marks_the_item_a_page_belongs_to(path: str, current: str | None) -> None:
    items = [("/", "a"), ("/meters", "b"), ("/invoices", "c"), ("/me", "d")]
    assert current_nav(path, items) == current
