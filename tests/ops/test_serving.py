"""A response head the app made itself (``CHECKED_HEAD``: the write routes' answers) leaves the
server byte for byte as uvicorn's own cycle writes it, without its per-header checks."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from orderlog.http.middleware import SECURITY_HEADERS
from orderlog.ops import serving
from orderlog.settings import Settings
from orderlog.store.workspaces import WorkspaceStore
from support.api import CUSTOMER
from support.server import Workspace, running_server

DEFAULT = [(b"date", b"Tue, 01 Dec 2026 19:30:00 GMT"), (b"server", b"uvicorn")]
HEADERS = [
    (b"content-length", b"11"),
    (b"content-type", b"application/json"),
    *SECURITY_HEADERS,
    (b"x-ratelimit-limit", b"1000"),
    (b"x-ratelimit-remaining", b"999"),
    (b"x-ratelimit-reset", b"1"),
]


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return None

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def cycle(kind: type[RequestResponseCycle], keep_alive: bool) -> tuple[Any, Transport]:
    transport = Transport()
    made = kind(
        scope={"method": "POST", "http_version": "1.1"},  # type: ignore[typeddict-item]
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=list(DEFAULT),
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=keep_alive,
        on_response=lambda: None,
    )
    return made, transport


async def answer(made: Any, checked: bool) -> None:
    start: dict[str, Any] = {"type": "http.response.start", "status": 201, "headers": HEADERS}
    if checked:
        start[serving.CHECKED_HEAD] = True
    await made.send(start)
    await made.send({"type": "http.response.body", "body": b'{"ok":true}'})


@pytest.mark.parametrize("keep_alive", [True, False])
async def test_serving_checked_head_is_written_as_uvicorn_writes_it(keep_alive: bool) -> None:
    """The same bytes as uvicorn's cycle (a connection not kept alive says so), the cycle's
    state after it alike (complete, connection closed when not kept alive)."""
    theirs, their_transport = cycle(RequestResponseCycle, keep_alive)
    ours, our_transport = cycle(serving.Cycle, keep_alive)
    await answer(theirs, checked=False)
    await answer(ours, checked=True)
    assert our_transport.written == their_transport.written
    head = b"".join(our_transport.written)
    assert head.startswith(b"HTTP/1.1 201 Created\r\ndate: Tue, 01 Dec 2026")
    assert (b"connection: close\r\n" in head) is not keep_alive
    assert ours.response_complete
    assert theirs.response_complete
    assert our_transport.closed is their_transport.closed is (not keep_alive)


async def test_serving_checked_head_without_content_length_is_refused() -> None:
    """A checked head must say its length (the cycle would otherwise not know when the response
    ends); one without is a bug, raised, not a chunked answer."""
    ours, _ = cycle(serving.Cycle, keep_alive=True)
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": HEADERS[1:],
        serving.CHECKED_HEAD: True,
    }
    with pytest.raises(RuntimeError, match="content-length"):
        await ours.send(start)


async def test_serving_unchecked_head_still_checked(settings: Settings) -> None:
    """A head without the mark takes uvicorn's path: a header value with a line break is
    refused there, as before."""
    ours, _ = cycle(serving.Cycle, keep_alive=True)
    bad = {"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1\r\nx-b: 2")]}
    with pytest.raises(RuntimeError, match="Invalid HTTP header value"):
        await ours.send(bad)


async def test_serving_write_answer_over_real_uvicorn(settings: Settings, redis: Any) -> None:
    """A create through the real server: its answer carries the server's date and name, the
    security and rate-limit headers and the right length, on a connection kept alive for the
    next request."""
    ws_id, keys = await WorkspaceStore(redis).create_workspace("Checked heads")
    workspace = Workspace(ws_id, keys)
    async with running_server(settings) as base, httpx.AsyncClient(base_url=base) as http:
        for _ in range(2):
            resp = await http.post(
                f"{workspace.base}/orders",
                json={"customer": CUSTOMER, "items": ["Latte"]},
                headers=workspace.auth("write"),
            )
            assert resp.status_code == 201, resp.text
            assert resp.headers["server"] == "uvicorn"
            assert resp.headers["date"].endswith("GMT")
            assert int(resp.headers["content-length"]) == len(resp.content)
            for name, value in SECURITY_HEADERS:
                assert resp.headers[name.decode()] == value.decode()
            assert int(resp.headers["x-ratelimit-limit"]) > 0
            assert "connection" not in resp.headers


async def test_serving_keep_alive_and_header_timeouts_on_one_lazy_timer(
    settings: Settings,
) -> None:
    """A kept-alive connection idle past the keep-alive timeout is closed (quietly), one used
    more often than that stays open across many requests, and the header timeout still holds
    for a request begun on it (408), with the timers now looked at lazily."""
    bounded = replace(settings, keepalive_timeout=1, header_timeout=1.5)
    async with running_server(bounded) as base:
        host, port = base.removeprefix("http://").split(":")
        request = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"

        async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
            writer.write(request)
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                return head + await reader.readexactly(length)

        # used every 0.4 s for 3 s: never idle for a whole second, never closed
        reader, writer = await asyncio.open_connection(host, int(port))
        for i in range(8):
            if i:
                await asyncio.sleep(0.4)
            assert (await ask(reader, writer)).startswith(b"HTTP/1.1 200")
        # then idle: closed after the keep-alive timeout, without an answer
        idle = time.monotonic()
        async with asyncio.timeout(5):
            assert await reader.read(100) == b""
        assert 0.9 <= time.monotonic() - idle <= 3.0
        writer.close()

        # a request begun after an answer, never finished: 408 at the header timeout
        reader, writer = await asyncio.open_connection(host, int(port))
        assert (await ask(reader, writer)).startswith(b"HTTP/1.1 200")
        writer.write(b"GET /healthz HTTP/1.1\r\nHo")
        begun = time.monotonic()
        async with asyncio.timeout(5):
            answer = await reader.read(200)
        assert answer.startswith(b"HTTP/1.1 408")
        assert 1.4 <= time.monotonic() - begun <= 4.0
        writer.close()
