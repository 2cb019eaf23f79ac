"""The gateway's edge: one ASGI middleware for what every request passes through.

It wraps the whole application, routing included (``wrap_edge``), so unmatched paths pass too.
In order: the client's address (forwarded headers only from trusted proxies), the correlation
id (taken from ``X-Correlation-ID`` or made), control characters in the path, query or headers
(400), maintenance (503, R6), rate limits (429), cross-site state changes (403), API bodies
that are not JSON (415), CSRF on cookie-authenticated state changes (403), control characters
in JSON or form bodies (400); then, on the way out, the correlation id, the security headers,
the CSRF token when a session cookie is set (its deletion when one is cleared), one
``http.request`` log line and the request metrics. One middleware reads the request headers
once and wraps ``send`` once; five separate ones (as the gateway had) cost the busiest route a
fifth of its time.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Sequence
from typing import Any

from litestar import Litestar
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from prometheus_client import Counter, Histogram

from runtime.logs import bind_correlation_id, get_logger
from services.gateway.forwarded import ProxyTrust
from services.gateway.input_checks import (
    form_refused,
    header_refused,
    json_refused,
    path_or_query_refused,
)
from services.gateway.limits import SlidingWindowLimiter
from services.gateway.maintenance import OPEN_PREFIXES, MaintenanceWatch, unavailable
from services.gateway.protection import (
    API_CSP,
    CSRF_EXEMPT,
    CSRF_HEADER,
    CUSTOMER_COOKIE,
    DOCS_CSP,
    PAGE_CSP,
    STAFF_COOKIE,
    UNSAFE_METHODS,
    RateRule,
    csrf_token_for,
    refuse_characters,
    refuse_cross_site,
    refuse_csrf,
    refuse_media_type,
    security_headers,
    token_headers,
    too_many,
)

log = get_logger(__name__)

REQUESTS = Counter(
    "ibok_gateway_requests_total",
    "HTTP requests answered by the gateway",
    ["method", "path", "status_code"],
)
DURATION = Histogram(
    "ibok_gateway_request_duration_seconds",
    "Time from the request's arrival to the end of its answer",
    ["method", "path", "status_code"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
_UNMATCHED = "unmatched"  # a path no route knows: one label value, not one per path tried
_QUIET = ("/health", "/metrics")
_READ = frozenset(
    {
        b"x-correlation-id",
        CSRF_HEADER.encode(),
        b"cookie",
        b"content-type",
        b"origin",
        b"host",
        b"sec-fetch-site",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"forwarded",
    }
)


class _Metrics:
    """The labelled children, looked up once per (method, route, status) and kept."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        key = (method, path, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, path, str(status))
            children = self._children[key] = (
                REQUESTS.labels(*labels),
                DURATION.labels(*labels),
            )
        children[0].inc()
        children[1].observe(seconds)


def _headers_by_kind(hsts: bool) -> dict[str, list[tuple[bytes, bytes]]]:
    base = security_headers(hsts=hsts)
    return {
        "schema": [*base, (b"content-security-policy", DOCS_CSP.encode())],
        "api": [
            *base,
            (b"content-security-policy", API_CSP.encode()),
            (b"cache-control", b"no-store"),
        ],
        "page": [*base, (b"content-security-policy", PAGE_CSP.encode())],
    }


def _kind(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/schema"):
        return "schema"
    return "page"


def edge_middleware(
    *,
    always_hsts: bool,
    rules: Sequence[RateRule],
    watch_of: Callable[[Scope], MaintenanceWatch | None],
    proxies: ProxyTrust,
    public_origin: str,
    max_body: int,
) -> Callable[[ASGIApp], ASGIApp]:
    """The edge around the whole application (``wrap_edge``), so that answers no route matched
    (404, 405, the portal's 404 page) pass through it too."""
    limiters = {rule.name: SlidingWindowLimiter(rule.limit) for rule in rules}
    extra = {hsts: _headers_by_kind(hsts) for hsts in (False, True)}
    metrics = _Metrics()

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            path: str = scope["path"]
            method = str(scope.get("method", ""))
            incoming: dict[bytes, bytes] = {}
            for name, value in scope["headers"]:
                if name in _READ:
                    # Several Cookie headers (HTTP/2 splits them) read as one.
                    known = incoming.get(name)
                    separator = b"; " if name == b"cookie" else b", "
                    incoming[name] = value if known is None else known + separator + value
            peer = (scope.get("client") or ("?", 0))[0]
            client, scheme = proxies.client_of(peer, incoming)
            if client != peer:
                scope["client"] = (client, 0)
            if scheme:
                scope["scheme"] = scheme
            cid_in = incoming.get(b"x-correlation-id", b"").decode("latin-1")
            cid = bind_correlation_id(cid_in if cid_in.replace("-", "").isalnum() else None)
            hsts = always_hsts or scope.get("scheme") == "https"
            added = extra[hsts][_kind(path)]
            status = 500

            async def send_out(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", []))
                    present = {name.lower() for name, _ in headers}
                    headers.extend(h for h in added if h[0] not in present)
                    headers.append((b"x-correlation-id", cid.encode()))
                    if b"set-cookie" in present:
                        headers.extend(token_headers(headers))
                    message["headers"] = headers
                await send(message)

            try:
                if path_or_query_refused(path, scope.get("query_string", b"")) or header_refused(
                    scope["headers"]
                ):
                    await refuse_characters(send_out)
                    return
                watch = watch_of(scope)
                if watch is not None and watch.state.on and not path.startswith(OPEN_PREFIXES):
                    await unavailable(scope, send_out, watch)
                    return
                for rule in rules:
                    if rule.applies(method, path):
                        retry_after = limiters[rule.name].hit(
                            f"{rule.name}:{client}", time.monotonic()
                        )
                        if retry_after:
                            await too_many(send_out, retry_after)
                            return
                if method in UNSAFE_METHODS:
                    if _cross_site(scope, incoming, public_origin):
                        await refuse_cross_site(send_out)
                        return
                    media = _media_type(incoming)
                    api = path.startswith("/api/")
                    if api and media not in ("", "application/json"):
                        await refuse_media_type(send_out)
                        return
                    if api and not path.startswith(CSRF_EXEMPT) and not _csrf_ok(path, incoming):
                        await refuse_csrf(send_out)
                        return
                    if media in _CHECKED_BODIES:
                        receive, refused = await _checked_body(receive, media, max_body)
                        if refused:
                            await refuse_characters(send_out)
                            return
                await app(scope, receive, send_out)
            finally:
                if not path.startswith(_QUIET):
                    seconds = time.perf_counter() - started
                    metrics.observe(
                        method, scope.get("path_template") or _UNMATCHED, status, seconds
                    )
                    log.info(
                        "http.request",
                        method=method,
                        path=path,
                        status=status,
                        duration_ms=round(seconds * 1000, 1),
                    )

        return middleware

    return factory


def wrap_edge(app: Litestar, edge: Callable[[ASGIApp], ASGIApp]) -> Litestar:
    """Put ``edge`` around everything Litestar answers, routing and its 404/405 included.

    Litestar's own middleware wraps each route's handler, so an unmatched path never meets it;
    its ``asgi_handler`` is the one entry every request passes (after ``scope["app"]`` is set).
    """
    app.asgi_handler = edge(app.asgi_handler)
    return app


_CHECKED_BODIES = ("application/json", "application/x-www-form-urlencoded")


def _media_type(incoming: dict[bytes, bytes]) -> str:
    """The request body's media type, lower-case, without parameters ("" without a body type)."""
    raw = incoming.get(b"content-type", b"").decode("latin-1")
    return raw.split(";", 1)[0].strip().lower()


def _cross_site(scope: Scope, incoming: dict[bytes, bytes], public_origin: str) -> bool:
    """A state change a browser sent from another site: its Origin is neither the public
    address nor the address the browser asked for, or Sec-Fetch-Site says it is cross-site.
    Clients that are not browsers send neither header and pass."""
    fetch_site = incoming.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
    if fetch_site in ("cross-site", "same-site"):
        return True
    origin = incoming.get(b"origin", b"").decode("latin-1").strip().lower()
    if not origin:
        return False
    host = incoming.get(b"host", b"").decode("latin-1").strip().lower()
    own = f"{scope.get('scheme', 'http')}://{host}"
    return origin not in (public_origin, own)


async def _checked_body(receive: Receive, media: str, max_body: int) -> tuple[Receive, bool]:
    """Read the body (up to ``max_body``; beyond it the route answers 413 as it reads on) and
    check it for control characters; then hand the route a ``receive`` that replays it."""
    messages: list[ReceiveMessage] = []
    body = b""
    more = True
    while more:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        more = bool(message.get("more_body", False))
        if len(body) > max_body:
            break
    complete = not more and len(body) <= max_body
    if complete:
        refused = json_refused(body) if media == "application/json" else form_refused(body)
        if refused:
            return receive, True

    async def replay() -> ReceiveMessage:
        if messages:
            return messages.pop(0)
        return await receive()

    return replay, False


def _csrf_ok(path: str, incoming: dict[bytes, bytes]) -> bool:
    """A state change that carries a session cookie must carry that session's CSRF token."""
    wanted = STAFF_COOKIE if path.startswith("/api/v1/staff/") else CUSTOMER_COOKIE
    session = _cookie(incoming.get(b"cookie", b"").decode("latin-1"), wanted)
    if not session:
        return True
    given = incoming.get(CSRF_HEADER.encode(), b"").decode("latin-1")
    return hmac.compare_digest(given, csrf_token_for(session))


def _cookie(header: str, wanted: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == wanted:
            return value
    return ""
