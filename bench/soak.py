"""Soak: a real `orderlog serve` process under steady live load for a given time.

    python -m bench.soak [--minutes 10] [--clients 1000] [--churn 10] [--orders 200]

1. Starts a private redis-server (``EmbeddedRedis``, appendfsync everysec) and ``orderlog serve``
   as a subprocess on a free port (rate limits off: this measures the server, not the limiter).
2. Opens ``--clients`` WebSocket dashboards (read key). Most filter on ``status=completed`` like
   a pickup screen and see one event per completed order; ``--full`` of them (default 20) take
   every event, like a board. Every second ``--churn`` random clients are closed and replaced
   (a new connection with a snapshot each).
3. Writes ``--orders`` new orders per second (10 POST /batch a second, open loop) and completes
   each 3 s later (POST /batch of status changes): every client kind has traffic, and the set
   of active orders (a new connection's snapshot) stays steady, as in a real cafe.
4. Every ``--every`` seconds prints the server's RSS and open file descriptors (from
   /proc/<pid>/status and /proc/<pid>/fd), its asyncio tasks if the server exposes them (it does
   not: no debug route; see the printout), clients connected, requests answered and failed,
   events received. At the end: start (after warm-up) vs end, and the RSS slope per minute.

The load generator runs in this process on the other core; the server is one process. One long
run, not repeated as the other benchmarks repeat theirs (``--runs``): what it measures is a trend
within the run (RSS and fds over time), and the run is its own repetition.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from orderlog.store.client import make_redis
from orderlog.store.embedded import EmbeddedRedis, free_port
from orderlog.store.workspaces import WorkspaceStore

ROOT = Path(__file__).resolve().parents[1]
COMPLETE_AFTER = 3.0  # seconds from an order's creation to its completion


def proc_figures(pid: int) -> tuple[float, int]:
    """(RSS in MiB, open fds) of a process, from /proc."""
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Counters:
    connects: int = 0
    connect_failures: int = 0
    closed_by_server: int = 0
    frames: int = 0
    orders: int = 0
    completes: int = 0
    failed: dict[str, int] = field(default_factory=dict)

    def fail(self, what: str) -> None:
        self.failed[what] = self.failed.get(what, 0) + 1


class Soak:
    def __init__(self, args: argparse.Namespace, base: str, ws_id: str, keys: dict[str, str]):
        self.args = args
        self.base = base
        self.ws_id = ws_id
        self.keys = keys
        self.url = base.replace("http://", "ws://", 1) + f"/v1/workspaces/{ws_id}/live"
        self.counters = Counters()
        self.clients: dict[int, asyncio.Task[None]] = {}
        self.next_id = 0
        self.stop = asyncio.Event()

    # -- clients -----------------------------------------------------------------------------
    def open_client(self) -> None:
        full = sum(1 for t in self.clients.values() if getattr(t, "full", False))
        want_full = full < self.args.full
        cid = self.next_id
        self.next_id += 1
        task = asyncio.create_task(self.client(cid, want_full))
        task.full = want_full  # type: ignore[attr-defined]
        self.clients[cid] = task

    async def client(self, cid: int, full: bool) -> None:
        url = self.url if full else self.url + "?status=completed"
        conn: ClientConnection | None = None
        try:
            async with asyncio.timeout(30):
                conn = await connect(
                    url,
                    additional_headers={"Authorization": f"Bearer {self.keys['read']}"},
                    max_size=None,
                    max_queue=64,
                )
            self.counters.connects += 1
            async for _ in conn:
                self.counters.frames += 1
            self.counters.closed_by_server += 1
        except asyncio.CancelledError:
            raise
        except InvalidStatus as exc:
            self.counters.connect_failures += 1
            self.counters.fail(f"handshake {exc.response.status_code}")
        except ConnectionClosed as exc:
            self.counters.fail(f"closed {exc.rcvd.code if exc.rcvd else 'abruptly'}")
        except Exception as exc:
            self.counters.connect_failures += conn is None
            self.counters.fail(type(exc).__name__)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await conn.close()
            self.clients.pop(cid, None)

    async def churn(self) -> None:
        while not self.stop.is_set():
            await asyncio.sleep(1)
            for cid in random.sample(list(self.clients), min(self.args.churn, len(self.clients))):
                task = self.clients.get(cid)
                if task is not None:
                    task.cancel()
            while len(self.clients) < self.args.clients:
                self.open_client()

    # -- writers -----------------------------------------------------------------------------
    async def writer(self, http: httpx.AsyncClient) -> None:
        """``--orders`` creates per second as 10 batches a second, and each batch's orders
        completed (one batch of status changes) ``COMPLETE_AFTER`` seconds later, so the set
        of active orders (what a fresh connection's snapshot holds) stays steady, as in a cafe."""
        auth = {"Authorization": f"Bearer {self.keys['write']}"}
        url = f"/v1/workspaces/{self.ws_id}/batch"
        per_batch = max(1, round(self.args.orders / 10))
        waiting: list[tuple[float, list[str]]] = []
        pending: set[asyncio.Task[None]] = set()
        start = time.monotonic()
        tick = 0

        async def send(ops: list[dict[str, object]], creates: bool) -> None:
            try:
                resp = await http.post(url, json={"operations": ops}, headers=auth)
            except httpx.HTTPError as exc:
                self.counters.fail(f"batch {type(exc).__name__}")
                return
            if resp.status_code != 200:
                self.counters.fail(f"batch {resp.status_code}")
                return
            results = resp.json()["results"]
            ok = [r for r in results if r["ok"]]
            if len(ok) < len(results):
                self.counters.fail("batch op")
            if creates:
                self.counters.orders += len(ok)
                waiting.append((time.monotonic() + COMPLETE_AFTER, [r["id"] for r in ok]))
            else:
                self.counters.completes += len(ok)

        def launch(ops: list[dict[str, object]], creates: bool) -> None:
            if len(pending) >= 50:  # the server is behind: count it, do not pile up tasks
                self.counters.fail("writer behind")
                return
            task = asyncio.create_task(send(ops, creates))
            pending.add(task)
            task.add_done_callback(pending.discard)

        while not self.stop.is_set():
            delay = start + tick / 10 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tick += 1
            creates = [
                {
                    "op": "create",
                    "customer": {"UserId": 1000 + (tick * per_batch + i) % 5000, "Name": "soak"},
                    "items": ["Latte", "Cookie"],
                }
                for i in range(per_batch)
            ]
            launch(creates, True)
            if waiting and waiting[0][0] <= time.monotonic():
                _, ids = waiting.pop(0)
                launch([{"op": "status", "id": i, "status": "completed"} for i in ids], False)
        await asyncio.gather(*pending, return_exceptions=True)


def start_server(tmp: Path, redis_url: str, port: int) -> subprocess.Popen[bytes]:
    """``orderlog serve`` on ``port`` against ``redis_url``, rate limits off; log in ``tmp``."""
    env = os.environ | {
        "REDIS_URL": redis_url,
        "ORDERLOG_PORT": str(port),
        "ORDERLOG_DEMO_WORKSPACE": "0",
        "ORDERLOG_RATE_READ": "0",
        "ORDERLOG_RATE_WRITE": "0",
        "ORDERLOG_RATE_ADMIN": "0",
        "PYTHONPATH": str(ROOT / "src"),
    }
    with open(tmp / "server.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "orderlog", "serve"], env=env, stdout=log, stderr=log
        )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(20)
    if server.poll() is None:
        server.kill()
        server.wait(10)


@dataclass
class Target:
    """A served workspace to load: the server process, its base URL, the workspace, its keys."""

    server: subprocess.Popen[bytes]
    base: str
    workspace_id: str
    keys: dict[str, str]
    log: Path


@contextlib.asynccontextmanager
async def served_workspace(prefix: str, name: str) -> AsyncIterator[Target | None]:
    """A private Redis, a workspace in it and ``orderlog serve`` on a free port (None if the
    server did not start: its log says why); all stopped on exit. Shared by the soak and the
    slow-consumer commands."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    redis_server = EmbeddedRedis(tmp / "redis", port=free_port(), appendfsync="everysec")
    url = redis_server.start()
    redis = make_redis(url, timeout=5)
    ws_id, keys = await WorkspaceStore(redis).create_workspace(name)
    await redis.aclose()
    port = free_port()
    server = start_server(tmp, url, port)
    keep = False  # the folder (Redis' files, the server's log) stays only if the server failed
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            await asyncio.sleep(0.1)
        else:
            print("server did not start; see", tmp / "server.log")
            keep = True
            yield None
            return
        yield Target(server, f"http://127.0.0.1:{port}", ws_id, keys, tmp / "server.log")
    finally:
        stop_server(server)
        redis_server.stop()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


async def run(args: argparse.Namespace) -> int:
    async with served_workspace("soak-", "Soak cafe") as target:
        if target is None:
            return 1
        return await drive(args, target.server.pid, target.base, target.workspace_id, target.keys)


async def drive(
    args: argparse.Namespace, pid: int, base: str, ws_id: str, keys: dict[str, str]
) -> int:
    soak = Soak(args, base, ws_id, keys)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    rows: list[tuple[float, float, int]] = []
    t0 = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        rss, fds = proc_figures(pid)
        print(f"server pid {pid}: idle RSS {rss:.1f} MiB, {fds} fds; asyncio tasks: not exposed")
        print(f"opening {args.clients} clients ({args.full} unfiltered) ...", flush=True)
        for i in range(args.clients):
            soak.open_client()
            if i % 50 == 49:
                await asyncio.sleep(0.2)
        background = [asyncio.create_task(soak.churn()), asyncio.create_task(soak.writer(http))]
        print(
            f"{'t (s)':>6} {'RSS MiB':>8} {'fds':>6} {'clients':>7} {'connects':>8} "
            f"{'orders':>7} {'completes':>9} {'frames':>9} failures"
        )
        end = t0 + args.minutes * 60
        while time.monotonic() < end:
            await asyncio.sleep(min(args.every, max(0.0, end - time.monotonic())))
            rss, fds = proc_figures(pid)
            t = time.monotonic() - t0
            rows.append((t, rss, fds))
            c = soak.counters
            print(
                f"{t:6.0f} {rss:8.1f} {fds:6d} {len(soak.clients):7d} {c.connects:8d} "
                f"{c.orders:7d} {c.completes:9d} {c.frames:9d} {c.failed or '-'}",
                flush=True,
            )
        soak.stop.set()
        await asyncio.gather(*background, return_exceptions=True)
        for task in list(soak.clients.values()):
            task.cancel()
        await asyncio.gather(*soak.clients.values(), return_exceptions=True)
    await asyncio.sleep(2)
    rss_after, fds_after = proc_figures(pid)
    warm = [r for r in rows if r[0] >= args.warmup] or rows
    first, last = warm[0], warm[-1]
    minutes = max((last[0] - first[0]) / 60, 1e-9)
    slope = (last[1] - first[1]) / minutes
    c = soak.counters
    elapsed = time.monotonic() - t0
    print(
        f"\nsoak {elapsed / 60:.1f} min: {c.orders} orders ({c.orders / elapsed:.0f}/s), "
        f"{c.completes} completions, {c.connects} WebSocket connects "
        f"({c.connects / elapsed:.1f}/s), {c.frames} frames received, "
        f"{c.closed_by_server} closed by the server, failures {c.failed or 0}"
    )
    print(
        f"after warm-up ({args.warmup:.0f} s): RSS {first[1]:.1f} -> {last[1]:.1f} MiB "
        f"({slope:+.2f} MiB/min), fds {first[2]} -> {last[2]}; with every client gone: "
        f"RSS {rss_after:.1f} MiB, {fds_after} fds"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--full", type=int, default=20, help="clients taking every event")
    parser.add_argument("--churn", type=int, default=10, help="reconnects per second")
    parser.add_argument("--orders", type=float, default=200.0, help="writes per second")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between rows")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before the baseline")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _exit)  # so `finally` stops the server and Redis
    return asyncio.run(run(args))


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    raise SystemExit(main())
