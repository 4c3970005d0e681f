"""One WebSocket client that never reads beside readers that do, under a steady event rate.

    python -m bench.slow_consumer [--readers 100] [--rate 1000] [--seconds 10] [--runs 3]

Runs `orderlog serve` as a subprocess (as bench/soak.py does) on a private Redis. Opens
``--readers`` dashboards that read everything and one "stuck" dashboard on a socket with a 4 KiB
receive buffer that never reads. Writes ``--rate`` orders per second (POST /batch 10 times a
second, created as completed so every socket gets every event and snapshots stay empty) for
``--seconds``. Prints: how the stuck client was closed (4008, or 1006 when the close frame sits
behind its unread bytes: docs/guarantees.md), the readers' delivery latency (order created_at,
Redis' clock, to frame received; every event at every 10th reader) p50/p99/max, events missing
at any reader, and the server's RSS before, at its peak and after: each run's, then their median
and range (``--runs``, each on a fresh server). The stuck client needs more bytes than the
kernel buffers hold for it (~4 MiB here: ~7,000 events) before the server sees it fall behind.
Exit 1 unless in every run the stuck client was closed, no reader missed an event and no batch
was refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bench import harness
from bench.soak import proc_figures, served_workspace

MAX_BATCH = 100  # operations per POST /batch (the API's limit)


def created_ms(order: dict[str, object]) -> float:
    return datetime.fromisoformat(str(order["created_at"]).replace("Z", "+00:00")).timestamp() * 1e3


class Reader:
    """Counts created events in every frame (a byte count: cheap); a sampling reader also parses
    its frames for the ids and the latency."""

    def __init__(self, sample: bool) -> None:
        self.sample = sample
        self.ids: set[str] = set()
        self.count = 0
        self.latencies: list[float] = []
        self.frames = 0
        self.closed: int | None = None

    async def run(self, conn: ClientConnection) -> None:
        try:
            async for raw in conn:
                self.frames += 1
                self.count += raw.count('"order.created"')
                if not self.sample:
                    continue
                frame = orjson.loads(raw)
                events = frame.get("events", [frame]) if frame["type"] == "batch" else [frame]
                now = time.time() * 1e3
                for ev in events:
                    if ev.get("type") == "event" and ev["event"] == "order.created":
                        self.ids.add(ev["order"]["id"])
                        self.latencies.append(now - created_ms(ev["order"]))
        except ConnectionClosed as exc:
            self.closed = exc.rcvd.code if exc.rcvd else -1


async def stuck_client(url: str, headers: dict[str, str]) -> ClientConnection:
    host, port = url.removeprefix("ws://").split("/", 1)[0].split(":")
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (host, int(port)))
    return await connect(url, sock=raw, max_queue=1, additional_headers=headers)


async def close_code(conn: ClientConnection, within: float = 60) -> tuple[int, str]:
    """Drain what the server had sent, then the close frame."""
    try:
        async with asyncio.timeout(within):
            while True:
                await conn.recv()
    except ConnectionClosed as exc:
        return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (-1, "no close frame")
    except TimeoutError:
        return 0, "still open"


async def run(args: argparse.Namespace) -> int:
    """``--runs`` runs, each on a fresh Redis and server; the table of their medians."""
    results = harness.Runs()
    for i in range(args.runs):
        before = harness.load_average()
        async with served_workspace("slow-", "Slow cafe") as target:
            if target is None:
                return 1
            row = await drive(
                args, target.server.pid, target.base, target.workspace_id, target.keys
            )
        results.add("slow", before, row)
        print(f"run {i + 1} (load before {before:.2f}): {row['summary']}", flush=True)
    print(
        harness.table(
            ["runs", "load before", *(title for title, _, _ in FIGURES)],
            [
                [
                    args.runs,
                    results.loads("slow"),
                    *(results.spread("slow", name, d) for _, name, d in FIGURES),
                ]
            ],
        )
    )
    rows = results.rows["slow"]
    closes = sorted({r["stuck_close"] for r in rows})
    print(f"stuck client closed with: {', '.join(closes)}")
    return 0 if all(r["ok"] for r in rows) else 1


# (title, row field, digits) of the table
FIGURES = [
    ("events/s", "rate", 0),
    ("p50 ms", "p50", 1),
    ("p99 ms", "p99", 1),
    ("max ms", "max", 1),
    ("events missing", "missing", 0),
    ("readers closed", "readers_closed", 0),
    ("RSS idle MiB", "rss_idle", 1),
    ("RSS connected MiB", "rss_connected", 1),
    ("RSS peak MiB", "rss_peak", 1),
    ("RSS after MiB", "rss_after", 1),
]


async def drive(
    args: argparse.Namespace, pid: int, base: str, ws_id: str, keys: dict[str, str]
) -> dict[str, Any]:
    live = base.replace("http://", "ws://", 1) + f"/v1/workspaces/{ws_id}/live"
    headers = {"Authorization": f"Bearer {keys['read']}"}
    rss0, _ = proc_figures(pid)
    stuck = await stuck_client(live, headers)
    readers = [Reader(sample=i % 10 == 0) for i in range(args.readers)]
    conns = []
    for _ in readers:
        conns.append(await connect(live, additional_headers=headers, max_size=None))
    tasks = [asyncio.create_task(r.run(c)) for r, c in zip(readers, conns, strict=True)]
    await asyncio.sleep(1)
    rss_connected, _ = proc_figures(pid)
    written: list[str] = []
    refused: list[str] = []
    peak = rss_connected
    per_tick = max(1, round(args.rate / 10))
    op = {
        "op": "create",
        "customer": {"UserId": 1, "Name": "Bench"},
        "items": ["Latte"],
        "status": "completed",
    }
    auth = {"Authorization": f"Bearer {keys['write']}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def post(count: int) -> None:
            body = {"operations": [op] * count}
            resp = await http.post(f"/v1/workspaces/{ws_id}/batch", json=body, headers=auth)
            if resp.status_code != 200:
                refused.append(f"{resp.status_code} {resp.text[:200]}")
                return
            written.extend(r["id"] for r in resp.json()["results"] if r["ok"])

        start = time.monotonic()
        posts = []
        for tick in range(int(args.seconds * 10)):
            delay = start + tick / 10 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            for first in range(0, per_tick, MAX_BATCH):
                posts.append(asyncio.create_task(post(min(MAX_BATCH, per_tick - first))))
            if tick % 10 == 0:
                peak = max(peak, proc_figures(pid)[0])
        await asyncio.gather(*posts)
        sent_for = time.monotonic() - start
    want = set(written)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            while any(r.count < len(want) for r in readers if r.closed is None):
                peak = max(peak, proc_figures(pid)[0])
                await asyncio.sleep(0.2)
    code, reason = await close_code(stuck)
    rss_after, _ = proc_figures(pid)
    for conn in conns:
        with contextlib.suppress(Exception):
            await conn.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = sorted(x for r in readers for x in r.latencies)
    missing = sum(len(want - r.ids) for r in readers if r.sample)
    missing += sum(max(0, len(want) - r.count) for r in readers if not r.sample)
    closed = [r.closed for r in readers if r.closed is not None]
    nan = float("nan")
    p50 = statistics.median(latencies) if latencies else nan
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else nan
    top = latencies[-1] if latencies else nan
    summary = (
        f"{len(written)} events in {sent_for:.1f} s ({len(written) / sent_for:.0f}/s) to "
        f"{args.readers} readers + 1 that never reads; stuck client: closed {code} {reason!r}; "
        f"readers: latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {top:.1f} ms "
        f"({len(latencies)} samples); events missing {missing}; "
        f"readers closed by the server {len(closed)} {closed or ''}; "
        f"server RSS: {rss0:.1f} MiB idle, {rss_connected:.1f} connected, peak {peak:.1f}, "
        f"{rss_after:.1f} after"
    )
    if refused:
        summary += f"; {len(refused)} batches refused, the first: {refused[0]}"
    return {
        "summary": summary,
        # the stuck client is gone: with 4008, or, when that close frame sat behind its unread
        # bytes and was dropped with them after the close timeout, with no close frame (1006)
        "ok": code in (4008, -1) and missing == 0 and not refused and bool(written),
        "stuck_close": f"{code} {reason!r}",
        "rate": len(written) / sent_for,
        "p50": p50,
        "p99": p99,
        "max": top,
        "missing": missing,
        "readers_closed": len(closed),
        "rss_idle": rss0,
        "rss_connected": rss_connected,
        "rss_peak": peak,
        "rss_after": rss_after,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    harness.add_runs_argument(parser)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
