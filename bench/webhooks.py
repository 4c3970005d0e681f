"""Webhooks benchmark: ingest throughput with three active webhooks against none.

    python -m bench.webhooks [--runs 3] [--duration 10] [--quick]

One ``orderlog serve`` process (core 0), one embedded Redis (appendfsync always), three
receivers on loopback (bench/peers/receiver.py: 204 at once) and the load generator
(bench/ingest_load.c, full writes: a create, then two status changes of each order), all but
the server on core 1. Each run measures, back to back and in alternating order, the writes/s
one process accepts when offered far more than it can take (20k/s on 64 connections) with no
webhook and with three fresh webhooks receiving every event; then the same at a fixed
1,000 writes/s (latency). After each run with webhooks it waits until all three have caught up
and reports how long that took and how far behind they were when the load stopped: under
saturation deliveries yield to ingest (outbound/governor.py) and catch up afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import harness
from .ingest import FIXED_RATE, SATURATE_RATE, measure

WEBHOOKS = 3


@contextlib.contextmanager
def receivers(count: int, logdir: Path) -> Iterator[list[int]]:
    ports = [harness.free_port() for _ in range(count)]
    args = [sys.executable, "-m", "bench.peers.receiver", *map(str, ports)]
    with harness.process(args, harness.LOAD_CORE, logdir / "receivers.log"):
        for port in ports:
            harness.wait_http(port, "/")
        yield ports


def api(port: int, method: str, path: str, key: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def received(ports: list[int]) -> int:
    """POSTs the receivers have had, in all (each answers its count to a GET)."""
    total = 0
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
            total += int(resp.read())
    return total


def added(redis: Any, stream: str) -> int:
    """Entries ever added to the stream (Redis >= 7)."""
    return int(redis.xinfo_stream(stream)["entries-added"])


def run_once(
    kind: str,
    *,
    loader: Path,
    servers: list[tuple[int, int]],
    ws: str,
    keys: dict[str, str],
    ports: list[int],
    redis: Any,
    stream: str,
    rate: int,
    conns: int,
    duration: float,
    warmup: float,
) -> dict[str, Any]:
    port = servers[0][0]
    base = f"/v1/workspaces/{ws}/webhooks"
    made = []
    if kind == "three":
        for p in ports:
            made.append(api(port, "POST", base, keys["admin"], {"url": f"http://127.0.0.1:{p}/"}))
    first, before = added(redis, stream), received(ports)
    result = measure(loader, servers, ws, keys["write"], rate, conns, duration, warmup)
    result["kind"] = kind
    if made:
        # Writes still in flight when the loader stopped land a moment later: "due" is
        # re-read each time.
        def due() -> int:
            return (added(redis, stream) - first) * len(made)

        def behind() -> int:
            return due() - (received(ports) - before)

        result["behind_at_end"] = behind()
        started = time.monotonic()
        while behind() > 0 and time.monotonic() - started < 600:
            time.sleep(0.05)
        result["catch_up_s"] = round(time.monotonic() - started, 2)
        time.sleep(0.5)
        result["still_behind"] = behind()  # < 0 would mean an event delivered twice
        result["deliveries"] = due()
        for hook in made:
            api(port, "DELETE", f"{base}/{hook['id']}", keys["admin"])
    return result


def run(runs: int, duration: float, warmup: float, logdir: Path) -> list[dict[str, Any]]:
    import redis as redis_py

    sys.path.insert(0, str(harness.SRC))
    from orderlog.keys import Keys
    from orderlog.sealing import new_key

    loader = harness.build("ingest_load")
    rows: list[dict[str, Any]] = []
    env = {
        "ORDERLOG_WEBHOOK_ALLOW_PRIVATE": "1",
        "ORDERLOG_SECRET_KEY": new_key(),
        "ORDERLOG_RATE_ADMIN": "0",
    }
    with (
        harness.redis_server("always") as url,
        receivers(WEBHOOKS, logdir) as ports,
    ):
        ws, keys = harness.create_workspace(url)
        redis = redis_py.Redis.from_url(url, decode_responses=True, socket_timeout=60)
        stream = Keys().events(ws)
        with harness.orderlog_servers(url, 1, logdir, env=env) as servers:
            measure(loader, servers, ws, keys["write"], 500, 8, 1, 0)  # warm caches
            common = {
                "loader": loader,
                "servers": servers,
                "ws": ws,
                "keys": keys,
                "ports": ports,
                "redis": redis,
                "stream": stream,
                "duration": duration,
                "warmup": warmup,
            }
            for i in range(runs):
                order = ("none", "three") if i % 2 == 0 else ("three", "none")
                for rate, conns, load in ((SATURATE_RATE, 64, "max"), (FIXED_RATE, 50, "fixed")):
                    for kind in order:
                        row = run_once(kind, rate=rate, conns=conns, **common)
                        row |= {"run": i + 1, "load": load}
                        rows.append(row)
                        print(summary(row), file=sys.stderr, flush=True)
        redis.close()
    return rows


def summary(r: dict[str, Any]) -> str:
    extra = ""
    if r["kind"] == "three":
        extra = (
            f", {r['behind_at_end']} of {r['deliveries']} deliveries behind at the end, "
            f"caught up in {r['catch_up_s']} s ({r['still_behind']} left)"
        )
    return (
        f"run {r['run']} {r['load']:5} {r['kind']:5}: {r['ok_per_s']:.0f} writes/s, "
        f"p99 {r['p99_ms']} ms, {r['errors']} errors{extra}"
    )


def per_cpu(r: dict[str, Any]) -> float:
    """Writes accepted per second of the server's CPU: what one core given to the server
    whole would take. On a shared machine the server gets a varying share of its core, and
    this figure varies much less than writes/s."""
    cpu = r["servers"][0]["cpu_pct"] / 100
    return float(r["ok_per_s"] / cpu) if cpu else 0.0


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    med = statistics.median(values)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def report(rows: list[dict[str, Any]]) -> str:
    out = []
    body = []
    for load in ("max", "fixed"):
        for kind in ("none", "three"):
            rs = [r for r in rows if r["load"] == load and r["kind"] == kind]
            if not rs:
                continue
            body.append(
                [
                    "max (offered 20k/s)" if load == "max" else f"fixed {FIXED_RATE}/s",
                    "none" if kind == "none" else f"{WEBHOOKS} active",
                    len(rs),
                    spread([r["ok_per_s"] for r in rs]),
                    spread([per_cpu(r) for r in rs]),
                    "-" if load == "max" else spread([r["p50_ms"] for r in rs], "{:.2f}"),
                    "-" if load == "max" else spread([r["p99_ms"] for r in rs], "{:.1f}"),
                    sum(r["errors"] for r in rs),
                    spread([r["servers"][0]["cpu_pct"] for r in rs], "{:.0f}%"),
                    "-" if kind == "none" else spread([r["behind_at_end"] for r in rs]),
                    "-" if kind == "none" else spread([r["catch_up_s"] for r in rs], "{:.1f}"),
                ]
            )
    out.append(
        harness.table(
            [
                "load",
                "webhooks",
                "runs",
                "writes/s accepted: median (range)",
                "writes per server CPU-s",
                "p50 ms",
                "p99 ms",
                "errors",
                "server CPU",
                "deliveries behind when the load stopped",
                "catch-up s",
            ],
            body,
        )
    )
    for load in ("max", "fixed"):
        for what, value in (("writes/s", lambda r: r["ok_per_s"]), ("writes/CPU-s", per_cpu)):
            ratios = []
            for run in sorted({r["run"] for r in rows}):
                pair = {r["kind"]: r for r in rows if r["run"] == run and r["load"] == load}
                if "none" in pair and "three" in pair and value(pair["none"]):
                    ratios.append(value(pair["three"]) / value(pair["none"]))
            if ratios:
                out.append(
                    f"\n{load}, {what}: three webhooks / none = {spread(ratios, '{:.3f}')} "
                    f"(per run: {', '.join(f'{x:.3f}' for x in ratios)})"
                )
    left = [r for r in rows if r.get("still_behind")]
    if left:
        out.append(f"\nNOT caught up within 600 s in {len(left)} run(s)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--quick", action="store_true", help="1 run of 2 s: a smoke test")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.warmup = 1, 2.0, 0.5
    runs, duration, warmup = args.runs, args.duration, args.warmup
    with tempfile.TemporaryDirectory(prefix="orderlog-bench-") as tmp:
        rows = run(runs, duration, warmup, Path(tmp))
    print(report(rows))


if __name__ == "__main__":
    main()
