"""How uvicorn serves orderlog: the connection bounds it lacks on its own.

uvicorn limits concurrency (``limit_concurrency``: a 503 once a request's headers are in) and
idle keep-alive time, but it has no timeout for a request's headers: a client that connects and
trickles one header byte every few seconds (slowloris) holds its connection forever, and enough
of them exhaust file descriptors. ``GuardedHttpToolsProtocol`` adds

- a header timeout, armed when a connection opens and when each request begins, disarmed when
  its headers are complete (a WebSocket handshake is a request: it is bounded the same way);
- a bound on header size (``MAX_HEADER_BYTES``: 431 past it; httptools has none);
- a hard bound on open connections: past ``limit_concurrency`` a new connection is answered
  503 and closed at once, before it costs a parser or a task;
- a response head the app made itself (``CHECKED_HEAD``: the hot routes' answers) written as
  it is: uvicorn checks each header of each response with two regular expressions and a
  lower() (~0.5 us a header, a create's answer has 13);
- one write per response: uvicorn writes a response's head and its body with a system call
  each; the cycle writes through ``OneWrite``, which holds them until the response is complete
  (or until the end of the loop iteration, for a streamed answer) and sends them together.

``WebSocketsProtocol`` is uvicorn's own WebSocket protocol, told that a handshake refused with an
HTTP answer (401, 403, 422: Starlette's ``send_denial_response``) is over, so it no longer logs
each refusal as an ERROR. It also offers the app its connection under ``DIRECT`` in the scope:
data frames serialized once for many sockets (``text_frames``) are written as they are, from
the hub's fan-out, without an ASGI send per socket (http/live.py).

``uvicorn_options(settings)`` is what ``cli.serve`` and the tests' ``running_server`` pass to
uvicorn, so both serve with the same bounds.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import re
import socket
from typing import Any

import orjson
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import (  # uvicorn[standard]
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from orderlog.settings import Settings


def _raw_response(status: int, reason: str, message: str, extra: bytes = b"") -> bytes:
    """A whole HTTP/1.1 error response that closes the connection, in the usual error body."""
    body = orjson.dumps({"error": reason, "statusCode": status, "message": message})
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"connection: close\r\ncontent-length: {len(body)}\r\n"
    ).encode()
    return head + extra + b"\r\n" + body


BUSY = _raw_response(
    503, "Service Unavailable", "Too many connections; retry.", b"retry-after: 1\r\n"
)
TIMEOUT = _raw_response(408, "Request Timeout", "The request headers came too slowly.")
# httptools itself accepts headers of any size (a 10 MB header line was answered 200): past this
# many bytes without the end of the headers, the request is refused.
MAX_HEADER_BYTES = 65_536
WS_MAX_MESSAGE = 65_536  # a WebSocket message from a client past this closes it with 1009
TOO_LARGE = _raw_response(
    431,
    "Request Header Fields Too Large",
    f"Request headers are limited to {MAX_HEADER_BYTES} bytes.",
)


class OneWrite:
    """What a response cycle writes to: its writes wait and leave in one system call, when the
    response is complete (``flush``, from the protocol), at the end of the loop iteration (a
    streamed answer, the interim 100 Continue) or before the connection is closed."""

    __slots__ = ("_loop", "_pending", "_scheduled", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes) -> None:
        self._pending.append(data)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._later)

    def _later(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            if not self.transport.is_closing():
                self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()


# A response start message with this key set to True: its headers were made by orderlog itself
# (names lower-case tokens, values constants or numbers, a content-length among them), so the
# cycle writes them without checking each one again (http/hot.py marks the write routes' answers).
CHECKED_HEAD = "orderlog.checked_head"


class Cycle(RequestResponseCycle):
    """uvicorn's request-response cycle, writing a ``CHECKED_HEAD`` response start as it is.
    Anything else (and a checked head while uvicorn's own access log is on, or while writing is
    paused) takes uvicorn's path."""

    async def send(self, message: ASGISendEvent) -> None:
        if (
            message.get(CHECKED_HEAD) is True
            and not self.response_started
            and not self.access_log
            and not self.flow.write_paused
            and not self.disconnected
        ):
            self._start(message)
            return
        await super().send(message)

    def _start(self, message: Any) -> None:
        self.response_started = True
        self.waiting_for_100_continue = False
        content = [STATUS_LINE[message["status"]], _default_head(self.default_headers)]
        for name, value in message["headers"]:
            if name == b"content-length":
                self.expected_content_length = int(value)
                self.chunked_encoding = False
            content += (name, b": ", value, b"\r\n")
        if self.chunked_encoding is not False:
            raise RuntimeError("A checked response head must carry its content-length.")
        if not self.keep_alive:
            content.append(b"connection: close\r\n")
        content.append(b"\r\n")
        self.transport.write(b"".join(content))


_default: tuple[object, bytes] = (None, b"")


def _default_head(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The server's default header lines (``date``, ``server``, ``--header`` ones), checked and
    encoded as uvicorn would, once per list (uvicorn makes a new one each second for the date)."""
    global _default
    if _default[0] is not headers:
        lines: list[bytes] = []
        for name, value in headers:
            if HEADER_RE.search(name) or HEADER_VALUE_RE.search(value):
                raise RuntimeError("Invalid HTTP header.")
            lines += (name.lower(), b": ", value, b"\r\n")
        _default = (headers, b"".join(lines))
    return _default[1]


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout, a hard connection bound and one
    write per response.

    The header timeout and uvicorn's keep-alive timeout share one lazy timer per connection.
    uvicorn arms a timer after each response and cancels it when the next request comes (and a
    header timer would be another): ~1.7 us to arm and cancel each, twice a request. Here a
    connection notes when its current request's headers began (``_header_started``) or when it
    fell idle (``_idle_since``), and its one timer looks every ``_period`` seconds at most (the
    shorter timeout): a deadline noted while the timer is pending is never earlier than the
    timer (each timeout is at least ``_period``), so none is missed. A look with nothing due
    arms it again for what remains; with nothing pending it is not armed again.
    """

    def __init__(self, *args: Any, header_timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._period = max(0.05, min(header_timeout, self.timeout_keep_alive))
        self._watch: asyncio.TimerHandle | None = None
        self._header_started: float | None = None  # loop time the unfinished headers began
        self._idle_since: float | None = None  # loop time the last response completed
        self._header_bytes = 0  # received since the current request began, headers unfinished
        self._one_write: OneWrite | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._one_write = OneWrite(transport, self.loop)
        limit = self.limit_concurrency
        if limit is not None and len(self.connections) > limit:
            transport.write(BUSY)
            transport.close()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watching()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._idle_since = None  # (uvicorn's keep-alive timeout ends with any data)
        if self._header_started is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first bytes of a request on a kept-alive connection
        if self._header_started is not None:  # headers unfinished: count their bytes
            end = data.find(b"\r\n\r\n")
            self._header_bytes += len(data) if end < 0 else end + 4
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(TOO_LARGE)
                return
        super().data_received(data)

    def handle_websocket_upgrade(self) -> None:
        self._stop_watching()  # the WebSocket protocol bounds the connection from here
        super().handle_websocket_upgrade()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._header_started = None
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport and self._one_write:
            cycle.transport = self._one_write  # type: ignore[assignment]
            # uvicorn makes its own class of cycle; ours adds a method only (no state)
            cycle.__class__ = Cycle

    def _arm(self) -> None:
        if self._header_started is None:
            self._header_bytes = 0
            self._header_started = self.loop.time()
            if self._watch is None:
                self._watch = self.loop.call_later(self._period, self._look)

    def _look(self) -> None:
        self._watch = None
        now = self.loop.time()
        if self._header_started is not None:
            left = self.header_timeout - (now - self._header_started)
            if left <= 0:
                self._too_slow()
                return
        elif self._idle_since is not None:
            left = self.timeout_keep_alive - (now - self._idle_since)
            if left <= 0:
                self._idle_since = None
                self.timeout_keep_alive_handler()  # uvicorn's: closes the idle connection
                return
        else:
            return  # nothing pending: armed again when something is
        self._watch = self.loop.call_later(min(left, self._period), self._look)

    def _stop_watching(self) -> None:
        self._header_started = self._idle_since = None
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def _too_slow(self) -> None:
        if self._header_bytes == 0:
            # Not one byte of a request: an idle connection (a client's pool opened it ahead),
            # not a slow sender. Close it quietly, as an expired keep-alive: a 408 here would
            # reach a client that then sends its next request on it and reads a stale error.
            self._stop_watching()
            self.transport.close()
            return
        self._refuse(TIMEOUT)

    def _refuse(self, response: bytes) -> None:
        self._stop_watching()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()

    def on_response_complete(self) -> None:
        if self._one_write is not None:
            self._one_write.flush()  # the head and the body, in one write
        self._header_started = None
        # uvicorn's own, with its keep-alive timer replaced by the lazy one
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:  # the next pipelined request starts
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:  # idle until the next request: the keep-alive timeout bounds it
            self._idle_since = self.loop.time()
            if self._watch is None:
                self._watch = self.loop.call_later(self._period, self._look)


# The scope key of a WebSocket's own connection (``WebSocketsProtocol``), for ``write_now``.
DIRECT = "orderlog.direct"


def text_frames(payloads: list[bytes]) -> bytes:
    """Server-to-client text frames (unmasked, uncompressed: the same bytes for every socket)
    of ``payloads`` (UTF-8, checked), back to back."""
    out = []
    for payload in payloads:
        payload.decode()  # a text frame carries UTF-8: raises UnicodeDecodeError if not
        out.append(Frame(Opcode.TEXT, payload).serialize(mask=False))
    return b"".join(out)


class WebSocketsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's default WebSocket protocol (``ws="auto"`` picks it when websockets is
    installed), with a refused handshake counted as a complete one.

    Once a denial response's last body part is written, uvicorn 0.54's Sans-I/O protocol has
    closed the connection but leaves ``handshake_complete`` false, so when the app returns it
    logs "ASGI callable returned without completing handshake." at ERROR for every refused key
    (its wsproto protocol marks the handshake complete there). A refusal is an answer, not an
    error: alerting on ERROR lines must not fire on every bad ticket.
    """

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:  # the app's task runs after this returns
            self.scope[DIRECT] = self  # type: ignore[literal-required]

    def can_write_now(self) -> bool:
        """True if data frames written now go out as uvicorn's send would write them: the
        handshake accepted, no close sent or received, the transport open and not paused by
        flow control (its send would wait), no extension (compression) negotiated."""
        return (
            self.handshake_complete
            and self.initial_response is None
            and not self.close_sent
            and not self.disconnected
            and self.writable.is_set()
            and self.conn.state is State.OPEN
            and not self.conn.extensions
            and not self.transport.is_closing()
        )

    def write_now(self, frames: bytes) -> None:
        """Write serialized data frames (``text_frames``); only right after ``can_write_now``."""
        self.transport.write(frames)


# A live connection's ticket travels in its URL (?ticket=); the websockets library logs the
# handshake's request line at debug level through uvicorn's logger, and uvicorn's access log (if
# someone turns it back on) logs the query string: redact both before any handler sees them.
SECRET = re.compile(r"((?:ticket|token|key)=)[^&\s\"']+|\b(olk_[0-9a-f]{12}_)[\w-]+|\bolt_[\w.-]+")


def _redact(match: re.Match[str]) -> str:
    if match.group(1):
        return match.group(1) + "[redacted]"
    return (match.group(2) or "olt_") + "[redacted]"


def redact(text: str) -> str:
    """``text`` with every ticket and key secret replaced by [redacted]."""
    if "olt_" in text or "olk_" in text or "=" in text:
        return SECRET.sub(_redact, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with every ticket and key secret replaced by [redacted]."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_server_logs() -> None:
    """Install RedactSecrets on uvicorn's loggers (idempotent)."""
    for name in ("uvicorn.error", "uvicorn.access", "websockets.server"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


class CannotListen(RuntimeError):
    """The server's address is taken (or not ours to bind)."""

    def __init__(self, host: str, port: int, exc: OSError) -> None:
        self.host = host
        self.port = port
        reason = exc.strerror or str(exc)
        hint = (
            " (another server, perhaps another orderlog, is using it: stop it, or choose another"
            " --port / ORDERLOG_PORT)"
            if exc.errno == errno.EADDRINUSE
            else ""
        )
        super().__init__(f"cannot listen on {host}:{port}: {reason}{hint}")


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound as uvicorn binds it (SO_REUSEADDR, IPv6 when the host has a
    colon), before anything else starts: a taken port fails here, before the embedded Redis
    starts or the first run creates its demo workspace. uvicorn listens on it once the app has
    started (until then a connection is refused, as before uvicorn binds).

    Raises:
        CannotListen: the address is in use or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CannotListen(host, port, exc) from exc
    sock.set_inheritable(True)  # --workers: the worker processes serve the same socket
    return sock


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config``: limits and timeouts."""
    options: dict[str, Any] = {
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keepalive_timeout,
        "h11_max_incomplete_event_size": 16 * 1024,  # headers past 16 KiB: 400 (h11 fallback)
        "ws_max_size": WS_MAX_MESSAGE,
        "ws_per_message_deflate": False,
    }
    # A partial of a module-level class pickles, so it reaches --workers processes too.
    options["http"] = functools.partial(
        GuardedHttpToolsProtocol, header_timeout=settings.header_timeout
    )
    options["ws"] = WebSocketsProtocol
    return options
