"""Edge protection: security headers on every answer and rate limits on sensitive routes."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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
