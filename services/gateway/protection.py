"""Edge protection's parts: security headers, rate rules, CSRF tokens and the refusals (429, 403).

The middleware that applies them to every request is services/gateway/edge.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
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
# The API reference (/schema): Swagger UI's files come from the gateway itself
# (services/gateway/api_reference); its pages show no personal data but may call the API.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


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


async def send_problem(
    send: Send,
    status: int,
    code: str,
    detail: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """A problem answered by the edge itself, before any route (RFC 9457, in Polish)."""
    body = json.dumps(
        {
            "type": f"https://ibok.example/problems/{code}",
            "title": code.replace("_", " "),
            "status": status,
            "code": code,
            "detail": detail,
        }
    ).encode()
    start: Any = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def too_many(send: Send, retry_after: float) -> None:
    await send_problem(
        send,
        429,
        "too_many_requests",
        "Zbyt wiele żądań. Spróbuj później.",
        [(b"retry-after", str(int(retry_after)).encode())],
    )


CUSTOMER_COOKIE = "ibok_session"
STAFF_COOKIE = "ibok_staff_session"
CSRF_COOKIE = "ibok_csrf"
STAFF_CSRF_COOKIE = "ibok_staff_csrf"
# Each session cookie's CSRF token cookie: a customer and a staff session in one browser each
# keep their own token, and each is cleared with its session.
CSRF_COOKIES = {CUSTOMER_COOKIE: CSRF_COOKIE, STAFF_COOKIE: STAFF_CSRF_COOKIE}
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Anonymous steps (no session yet): no session token to check; the cross-site check and the
# JSON-only rule of the edge protect them.
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
    """The CSRF token (header and script-readable cookie) of a session cookie being set, or the
    token cookie's deletion when the session cookie is being cleared (logout)."""
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name.lower() != b"set-cookie":
            continue
        text = value.decode("latin-1")
        key, _, rest = text.partition("=")
        csrf_cookie = CSRF_COOKIES.get(key)
        if csrf_cookie is None:
            continue
        session = rest.split(";", 1)[0].strip('"')
        secure = "; Secure" if "secure" in text.lower() else ""
        if not session:
            out.append(
                (
                    b"set-cookie",
                    f"{csrf_cookie}=; Max-Age=0; Path=/; SameSite=Strict{secure}".encode(),
                )
            )
            continue
        token = csrf_token_for(session)
        out.append((CSRF_HEADER.encode(), token.encode()))
        out.append(
            (b"set-cookie", f"{csrf_cookie}={token}; Path=/; SameSite=Strict{secure}".encode())
        )
    return out


async def refuse_csrf(send: Send) -> None:
    await send_problem(
        send,
        403,
        "csrf_token_invalid",
        "Brak lub nieprawidłowy token CSRF (nagłówek X-CSRF-Token).",
    )


async def refuse_cross_site(send: Send) -> None:
    await send_problem(
        send,
        403,
        "cross_site_request",
        "Żądanie wysłane z innej witryny zostało odrzucone.",
    )


async def refuse_media_type(send: Send) -> None:
    await send_problem(
        send,
        415,
        "unsupported_media_type",
        "Treść żądania musi być w formacie JSON (Content-Type: application/json).",
    )


async def refuse_characters(send: Send) -> None:
    await send_problem(
        send,
        400,
        "invalid_characters",
        "Żądanie zawiera niedozwolone znaki sterujące.",
    )
