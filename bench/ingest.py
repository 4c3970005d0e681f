"""Ingest benchmark: full order writes per second into one and two ``orderlog serve`` processes.

    python -m bench.ingest [--quick] [--fsync always,everysec] [--duration 10]

Per Redis fsync policy: the most writes/s one process accepts (offered far above what it can
take, 64 keep-alive connections), the same with two processes (the second one on the other core),
and the latency at a fixed 1,000 writes/s. Writes are the API's real ones: a create, then two
status changes of each created order, with auth and validation. The load generator is
bench/ingest_load.c (open loop: latency counts from each request's intended send time).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path
from typing import Any

from . import harness

SATURATE_RATE = 20_000
FIXED_RATE = 1_000


def measure(
    loader: Path,
    servers: list[tuple[int, int]],
    ws: str,
    key: str,
    rate: int,
    conns: int,
    duration: float,
    warmup: float,
) -> dict[str, Any]:
    usages = [harness.Usage(pid) for _, pid in servers]
    for u in usages:
        u.start()
    ports = ",".join(str(p) for p, _ in servers)
    args = [
        "--ports",
        ports,
        "--rate",
        str(rate),
        "--conns",
        str(conns),
        "--duration",
        str(duration),
        "--warmup",
        str(warmup),
        "--workspace",
        ws,
        "--key",
        key,
    ]
    result = harness.run_loader(loader, args, timeout=duration + warmup + 30)
    result["servers"] = [u.stop() for u in usages]
    return result


def run(fsync: str, duration: float, warmup: float, logdir: Path) -> list[dict[str, Any]]:
    loader = harness.build("ingest_load")
    rows = []
    with harness.redis_server(fsync) as url:
        ws, keys = harness.create_workspace(url)
        for count in (1, 2):
            with harness.orderlog_servers(url, count, logdir) as servers:
                # a short warm-up run fills caches (auth, workflow, scripts) and the JIT-less paths
                measure(loader, servers, ws, keys["write"], 500, 8, 1, 0)
                sat = measure(
                    loader, servers, ws, keys["write"], SATURATE_RATE, 64, duration, warmup
                )
                rows.append({"fsync": fsync, "processes": count, "kind": "max", **sat})
                if count == 1:
                    fixed = measure(
                        loader, servers, ws, keys["write"], FIXED_RATE, 50, duration, warmup
                    )
                    rows.append({"fsync": fsync, "processes": 1, "kind": "fixed", **fixed})
    return rows


def per_cpu_second(rate: float, servers: list[dict[str, float]]) -> str:
    """What one fully available core would accept: the machine is shared, so the server's own
    CPU share during the run is part of the figure."""
    cpu = sum(s["cpu_pct"] for s in servers) / 100
    return f"{rate / cpu:.0f}" if cpu else "-"


def report(rows: list[dict[str, Any]]) -> str:
    out = []
    body = []
    for r in rows:
        srv = r["servers"]
        body.append(
            [
                r["fsync"],
                r["processes"],
                "max (offered 20k/s)" if r["kind"] == "max" else f"fixed {r['offered_rate']:.0f}/s",
                f"{r['ok_per_s']:.0f}",
                # at saturation the queue grows for the whole run: its latency means nothing
                *(("-",) * 3 if r["kind"] == "max" else (r["p50_ms"], r["p99_ms"], r["max_ms"])),
                r["errors"],
                " + ".join(f"{s['cpu_pct']}%" for s in srv),
                per_cpu_second(r["ok_per_s"], srv),
                " + ".join(f"{s['rss_mb']}" for s in srv),
                r["loader_cpu_pct"],
            ]
        )
    out.append(
        harness.table(
            [
                "appendfsync",
                "processes",
                "load",
                "writes/s accepted",
                "p50 ms",
                "p99 ms",
                "max ms",
                "errors",
                "server CPU",
                "writes per server CPU-s",
                "server RSS MB",
                "loader CPU %",
            ],
            body,
        )
    )
    for fsync in dict.fromkeys(r["fsync"] for r in rows):
        one = next(
            r for r in rows if r["fsync"] == fsync and r["kind"] == "max" and r["processes"] == 1
        )
        two = next(
            r for r in rows if r["fsync"] == fsync and r["kind"] == "max" and r["processes"] == 2
        )
        ratio = two["ok_per_s"] / one["ok_per_s"] if one["ok_per_s"] else 0
        out.append(f"\nappendfsync {fsync}: two processes / one = {ratio:.2f}x")
    errors = {r["first_error"] for r in rows if r["first_error"]}
    if errors:
        out.append("\nfirst error bodies: " + "; ".join(sorted(errors)))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2 s runs: a smoke test")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--fsync", default="always,everysec")
    args = p.parse_args(argv)
    duration, warmup = (2.0, 0.5) if args.quick else (args.duration, args.warmup)
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        logdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="orderlog-bench-")))
        for fsync in args.fsync.split(","):
            rows += run(fsync, duration, warmup, logdir)
    print(report(rows))


if __name__ == "__main__":
    main()
