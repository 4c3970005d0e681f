"""A small TCP fault proxy for the tests: put it between the server and Redis and break the link.

Modes (switch at any time with ``proxy.mode = ...``; they apply to open connections too):

- ``pass``: forward bytes both ways;
- ``latency``: hold every chunk ``proxy.delay`` seconds before forwarding it;
- ``blackhole``: accept and read, forward nothing (the peer waits forever: a dead route);
- ``reset``: abort every connection with a TCP RST (SO_LINGER 0) and refuse new ones the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.delay = 0.0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def set_mode(self, mode: str, delay: float = 0.0) -> None:
        assert mode in ("pass", "latency", "blackhole", "reset")
        self.mode = mode
        self.delay = delay
        if mode == "reset":
            for w in list(self._writers):
                self._reset(w)

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "reset":
            self._reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._reset(writer)
            return
        self._writers |= {writer, up_writer}
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, writer)),
            asyncio.create_task(self._pump(up_reader, writer, up_writer)),
        ]
        self._tasks.update(pumps)
        for p in pumps:
            p.add_done_callback(self._tasks.discard)

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, src_writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                while self.mode == "blackhole":  # swallow: the peer hears nothing
                    await asyncio.sleep(0.05)
                    data = b""
                if self.mode == "reset":
                    break
                if self.mode == "latency" and self.delay:
                    await asyncio.sleep(self.delay)
                if data:
                    dst.write(data)
                    await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (dst, src_writer):
                self._writers.discard(w)
                if self.mode == "reset":
                    self._reset(w)
                else:
                    w.close()
