"""Session cookies under the ``__Host-`` prefix where cookies are Secure (TLS on).

A ``__Host-`` cookie is accepted by browsers only with Secure, Path=/ and no Domain, and only
from a secure origin: a sibling subdomain or a plain-http page cannot plant or overwrite it
(session fixation, ASVS 5.0 3.3.1). The application keeps its plain names (``ibok_session``,
``ibok_staff_session``); this outermost middleware renames them at the edge: ``Set-Cookie``
on the way out, the ``Cookie`` header on the way in, where a cookie under the plain name is
dropped (it did not come with the prefix's guarantees).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from litestar.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "__Host-"
SESSION_COOKIES = ("ibok_session", "ibok_staff_session")


def outgoing(value: str) -> str:
    """A Set-Cookie value with the session cookie renamed; Secure added (a deletion needs it)."""
    name, sep, rest = value.partition("=")
    if not sep or name.strip() not in SESSION_COOKIES:
        return value
    attributes = [a.strip().lower() for a in rest.split(";")[1:]]
    secure = "" if "secure" in attributes else "; Secure"
    return f"{PREFIX}{name.strip()}={rest}{secure}"


def incoming(header: str) -> str:
    """The Cookie header as the application expects it: prefixed session cookies under their
    plain names, plain-named ones dropped."""
    kept = []
    for pair in header.split(";"):
        name, _, value = pair.strip().partition("=")
        if name in SESSION_COOKIES:
            continue
        if name.startswith(PREFIX) and name[len(PREFIX) :] in SESSION_COOKIES:
            name = name[len(PREFIX) :]
        if name:
            kept.append(f"{name}={value}")
    return "; ".join(kept)


def renamed_headers(
    headers: Iterable[tuple[bytes, bytes]], header: bytes, rename: Callable[[str], str]
) -> list[tuple[bytes, bytes]]:
    return [
        (
            name,
            rename(value.decode("latin-1")).encode("latin-1") if name.lower() == header else value,
        )
        for name, value in headers
    ]


def host_prefix_cookies(enabled: bool) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware factory; ``enabled`` is ``IBOK_COOKIE_SECURE`` (off for local http)."""

    def factory(app: ASGIApp) -> ASGIApp:
        if not enabled:
            return app

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            scope["headers"] = renamed_headers(scope["headers"], b"cookie", incoming)

            async def send_out(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = renamed_headers(
                        message.get("headers", []), b"set-cookie", outgoing
                    )
                await send(message)

            await app(scope, receive, send_out)

        return middleware

    return factory
