"""Sizing figures for docs/deploy.md: Redis memory per order, server memory per WebSocket.

One command, a printed table:

    python bench/memory.py [orders] [sockets] [--runs 3]

Starts its own redis-server (the embedded code path) and an `orderlog serve` subprocess;
orders are written with /batch (50 creates + 50 cancels per request: 2 events each, nothing
left active so the sockets' snapshots stay small); memory is Redis INFO used_memory and the
server process's RSS (/proc, Linux) before and after. Each run on a fresh Redis and server;
the table gives the median of the runs and their range.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from bench import harness  # noqa: E402
from orderlog.store.embedded import EmbeddedRedis, free_port  # noqa: E402

CUSTOMER = {"user_id": 3141592653, "username": "Alice"}


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def write_orders(url: str, base: str, key: str, orders: int) -> tuple[float, float]:
    """Bytes of Redis memory per order written, and of its workspace stream per event."""
    sync = redis.Redis.from_url(url)
    before = sync.info("memory")["used_memory"]
    auth = {"Authorization": f"Bearer {key}"}
    creates = [
        {"op": "create", "ref": f"r{i}", "customer": CUSTOMER, "items": ["Latte"]}
        for i in range(50)
    ]
    cancels = [{"op": "status", "order_ref": f"r{i}", "status": "cancelled"} for i in range(50)]
    with httpx.Client(timeout=30) as client:
        for _ in range(orders // 50):
            body = {"operations": creates + cancels}
            client.post(f"{base}/batch", headers=auth, json=body).raise_for_status()
    per_order = (sync.info("memory")["used_memory"] - before) / orders
    (stream,) = sync.keys("*:events")
    per_event = sync.memory_usage(stream, samples=0) / sync.xlen(stream)
    return per_order, per_event


async def open_sockets(url: str, key: str, sockets: int, pid: int) -> float:
    """Bytes of server RSS per open WebSocket (each got its snapshot)."""
    idle = rss(pid)
    conns = []
    for _ in range(sockets):
        conns.append(await connect(url, additional_headers={"Authorization": f"Bearer {key}"}))
        await asyncio.wait_for(conns[-1].recv(), 30)
    await asyncio.sleep(0.5)
    per_socket = (rss(pid) - idle) / sockets
    for c in conns:
        await c.close()
    return per_socket


def measure(orders: int, sockets: int) -> dict[str, float]:
    """One run on a fresh Redis and a fresh server."""
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "r", port=free_port(), appendfsync="everysec")
        url = server.start()
        port = free_port()
        env = dict(os.environ, REDIS_URL=url, PYTHONPATH=str(ROOT / "src"))
        env |= {"ORDERLOG_ACCESS_LOG": "0", "ORDERLOG_DEMO_WORKSPACE": "0"}
        env |= {"ORDERLOG_RATE_READ": "0", "ORDERLOG_RATE_WRITE": "0"}  # one key, many sockets
        serve = [sys.executable, "-m", "orderlog", "serve", "--port", str(port)]
        proc = subprocess.Popen(
            serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            create = [sys.executable, "-m", "orderlog", "workspace", "create", "Bench", "--json"]
            out = subprocess.run(create, env=env, capture_output=True, text=True, check=True)
            ws = json.loads(out.stdout)
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            path = f"/v1/workspaces/{ws['workspace_id']}"
            per_order, per_event = write_orders(
                url, f"http://127.0.0.1:{port}{path}", ws["keys"]["write"], orders
            )
            idle = rss(proc.pid)
            live = f"ws://127.0.0.1:{port}{path}/live"
            per_socket = asyncio.run(open_sockets(live, ws["keys"]["read"], sockets, proc.pid))
        finally:
            proc.terminate()
            proc.wait(30)
            server.stop()
    return {
        "order_kib": per_order / 1024,
        "event_b": per_event,
        "idle_mib": idle / 2**20,
        "socket_kib": per_socket / 1024,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("orders", type=int, nargs="?", default=10_000)
    parser.add_argument("sockets", type=int, nargs="?", default=500)
    harness.add_runs_argument(parser)
    args = parser.parse_args(argv)
    results = harness.Runs()
    for i in range(args.runs):
        row = results.measure("memory", functools.partial(measure, args.orders, args.sockets))
        print(f"run {i + 1} (load before {row['load']:.2f}): {row}", flush=True)
    figures = [
        (
            "Redis memory per order (created, then cancelled: hash, indexes, 2 stream entries)",
            "order_kib",
            2,
            "KiB",
        ),
        ("of which the event stream, per event", "event_b", 0, "B"),
        (f"server RSS idle (one process, after {args.orders} orders)", "idle_mib", 0, "MiB"),
        (
            f"server RSS per live WebSocket ({args.sockets} open, snapshot sent)",
            "socket_kib",
            1,
            "KiB",
        ),
    ]
    print(f"median of {args.runs} run(s) (range); load before: {results.loads('memory')}")
    print(
        harness.table(
            ["figure", "value"],
            [
                [title, f"{results.spread('memory', name, digits)} {unit}"]
                for title, name, digits, unit in figures
            ],
        )
    )


if __name__ == "__main__":
    main()
