"""Edge protection: security headers on every answer and rate limits on sensitive routes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.limits import Limit, SlidingWindowLimiter

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# The interactive API docs page loads its viewer from a CDN; it shows no personal data.
DOCS_CSP = "default-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https:; style-src 'self' 'unsafe-inline' https:; frame-ancestors 'none'"


def security_headers(*, hsts: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    ]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


def security_headers_middleware(*, always_hsts: bool) -> Callable[[ASGIApp], ASGIApp]:
    """Adds the security headers; CSP by kind of page; no caching of personal API answers."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            path: str = scope["path"]
            hsts = always_hsts or scope.get("scheme") == "https"
            extra = security_headers(hsts=hsts)
            if path.startswith("/schema"):
                extra.append((b"content-security-policy", DOCS_CSP.encode()))
            elif path.startswith("/api/"):
                extra.append((b"content-security-policy", API_CSP.encode()))
                extra.append((b"cache-control", b"no-store"))
            else:
                extra.append((b"content-security-policy", PAGE_CSP.encode()))

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    message["headers"] = [
                        *message.get("headers", []),
                        *(h for h in extra if h[0] not in present),
                    ]
                await send(message)

            await app(scope, receive, send_with_headers)

        return middleware

    return factory


@dataclass(frozen=True)
class RateRule:
    """Requests to paths starting with one of ``prefixes`` (and these methods) share one limit per client."""

    name: str
    prefixes: Sequence[str]
    methods: frozenset[str]
    limit: Limit
    suffixes: Sequence[str] = ()

    def applies(self, method: str, path: str) -> bool:
        if method not in self.methods or not path.startswith(tuple(self.prefixes)):
            return False
        return not self.suffixes or path.endswith(tuple(self.suffixes))


def rate_limit_middleware(rules: Sequence[RateRule]) -> Callable[[ASGIApp], ASGIApp]:
    """429 with Retry-After (problem+json) once a client exceeds a rule's limit."""
    limiters = {rule.name: SlidingWindowLimiter(rule.limit) for rule in rules}

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                path, method = scope["path"], str(scope.get("method", ""))
                client = (scope.get("client") or ("?", 0))[0]
                for rule in rules:
                    if rule.applies(method, path):
                        retry_after = limiters[rule.name].hit(
                            f"{rule.name}:{client}", time.monotonic()
                        )
                        if retry_after:
                            await _too_many(send, retry_after)
                            return
            await app(scope, receive, send)

        return middleware

    return factory


async def _too_many(send: Send, retry_after: float) -> None:
    body = (
        b'{"type":"https://ibok.example/problems/too_many_requests","title":"too many requests",'
        b'"status":429,"code":"too_many_requests","detail":"Zbyt wiele \\u017c\\u0105da\\u0144. '
        b'Spr\\u00f3buj p\\u00f3\\u017aniej."}'
    )
    start: Any = {
        "type": "http.response.start",
        "status": 429,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"retry-after", str(int(retry_after)).encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


CUSTOMER_COOKIE = "ibok_session"
STAFF_COOKIE = "ibok_staff_session"
CSRF_COOKIE = "ibok_csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Anonymous steps (no session yet): SameSite=Lax cookies and the absence of a session protect them.
CSRF_EXEMPT = (
    "/api/v1/auth/login",
    "/api/v1/auth/register",
    "/api/v1/auth/verify-email",
    "/api/v1/auth/password-reset",
    "/api/v1/staff/auth/login",
)


def csrf_token_for(session_token: str) -> str:
    """The CSRF token of a session: derived from the HttpOnly session id, which a foreign page cannot read."""
    digest = hashlib.sha256(b"ibok-csrf\0" + session_token.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _cookies(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                found.setdefault(key, val)
    return found


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope["headers"]:
        if name == wanted:
            return value.decode("latin-1")
    return ""


def csrf_middleware(app: ASGIApp) -> ASGIApp:
    """Double-submit protection for cookie-authenticated state changes under /api.

    A POST/PUT/PATCH/DELETE that carries a session cookie must carry ``X-CSRF-Token`` equal to
    the session's token. The token comes with the login answer (header ``X-CSRF-Token`` and a
    script-readable cookie ``ibok_csrf``); this middleware adds both whenever a response sets a
    session cookie, so the login code needs to know nothing about it.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path: str = scope["path"]
        method = str(scope.get("method", ""))
        if (
            method in UNSAFE_METHODS
            and path.startswith("/api/")
            and not path.startswith(CSRF_EXEMPT)
        ):
            cookies = _cookies(scope)
            session = cookies.get(
                STAFF_COOKIE if path.startswith("/api/v1/staff/") else CUSTOMER_COOKIE
            )
            if session and not hmac.compare_digest(
                _header(scope, CSRF_HEADER.encode()), csrf_token_for(session)
            ):
                await _refuse_csrf(send)
                return

        async def send_with_token(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *_token_headers(message.get("headers", [])),
                ]
            await send(message)

        await app(scope, receive, send_with_token)

    return middleware


def _token_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    for name, value in headers:
        if name.lower() != b"set-cookie":
            continue
        text = value.decode("latin-1")
        key, _, rest = text.partition("=")
        if key in (CUSTOMER_COOKIE, STAFF_COOKIE):
            session = rest.split(";", 1)[0].strip('"')
            if not session:
                return []
            token = csrf_token_for(session)
            secure = "; Secure" if "secure" in text.lower() else ""
            return [
                (CSRF_HEADER.encode(), token.encode()),
                (b"set-cookie", f"{CSRF_COOKIE}={token}; Path=/; SameSite=Strict{secure}".encode()),
            ]
    return []


async def _refuse_csrf(send: Send) -> None:
    body = (
        b'{"type":"https://ibok.example/problems/csrf_token_invalid","title":"csrf token invalid",'
        b'"status":403,"code":"csrf_token_invalid","detail":"Brak lub nieprawid\\u0142owy token CSRF '
        b'(nag\\u0142\\u00f3wek X-CSRF-Token)."}'
    )
    start: Any = {
        "type": "http.response.start",
        "status": 403,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})
