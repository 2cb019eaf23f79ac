"""A TCP proxy the tests control, to cut a service off its database or broker and restore it,
to stop forwarding without closing anything (a half-open connection), or to add latency."""

from __future__ import annotations

import asyncio
import threading
from contextlib import suppress


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream; ``cut()`` drops every connection and refuses new ones.

    ``stall()`` stops forwarding in both directions while every connection stays open, as a
    network that silently loses the packets does (nothing is closed, no reset is sent; what
    arrives meanwhile is held, and so is an end of stream); ``resume()`` forwards again.
    ``latency`` seconds are added to every chunk read, each way; what arrives meanwhile is read
    as the next chunk (so a byte waits between one and two ``latency``, and the throughput of a
    connection is bounded, as on a slow link)."""

    def __init__(self, upstream_host: str, upstream_port: int, port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.cut_off = False
        self.latency = 0.0
        self._flowing: asyncio.Event | None = None

    def start(self) -> TcpProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)
        return self

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.close()
            return
        self._writers.add(writer)  # a cut while the upstream connects drops this one too
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self._writers.discard(writer)
            writer.close()
            return
        if self.cut_off or writer.transport.is_closing():
            self._writers.discard(writer)
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        try:
            while data := await reader.read(65536):
                if self.latency:
                    await asyncio.sleep(self.latency)
                await self._flowing.wait()  # returns at once unless stalled
                writer.write(data)
                await writer.drain()
            await self._flowing.wait()  # a stalled proxy holds the end of a stream too
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            with suppress(Exception):
                writer.close()

    def stall(self) -> None:
        assert self._flowing is not None
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def resume(self) -> None:
        assert self._flowing is not None
        self._loop.call_soon_threadsafe(self._flowing.set)

    def cut(self) -> None:
        def drop() -> None:
            self.cut_off = True
            for writer in list(self._writers):
                with suppress(Exception):
                    writer.transport.abort()
            self._writers.clear()

        self._loop.call_soon_threadsafe(drop)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(setattr, self, "cut_off", False)

    def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
