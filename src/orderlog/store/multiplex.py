"""One pipelined connection per process for the script calls every request makes.

redis-py checks a connection out of its pool for each command and passes it through retry,
observability and timeout layers and an asyncio stream: ~70-90 us of CPU per EVALSHA on the
benchmark machine, more than the rest of a create's own Python work. Redis answers the
commands of one connection in the order they came, so all requests of a process can share
one connection: a call writes its packed command and waits on a future; the replies, parsed
by hiredis as they arrive (many per read under load), resolve the futures in order (~15 us
per call).

- A call waits at most ``timeout``: one timer watches the oldest unanswered call; past it the
  connection is dropped and every call waiting on it fails with ``TimeoutError``, as
  redis-py's socket timeout does (a reply still on its way would land on the wrong call).
- A lost connection fails every call waiting on it with ``ConnectionError``; the next call
  connects again. Nothing is retried: a write whose reply was lost may have been applied.
- A caller cancelled while waiting leaves its reply to be read and dropped, so the replies of
  the others stay in step.
- Error replies become redis-py's exception classes (``NoScriptError``, ``ReadOnlyError``,
  ``OutOfMemoryError``...), parsed by redis-py's own table, so ``client.unavailable`` maps them
  as it maps redis-py's.

Only for a single server reached over TCP or a unix socket without TLS (``Multiplexed.beside``
says None otherwise): a cluster routes each call to its slot's master and TLS needs redis-py's
handshake, so those keep redis-py.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, cast

import hiredis
from redis import exceptions as rx
from redis._parsers.base import BaseParser
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection

from orderlog.store.client import RedisClient

GRACE = 0.01  # s: a second look at an overdue call, after the loop has read its sockets


def pack(args: tuple[Any, ...]) -> bytes:
    """A command in RESP, as redis-py encodes its arguments (UTF-8 text, decimal numbers, floats
    as ``repr``), by hiredis in C (a write's ~40 arguments: ~2 us, not ~6 in Python).

    Raises:
        TypeError: an argument is not str, bytes, int or float (a bool is refused too).
    """
    return hiredis.pack_command(args)  # type: ignore[no-any-return]


class _Link(asyncio.Protocol):
    """One connection: calls waiting in the order they were written, answered in that order."""

    def __init__(self, timeout: float, where: str) -> None:
        self.timeout = timeout
        self.where = where
        # redis-py's table of error codes -> exception classes, as its own hiredis parser uses it
        self.reader = hiredis.Reader(replyError=BaseParser.parse_error)
        self.waiting: collections.deque[tuple[float, asyncio.Future[Any]]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._out: list[bytes] = []  # packed commands not written yet

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.closed or self.transport is None:
            raise rx.ConnectionError(f"Connection to Redis at {self.where} is closed.")
        future = self.loop.create_future()
        now = self.loop.time()
        self.waiting.append((now, future))
        if not self._out:
            self.loop.call_soon(self._flush)
        self._out.append(packed)
        if self._timer is None:
            self._timer = self.loop.call_at(now + self.timeout, self._check)
        return future

    def _flush(self) -> None:
        # The commands of one loop iteration leave in one write: one system call for all the
        # requests that reached Redis in that iteration, not one each.
        out, self._out = self._out, []
        if not self.closed and self.transport is not None:
            self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        try:
            while (reply := self.reader.gets()) is not False:
                _, future = waiting.popleft()
                if not future.done():
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as exc:  # garbage, or a reply nobody asked for
            self.abort(rx.ConnectionError(f"Redis at {self.where} broke the protocol ({exc})."))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(rx.ConnectionError(f"Connection to Redis at {self.where} lost ({exc})."))

    def abort(self, error: Exception) -> None:
        """Drop the connection; every call waiting on it fails with ``error``."""
        self._fail(error)
        if self.transport is not None:
            self.transport.abort()

    def _check(self, overdue_before: bool = False) -> None:
        self._timer = None
        if self.closed or not self.waiting:
            return
        oldest = self.waiting[0][0]
        now = self.loop.time()
        if now - oldest < self.timeout:
            self._timer = self.loop.call_at(oldest + self.timeout, self._check)
        elif overdue_before:
            self.abort(rx.TimeoutError(f"Timeout reading from Redis at {self.where}."))
        else:
            # uvloop runs due timers before it polls the sockets: after a stall of the whole
            # process the reply may be waiting unread. Look again once the loop has polled.
            self._timer = self.loop.call_at(now + GRACE, self._check, True)

    def _fail(self, error: Exception) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self.waiting:
            _, future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)


class Multiplexed:
    """Script calls (and any command that does not block) over one pipelined connection."""

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 6379,
        path: str | None = None,
        username: str | None = None,
        password: str | None = None,
        db: int = 0,
        timeout: float = 2.0,
        connect_timeout: float = 2.0,
    ) -> None:
        self.host, self.port, self.path = host, port, path
        self.username, self.password, self.db = username, password, db
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.where = path or f"{host}:{port}"
        self._link: _Link | None = None
        self._connecting: asyncio.Future[_Link] | None = None

    @classmethod
    def beside(cls, redis: RedisClient) -> Multiplexed | None:
        """One for the server and credentials of ``redis`` (a client from ``make_redis``), or
        None where it cannot stand in for redis-py (a cluster, TLS)."""
        if not isinstance(redis, Redis):
            return None
        pool = redis.connection_pool
        if pool.connection_class not in (Connection, UnixDomainSocketConnection):
            return None
        kw = pool.connection_kwargs
        return cls(
            host=kw.get("host", "localhost"),
            port=int(kw.get("port", 6379)),
            path=kw.get("path") if pool.connection_class is UnixDomainSocketConnection else None,
            username=kw.get("username"),
            password=kw.get("password"),
            db=int(kw.get("db", 0) or 0),
            timeout=kw.get("socket_timeout") or 2.0,
            connect_timeout=kw.get("socket_connect_timeout") or 2.0,
        )

    async def execute(self, *args: Any) -> Any:
        """One command's reply (bytes, ints, lists, as redis-py's clients here answer).

        Raises:
            ConnectionError, TimeoutError: Redis is away or too slow (nothing is retried).
            RedisError: Redis answered an error (as redis-py raises it: ResponseError,
                NoScriptError, AuthenticationError...).
        """
        link = self._link
        if link is None or link.closed:
            link = await self._connect()
        reply = await link.send(pack(args))
        if isinstance(reply, rx.RedisError):
            raise reply
        return reply

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        return await self.execute("EVALSHA", sha, numkeys, *keys_and_args)

    async def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Any:
        return await self.execute("EVAL", script, numkeys, *keys_and_args)

    async def aclose(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._link is not None and self._link.transport is not None:
            self._link.abort(rx.ConnectionError("The connection was closed by orderlog."))
        self._link = None

    async def _connect(self) -> _Link:
        # Callers arriving while a connection is being made share it; one of them being
        # cancelled does not cancel it for the others.
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._open())
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _Link:
        loop = asyncio.get_running_loop()
        link = _Link(self.timeout, self.where)
        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.path is not None:
                    await loop.create_unix_connection(lambda: link, self.path)
                else:
                    await loop.create_connection(lambda: link, self.host, self.port)
                hello = []
                if self.password is not None:
                    auth = ("AUTH", self.username, self.password) if self.username else None
                    hello.append(link.send(pack(auth or ("AUTH", self.password))))
                if self.db:
                    hello.append(link.send(pack(("SELECT", self.db))))
                for reply in await asyncio.gather(*hello):
                    if isinstance(reply, rx.RedisError):
                        raise reply
        except TimeoutError as exc:  # the builtin one, from asyncio.timeout
            link.abort(rx.ConnectionError("connect timed out"))
            raise rx.TimeoutError(f"Timeout connecting to Redis at {self.where}.") from exc
        except OSError as exc:
            link.abort(rx.ConnectionError(str(exc)))
            raise rx.ConnectionError(f"Error connecting to Redis at {self.where}: {exc}") from exc
        except BaseException:
            link.abort(rx.ConnectionError("connect failed"))
            raise
        self._link = link
        return link
