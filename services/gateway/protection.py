"""Edge protection's parts: security headers, rate rules, CSRF tokens and the refusals (429, 403).

The middleware that applies them to every request is services/gateway/edge.py.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar.types import Send

from services.gateway.limits import Limit

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    # The spoken captcha plays in an <audio> player from a data: URI.
    "media-src 'self' data:; "
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


async def too_many(send: Send, retry_after: float) -> None:
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
    "/api/v1/auth/mfa",
    "/api/v1/auth/register",
    "/api/v1/auth/verify-email",
    "/api/v1/auth/password-reset",
    "/api/v1/staff/auth/login",
    "/api/v1/staff/auth/mfa",
)


def csrf_token_for(session_token: str) -> str:
    """The CSRF token of a session: derived from the HttpOnly session id, which a foreign page cannot read."""
    digest = hashlib.sha256(b"ibok-csrf\0" + session_token.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
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


async def refuse_csrf(send: Send) -> None:
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
