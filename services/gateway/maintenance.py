"""Maintenance mode at the gateway (R6): customer routes answer 503 while it is on.

The state lives in the auth service (it survives restarts there). Every gateway process asks
for it at start, follows ``auth.maintenance-changed.v1`` events through a queue of its own, and
asks again every ``poll_seconds`` in case it missed an event while the broker was away.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
from contextlib import suppress
from datetime import UTC, datetime

from litestar.types import Scope, Send

from contracts.maintenance import (
    GET_MAINTENANCE,
    MaintenanceChanged,
    MaintenanceState,
    MaintenanceStateQuery,
)
from runtime.logs import get_logger
from runtime.rpc_client import RpcError
from services.gateway.events import GatewayEvents
from services.gateway.rpc import RpcCaller

log = get_logger(__name__)

# Routes that keep working during maintenance: health and metrics, the API docs, staff.
OPEN_PREFIXES = ("/health", "/metrics", "/schema", "/api/v1/staff/", "/staff", "/static/")


class MaintenanceWatch:
    def __init__(
        self, rpc: RpcCaller, events: GatewayEvents, *, poll_seconds: float = 15.0
    ) -> None:
        self._rpc = rpc
        self._poll = poll_seconds
        self.state = MaintenanceState(on=False)
        self._tasks: list[asyncio.Task[None]] = []
        events.follow(MaintenanceChanged.SCHEMA, self._on_event)

    async def start(self) -> None:
        await self.refresh()
        self._tasks.append(asyncio.create_task(self._poll_forever(), name="maintenance-poll"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    def apply(self, state: MaintenanceState) -> None:
        if state.revision >= self.state.revision:
            if state.on != self.state.on:
                log.info("maintenance.changed", on=state.on, revision=state.revision)
            self.state = state

    async def refresh(self) -> None:
        try:
            self.apply(await self._rpc.call(GET_MAINTENANCE, MaintenanceStateQuery(), timeout=3))
        except RpcError as exc:
            log.warning("maintenance.refresh_failed", error=type(exc).__name__)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            await self.refresh()

    def _on_event(self, body: bytes) -> None:
        self.apply(MaintenanceChanged.model_validate_json(body).state)

    def retry_after(self, now: datetime | None = None) -> int:
        end = self.state.expected_end
        if end is None:
            return 300
        seconds = (end - (now or datetime.now(UTC))).total_seconds()
        return max(60, math.ceil(seconds))


async def unavailable(scope: Scope, send: Send, watch: MaintenanceWatch) -> None:
    english = False
    for name, value in scope["headers"]:
        if name == b"accept-language":
            english = value.decode("latin-1").strip().lower().startswith("en")
    state = watch.state
    detail = (state.message_en or state.message) if english else state.message
    default = "IBOK is under maintenance." if english else "Trwają prace konserwacyjne IBOK."
    body = json.dumps(
        {
            "type": "https://ibok.example/problems/maintenance",
            "title": "maintenance",
            "status": 503,
            "code": "maintenance",
            "detail": detail or default,
            "expected_end": state.expected_end.isoformat() if state.expected_end else None,
        },
        ensure_ascii=False,
    ).encode()
    content_type = b"application/problem+json"
    if not scope["path"].startswith("/api/"):
        # People in a browser get a page, not JSON.
        lang = "en" if english else "pl"
        title = "Maintenance" if english else "Prace konserwacyjne"
        body = (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>IBOK: {title}</title>'
            f"</head><body><main><h1>{title}</h1><p>{html.escape(detail or default)}</p></main></body></html>"
        ).encode()
        content_type = b"text/html; charset=utf-8"
    start: dict[str, object] = {
        "type": "http.response.start",
        "status": 503,
        "headers": [
            (b"content-type", content_type),
            (b"retry-after", str(watch.retry_after()).encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    await send(start)  # type: ignore[arg-type]
    await send({"type": "http.response.body", "body": body, "more_body": False})
