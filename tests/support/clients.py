"""HTTP clients that behave like the portal's pages: they send the session's CSRF token back."""

from __future__ import annotations

from typing import Any

import httpx

STAFF_PREFIX = "/api/v1/staff/"


def gateway_client(base_url: str, **options: Any) -> httpx.AsyncClient:
    """An AsyncClient that remembers the X-CSRF-Token of each login (customer and staff apart)
    and sends the right one with every later request."""
    tokens: dict[str, str] = {}

    def kind(request: httpx.Request) -> str:
        return "staff" if request.url.path.startswith(STAFF_PREFIX) else "customer"

    async def send_token(request: httpx.Request) -> None:
        token = tokens.get(kind(request))
        if token and "x-csrf-token" not in request.headers:
            request.headers["X-CSRF-Token"] = token

    async def remember_token(response: httpx.Response) -> None:
        if token := response.headers.get("x-csrf-token"):
            tokens[kind(response.request)] = token

    options.setdefault("timeout", 15)
    return httpx.AsyncClient(
        base_url=base_url,
        event_hooks={"request": [send_token], "response": [remember_token]},
        **options,
    )
