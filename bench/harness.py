"""What every benchmark shares: the C tools built with gcc, processes pinned to cores and
measured from /proc, an embedded Redis, a workspace with keys, the servers under test, and
repeated runs (``Runs``): each scenario measured ``--runs`` times (3 by default) with the load
average before each run, reported as median (min-max), ratios paired run by run.

Pinning: the server under test runs on core 0; the load generator and Redis on core 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def redis_pid(url: str) -> int:
    """The process id of the Redis at ``url`` (to read its CPU time from /proc)."""
    sys.path.insert(0, str(SRC))
    from orderlog.store.embedded import server_pid

    pid = server_pid(url, timeout=5.0)
    if pid is None:
        raise RuntimeError(f"no Redis answers at {url}")
    return pid


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


def orderlog_command(url: str, port: int) -> list[str]:
    return [sys.executable, "-m", "orderlog", "serve", "--redis-url", url, "--port", str(port)]


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
                    orderlog_command(url, port),
                    SERVER_CORE if i == 0 else LOAD_CORE,
                    logdir / f"orderlog-{i}.log",
                    env={"PYTHONPATH": str(SRC), **UNLIMITED, **(env or {})},
                )
            )
            out.append((port, proc.pid))
        for port, _ in out:
            wait_http(port)
        yield out


UVICORN = ["-m", "uvicorn", "--ws-per-message-deflate", "false", "--port"]


@dataclass
class Target:
    """A server under test: its process, where its subscribers and its ingest are."""

    port: int
    pid: int
    workspace: str
    write_key: str
    live_path: str
    header: str | None
    socketio: bool = False


@contextlib.contextmanager
def serve(kind: str, url: str, logdir: Path) -> Iterator[Target]:
    """One server under test on a free port, pinned to the server core, against Redis ``url``.

    ``orderlog``: ``orderlog serve`` with a fresh workspace and its keys (``orderlog:<impl>``:
    the same app under uvicorn's WebSocket implementation ``impl``); ``reference``: the
    publish-only floor, ``bench/peers/reference_app.py``; any other ``kind``:
    ``bench/peers/<kind>_app.py``. The peers take any workspace and key.
    """
    env = {"PYTHONPATH": f"{SRC}:{ROOT}", "REDIS_URL": url, **UNLIMITED}
    port = free_port()
    if kind.startswith("orderlog"):
        ws, keys = create_workspace(url)
        args = orderlog_command(url, port)
        if ":" in kind:
            impl = kind.split(":", 1)[1]
            args = [sys.executable, *UVICORN, str(port), "--ws", impl, "--ws-max-size", "65536"]
            args += ["--factory", "orderlog.app:create_app"]
        path, header, write = (
            f"/v1/workspaces/{ws}/live",
            f"Authorization: Bearer {keys['read']}",
            keys["write"],
        )
    else:
        ws, write, header = "bench", "unused", None
        args = [sys.executable, *UVICORN, str(port)]
        if kind == "reference":  # the floor: no per-request log line either
            args.append("--no-access-log")
        args.append(f"bench.peers.{kind}_app:app")
        path = f"/v1/workspaces/{ws}/live"
        if kind == "socketio":
            path = f"/socket.io/?EIO=4&transport=websocket&w={ws}"
    with process(args, SERVER_CORE, logdir / f"{kind}.log", env=env) as proc:
        wait_http(port)
        yield Target(port, proc.pid, ws, write, path, header, socketio=kind == "socketio")


def profile(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for ``seconds`` into ``out`` (folded stacks: one line per stack)."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        raise RuntimeError(f"no {spy}: pip install -e '.[bench]' brings py-spy")
    out.parent.mkdir(parents=True, exist_ok=True)
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


# -- repeated runs ---------------------------------------------------------------------------


def load_average() -> float:
    """The machine's 1-minute load average: how busy it was just before a run."""
    return round(os.getloadavg()[0], 2)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_runs_argument(parser: argparse.ArgumentParser) -> None:
    """``--runs``: how many times each scenario is measured (median and range are reported)."""
    parser.add_argument(
        "--runs",
        type=positive,
        default=3,
        help="runs of each scenario; the report gives their median and range (default 3)",
    )


def spread(values: Sequence[float], digits: int = 1, suffix: str = "") -> str:
    """``median (min-max)`` of a scenario's runs; the bare value when every run gave it."""
    if not values:
        return "-"

    def show(v: float) -> str:
        return f"{v:,.{digits}f}{suffix}"

    mid, low, high = show(statistics.median(values)), show(min(values)), show(max(values))
    return mid if low == high else f"{mid} ({low}-{high})"


@dataclass
class Runs:
    """Every run of every scenario of one benchmark, each with the load average just before it.

    A scenario is any hashable key. Scenarios compared with each other are measured in the same
    round (run 1 of each, then run 2 of each, ...): their i-th runs met the same moment of a
    shared machine, so ``ratio`` pairs them run by run before taking the median.
    """

    rows: dict[Hashable, list[dict[str, Any]]] = field(default_factory=dict)

    def measure(self, key: Hashable, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Runs one measurement of scenario ``key``; its row, with ``load`` (before it)."""
        load = load_average()
        return self.add(key, load, run())

    def add(self, key: Hashable, load: float, row: dict[str, Any]) -> dict[str, Any]:
        """Records a run measured elsewhere (an async one) with the load average before it."""
        row["load"] = load
        self.rows.setdefault(key, []).append(row)
        return row

    def values(self, key: Hashable, name: str) -> list[float | None]:
        """Figure ``name`` of each run in run order; None where a run had none (a latency
        when nothing arrived)."""
        return [None if r[name] is None else float(r[name]) for r in self.rows.get(key, [])]

    def spread(self, key: Hashable, name: str, digits: int = 1) -> str:
        values = self.values(key, name)
        present = [v for v in values if v is not None]
        missing = len(values) - len(present)
        text = spread(present, digits)
        return f"{text} [none in {missing} of {len(values)} runs]" if missing else text

    def loads(self, key: Hashable) -> str:
        """The load average before each run, in run order."""
        return ", ".join(f"{r['load']:.2f}" for r in self.rows.get(key, []))

    def ratio(self, mine: Hashable, theirs: Hashable, name: str) -> str:
        """``mine / theirs`` of figure ``name``, run i with run i: median (range); runs where
        either has none or ``theirs`` is 0 are left out ("-" if all are)."""
        pairs = zip(self.values(mine, name), self.values(theirs, name), strict=False)
        return spread([a / b for a, b in pairs if a is not None and b], 2, "x")


def preamble(command: str, runs: int) -> str:
    """What a reader of a benchmark's report needs beside its tables."""
    lines = [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `{command}`: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.machine()}. Figures are the median of "
        f"{runs} run(s) with the range in brackets; 'load before' is the 1-minute load average "
        "before each run (a shared machine moves every figure).",
    ]
    if runs < 3:
        lines.append("Fewer than 3 runs: a smoke test, not figures to quote.")
    return "\n".join(lines) + "\n"


def command_line(module: str) -> str:
    return " ".join(["python -m", module, *sys.argv[1:]])
