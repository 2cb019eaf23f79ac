"""A lean HTTP/1.1 keep-alive client for tests that send thousands of requests.

httpx spent 5.5 ms of CPU per request in tests/faults/test_readings_killed.py on the 2-core
machine, more than the gateway it was testing (2.8 ms), and the processes under test share
those cores. This client does only what such a test needs: one connection, one request at a
time, JSON bodies, answers with Content-Length (what the gateway sends). A connection the
server closed, or one that failed, is opened again on the next request.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class ConnectionLost(Exception):
    """The connection ended before a whole answer arrived."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


class KeepAliveClient:
    def __init__(self, base_url: str, headers: dict[str, str], *, timeout: float = 30) -> None:
        url = urlsplit(base_url)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 80
        self._head = "".join(
            f"{name}: {value}\r\n" for name, value in {"Host": url.netloc, **headers}.items()
        )
        self._timeout = timeout
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post_json(self, path: str, payload: Any) -> Answer:
        body = json.dumps(payload).encode()
        request = (
            f"POST {path} HTTP/1.1\r\n{self._head}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        try:
            async with asyncio.timeout(self._timeout):
                return await self._exchange(request)
        except BaseException:
            self._drop()  # the connection is in an unknown state: start afresh
            raise

    async def _exchange(self, request: bytes) -> Answer:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        writer.write(request)
        await writer.drain()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise ConnectionLost("the server closed the connection") from exc
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        assert "content-length" in headers, f"an answer without Content-Length: {headers}"
        body = await reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            self._drop()
        return Answer(status, body)

    def _drop(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None

    async def close(self) -> None:
        self._drop()
