"""What every benchmark shares: the C tools built with gcc, processes pinned to cores and
measured from /proc, an embedded Redis, a workspace with keys.

Pinning: the server under test runs on core 0; the load generator and Redis on core 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
BUILD = BENCH / ".build"
SRC = ROOT / "src"
SERVER_CORE = 0
LOAD_CORE = 1 if (os.cpu_count() or 1) > 1 else 0
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def build(name: str) -> Path:
    """bench/<name>.c compiled with the machine's gcc into bench/.build/<name> (if stale)."""
    BUILD.mkdir(exist_ok=True)
    source, binary = BENCH / f"{name}.c", BUILD / name
    newest = max(source.stat().st_mtime, (BENCH / "common.h").stat().st_mtime)
    if not binary.exists() or binary.stat().st_mtime < newest:
        subprocess.run(
            ["gcc", "-O2", "-Wall", "-Wextra", "-o", str(binary), str(source), "-lm"], check=True
        )
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(pid: int, core: int) -> None:
    with contextlib.suppress(OSError):  # a container may forbid it: run unpinned then
        os.sched_setaffinity(pid, {core})


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


@dataclass
class Usage:
    """CPU% and RSS of a process over a measured interval."""

    pid: int
    cpu0: float = 0.0
    t0: float = 0.0

    def start(self) -> None:
        self.cpu0, self.t0 = cpu_seconds(self.pid), time.monotonic()

    def stop(self) -> dict[str, float]:
        cpu = cpu_seconds(self.pid) - self.cpu0
        wall = time.monotonic() - self.t0
        return {
            "cpu_pct": round(100 * cpu / wall, 1),
            "rss_mb": round(rss_bytes(self.pid) / 2**20, 1),
        }


def wait_http(port: int, path: str = "/healthz", timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            if s.recv(64).startswith(b"HTTP/1.1 "):
                return
        time.sleep(0.1)
    raise RuntimeError(f"no server answered on port {port} within {timeout} s")


@contextlib.contextmanager
def process(
    args: Sequence[str], core: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process pinned to ``core``, its output in ``log``; terminated on exit."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=ROOT,
        )
    pin(proc.pid, core)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def redis_server(appendfsync: str = "always") -> Iterator[str]:
    """An embedded redis-server on a free loopback port, pinned to the load core."""
    sys.path.insert(0, str(SRC))
    from orderlog.store.embedded import EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="orderlog-bench-") as tmp:
        redis = EmbeddedRedis(tmp, appendfsync=appendfsync, port=free_port())
        url = redis.start()
        assert redis.process is not None
        pin(redis.process.pid, LOAD_CORE)
        try:
            yield url
        finally:
            redis.stop()


def create_workspace(url: str) -> tuple[str, dict[str, str]]:
    """A fresh workspace and its first keys (raw), made through the store itself."""
    sys.path.insert(0, str(SRC))
    from orderlog.store.client import make_redis
    from orderlog.store.workspaces import WorkspaceStore

    async def run() -> tuple[str, dict[str, str]]:
        redis = make_redis(url)
        try:
            return await WorkspaceStore(redis).create_workspace("bench")
        finally:
            await redis.aclose()

    return asyncio.run(run())


# Per-key rate limits (domain/ratelimit.py) so high they never refuse: a benchmark's one key would
# otherwise meet the default 1000 writes/s, while the GCRA check still runs (and costs) as in prod.
UNLIMITED = {
    f"ORDERLOG_RATE_{scope}{suffix}": "1000000"
    for scope in ("READ", "WRITE", "ADMIN")
    for suffix in ("", "_BURST")
}


@contextlib.contextmanager
def orderlog_servers(
    url: str, count: int, logdir: Path, env: dict[str, str] | None = None
) -> Iterator[list[tuple[int, int]]]:
    """``count`` ``orderlog serve`` processes on their own ports: [(port, pid)]; the first on
    the server core, a second on the other core. ``env``: more environment variables."""
    with contextlib.ExitStack() as stack:
        out = []
        for i in range(count):
            port = free_port()
            proc = stack.enter_context(
                process(
                    [
                        sys.executable,
                        "-m",
                        "orderlog",
                        "serve",
                        "--redis-url",
                        url,
                        "--port",
                        str(port),
                    ],
                    SERVER_CORE if i == 0 else LOAD_CORE,
                    logdir / f"orderlog-{i}.log",
                    env={"PYTHONPATH": str(SRC), **UNLIMITED, **(env or {})},
                )
            )
            out.append((port, proc.pid))
        for port, _ in out:
            wait_http(port)
        yield out


def profile(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for ``seconds`` into ``out`` (folded stacks: one line per stack)."""
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [
            str(spy),
            "record",
            "-p",
            str(pid),
            "-d",
            str(max(1, int(seconds))),
            "-r",
            "250",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_loader(binary: Path, args: Sequence[str], timeout: float) -> dict[str, object]:
    """Runs a C load generator pinned to the load core; its one JSON line of results."""
    proc = subprocess.run(
        [str(binary), *args],
        capture_output=True,
        timeout=timeout,
        preexec_fn=lambda: pin(0, LOAD_CORE),
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{binary.name} failed: {proc.stderr.decode(errors='replace')}")
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
