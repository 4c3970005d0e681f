"""The HTTP client of webhook deliveries: one POST, safely.

- **Resolved once, checked, pinned.** A host name is resolved (in a small thread pool of its
  own, so a slow resolver never holds up anything else), every address it gives is checked
  (domain/webhooks.py ``address_refusal``: no loopback, private, link-local or metadata
  address unless the operator allows them) and the connection goes to that checked address.
  Nothing is resolved again behind the check, so a name cannot answer once with a public
  address and then with an internal one (DNS rebinding). TLS still verifies the certificate
  against the host name, sent as SNI, and ``Host`` carries the name.
- **No redirects.** A 3xx is an answer like any other failure; nothing is followed.
- **Bounded.** The whole attempt (resolve, connect, TLS, send, answer) has one deadline; the
  answer's headers are bounded by h11 and its body is read up to ``BODY_CAP`` bytes.
- **Nothing secret in errors.** Errors are described from their kind, never from an exception
  message that could hold the URL (a Discord URL holds its token).

HTTP/1.1 is h11 over asyncio streams: the same protocol code uvicorn's HTTP stack is built
on, already a dependency, and about a tenth of the CPU per request of a general-purpose
client (docs/performance.md), which matters when every event goes to several receivers.
A connection is kept alive per webhook (its ``Slot``) and re-resolved every ``MAX_AGE`` s.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import h11

from orderlog import __version__
from orderlog.domain.webhooks import Target, address_refusal, ip_literal

BODY_CAP = 16 * 1024  # bytes of an answer read (kept for the delivery log: less)
MAX_AGE = 300.0  # seconds a kept-alive connection is reused before resolving again
READ_CHUNK = 16 * 1024
USER_AGENT = f"orderlog-webhooks/{__version__}"
RESOLVER_THREADS = 8

Resolve = Callable[[str, int], Awaitable[list[str]]]


class Refused(Exception):
    """The host resolves to an address webhooks may not reach."""


@dataclass
class Reply:
    """What one attempt got: an HTTP status and answer, or an error (then ``status`` is None)."""

    status: int | None
    seconds: float
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    error: str | None = None
    address: str | None = None  # the address the connection went to

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    h11: h11.Connection
    key: tuple[str, str, int]  # scheme, host, port
    address: str
    opened: float
    reusable: bool = True  # False once an answer was cut at the cap

    def close(self) -> None:
        self.reusable = False
        with contextlib.suppress(Exception):
            self.writer.close()


class Slot:
    """The kept-alive connection of one webhook (never shared between webhooks: a connection
    belongs to one host name and one checked address)."""

    def __init__(self) -> None:
        self.conn: Connection | None = None

    def take(self, key: tuple[str, str, int]) -> Connection | None:
        conn, self.conn = self.conn, None
        if conn is None:
            return None
        usable = (
            conn.key == key
            and conn.reusable
            and time.monotonic() - conn.opened < MAX_AGE
            and conn.h11.our_state is h11.IDLE
            and not conn.reader.at_eof()
        )
        if usable:
            return conn
        conn.close()
        return None

    def keep(self, conn: Connection) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Client:
    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        resolve: Resolve | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._pool: ThreadPoolExecutor | None = None
        self.resolve = resolve or self._getaddrinfo

    async def _getaddrinfo(self, host: str, port: int) -> list[str]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="orderlog-dns")
        loop = asyncio.get_running_loop()
        infos = await loop.run_in_executor(
            self._pool,
            lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM),
        )
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def post(
        self,
        target: Target,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        slot: Slot | None = None,
    ) -> Reply:
        """POST ``body`` to ``target``; never raises for what the network or the receiver do."""
        slot = slot or Slot()
        started = time.monotonic()
        key = (target.scheme, target.host, target.port)
        conn: Connection | None = None
        try:
            async with asyncio.timeout(self.timeout):
                conn = slot.take(key)
                reused = conn is not None
                try:
                    if conn is None:
                        conn = await self._connect(target)
                    reply = await self._exchange(conn, target, headers, body)
                except (ConnectionError, h11.RemoteProtocolError, asyncio.IncompleteReadError):
                    if not reused:
                        raise
                    # A kept-alive connection the receiver had closed: once more on a new one.
                    assert conn is not None
                    conn.close()
                    conn = await self._connect(target)
                    reply = await self._exchange(conn, target, headers, body)
        except TimeoutError:
            return self._failed(conn, started, f"timed out after {self.timeout:g} s")
        except Refused as exc:
            return self._failed(conn, started, str(exc))
        except ssl.SSLCertVerificationError as exc:
            return self._failed(conn, started, f"TLS certificate not valid ({exc.verify_message})")
        except ssl.SSLError:
            return self._failed(conn, started, "TLS handshake failed")
        except socket.gaierror:
            return self._failed(conn, started, f"cannot resolve {target.host}")
        except h11.RemoteProtocolError:
            return self._failed(conn, started, "not a valid HTTP answer")
        except ConnectionRefusedError:
            return self._failed(conn, started, "connection refused")
        except (ConnectionError, asyncio.IncompleteReadError):
            return self._failed(conn, started, "the connection was closed before the answer")
        except OSError as exc:
            return self._failed(conn, started, _describe(exc))
        if conn is not None:
            done = conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE
            if conn.reusable and done:
                conn.h11.start_next_cycle()
                slot.keep(conn)
            else:
                conn.close()
        reply.seconds = time.monotonic() - started
        return reply

    def _failed(self, conn: Connection | None, started: float, error: str) -> Reply:
        if conn is not None:
            conn.close()
        return Reply(None, time.monotonic() - started, error=error)

    async def _connect(self, target: Target) -> Connection:
        literal = ip_literal(target.host)
        addresses = [str(literal)] if literal else await self.resolve(target.host, target.port)
        if not addresses:
            raise socket.gaierror(f"no address for {target.host}")
        for address in addresses:  # every address: a name must not mix public and internal
            reason = address_refusal(address, self.allow_private)
            if reason:
                raise Refused(f"refused: {target.host} resolves to {reason}")
        last: OSError | None = None
        for address in addresses:
            try:
                reader, writer = await asyncio.open_connection(
                    address,
                    target.port,
                    ssl=self.ssl_context if target.tls else None,
                    server_hostname=target.host if target.tls and not literal else None,
                )
            except ssl.SSLError:
                raise
            except OSError as exc:
                last = exc
                continue
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return Connection(
                reader,
                writer,
                h11.Connection(h11.CLIENT),
                (target.scheme, target.host, target.port),
                address,
                time.monotonic(),
            )
        assert last is not None
        raise last

    async def _exchange(
        self, conn: Connection, target: Target, headers: Sequence[tuple[str, str]], body: bytes
    ) -> Reply:
        request = h11.Request(
            method="POST",
            target=target.target,
            headers=[
                ("Host", target.host_header),
                ("User-Agent", USER_AGENT),
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                *headers,
            ],
        )
        data = conn.h11.send(request) or b""
        data += conn.h11.send(h11.Data(data=body)) or b""
        data += conn.h11.send(h11.EndOfMessage()) or b""
        conn.writer.write(data)
        await conn.writer.drain()
        status, answer_headers, chunks, size = 0, {}, [], 0
        while True:
            event = conn.h11.next_event()
            if event is h11.NEED_DATA:
                chunk = await conn.reader.read(READ_CHUNK)
                conn.h11.receive_data(chunk)
                if not chunk and conn.h11.their_state is not h11.DONE:
                    raise ConnectionResetError("closed")
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                answer_headers = {
                    name.decode("latin-1").lower(): value.decode("latin-1")
                    for name, value in event.headers
                }
                continue
            if isinstance(event, h11.Data):
                if size < BODY_CAP:
                    chunks.append(bytes(event.data[: BODY_CAP - size]))
                size += len(event.data)
                if size > BODY_CAP:
                    # Past the cap: stop reading; the connection is closed, not drained.
                    conn.close()
                    break
                continue
            if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
        return Reply(status, 0.0, answer_headers, b"".join(chunks), address=conn.address)


def _describe(exc: OSError) -> str:
    code = exc.errno
    if code == errno.ECONNREFUSED:
        return "connection refused"
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "no route to the host"
    if code == errno.ECONNRESET:
        return "connection reset"
    name = errno.errorcode.get(code or 0)
    return f"network error ({name})" if name else "network error"
