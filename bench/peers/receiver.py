"""A minimal webhook receiver for benchmarks: HTTP/1.1 keep-alive on several ports, answering
every POST with 204 at once, verifying nothing (the tests verify signatures; here the receiver
must cost as little as possible, since it shares the load core with Redis and the load
generator). A GET answers how many POSTs that port has received.

    python -m bench.peers.receiver PORT [PORT ...]
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
COUNTS: dict[int, int] = {}


class Receiver(asyncio.Protocol):
    def __init__(self, port: int) -> None:
        self.port = port

    def connection_made(self, transport: Any) -> None:  # (uvloop's is no asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = 0
            if at >= 0:
                line_end = head.find(b"\r\n", at)
                length = int(head[at + 15 : line_end if line_end >= 0 else None])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            if head.startswith(b"get "):
                count = str(COUNTS.get(self.port, 0)).encode()
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(count), count)
                )
                continue
            COUNTS[self.port] = COUNTS.get(self.port, 0) + 1
            self.transport.write(ANSWER)


async def main(ports: list[int]) -> None:
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(lambda p=p: Receiver(p), "127.0.0.1", p)  # type: ignore[misc]
        for p in ports
    ]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main([int(p) for p in sys.argv[1:]]))
