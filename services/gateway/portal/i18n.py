"""The portal's two languages: Polish first, English when the person chooses it (a cookie)."""

from __future__ import annotations

from typing import Any, Literal

from services.gateway.portal.catalog import MESSAGES

Lang = Literal["pl", "en"]
LANGUAGES: tuple[Lang, ...] = ("pl", "en")
LANG_COOKIE = "ibok_lang"


def language_of(cookies: dict[str, str]) -> Lang:
    """The language the person chose with the switch; Polish until they choose otherwise."""
    return "en" if cookies.get(LANG_COOKIE) == "en" else "pl"


def translate(key: str, lang: Lang, /, **values: Any) -> str:
    """The catalog text of ``key`` in ``lang``, with ``{name}`` placeholders filled in.

    An unknown key is a programming error, caught by the catalog tests; at run time the key
    itself is shown rather than failing the page.
    """
    texts = MESSAGES.get(key)
    if texts is None:
        return key
    text = texts[0] if lang == "pl" else texts[1]
    return text.format(**values) if values else text


def safe_next(target: str | None, default: str = "/") -> str:
    """Where to go after a login or a language switch: only a path on this site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\r\n\t\\") or len(target) > 300:
        return default
    return target
