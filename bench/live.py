"""Live fan-out comparison: orderlog against peers built to the same contract, same load.

    python -m bench.live [--quick] [--servers orderlog,broadcaster,socketio] [--duration 10]

For each server and scenario (S subscribers, R events/s): a fresh Redis and a fresh server
process pinned to core 0; bench/fanout_client.c (core 1) opens S WebSocket subscribers; once all
are subscribed, bench/ingest_load.c (core 1) POSTs R creates/s open loop, each order carrying its
intended send time in metadata ({"t": ns}); the client measures intended-send-to-socket latency of
every event on every socket. Warm-up, then a measured window; the client stops itself a few
seconds after the last send. Lost = subscribers x accepted events - events received.
Idle memory per connection: the server's RSS after S idle subscribers minus before, / S.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import harness

SCENARIOS = [(100, 100), (1000, 100), (5000, 100), (1000, 1000), (5000, 10)]
QUICK_SCENARIOS = [(100, 100), (1000, 100)]
GRACE_S = 3.0
UVICORN = ["-m", "uvicorn", "--ws-per-message-deflate", "false", "--port"]


@dataclass
class Target:
    """A server under test: how to start it, where its subscribers and its ingest are."""

    port: int
    pid: int
    workspace: str
    write_key: str
    live_path: str
    header: str | None
    socketio: bool = False


@contextlib.contextmanager
def start(kind: str, url: str, logdir: Path) -> Iterator[Target]:
    env = {"PYTHONPATH": f"{harness.SRC}:{harness.ROOT}", "REDIS_URL": url, **harness.UNLIMITED}
    port = harness.free_port()
    if kind.startswith("orderlog"):
        ws, keys = harness.create_workspace(url)
        args = [sys.executable, "-m", "orderlog", "serve", "--redis-url", url, "--port", str(port)]
        if ":" in kind:  # orderlog:<impl>: uvicorn's other WebSocket implementations, same app
            impl = kind.split(":", 1)[1]
            args = [
                sys.executable,
                *UVICORN,
                str(port),
                "--ws",
                impl,
                "--ws-max-size",
                "65536",
                "--factory",
                "orderlog.app:create_app",
            ]
        path, header, write = (
            f"/v1/workspaces/{ws}/live",
            f"Authorization: Bearer {keys['read']}",
            keys["write"],
        )
    else:
        ws, write, header = "bench", "unused", None
        args = [sys.executable, *UVICORN, str(port), f"bench.peers.{kind}_app:app"]
        path = f"/v1/workspaces/{ws}/live"
        if kind == "socketio":
            path = f"/socket.io/?EIO=4&transport=websocket&w={ws}"
    with harness.process(args, harness.SERVER_CORE, logdir / f"{kind}.log", env=env) as proc:
        harness.wait_http(port)
        yield Target(port, proc.pid, ws, write, path, header, socketio=kind == "socketio")


def scenario(
    target: Target,
    subs: int,
    rate: int,
    duration: float,
    warmup: float,
    profile: Path | None = None,
) -> dict[str, Any]:
    client = harness.build("fanout_client")
    loader = harness.build("ingest_load")
    args = [
        str(client),
        "--port",
        str(target.port),
        "--path",
        target.live_path,
        "--subscribers",
        str(subs),
    ]
    if target.header:
        args += ["--header", target.header]
    if target.socketio:
        args.append("--socketio")
    rss0 = harness.rss_bytes(target.pid)
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: harness.pin(0, harness.LOAD_CORE),
    )
    try:
        assert proc.stdout
        assert proc.stdin
        ready = (
            proc.stdout.readline().decode().split()
        )  # "ready <subscribed>"; bounded by the client
        time.sleep(0.5)
        idle_rss = harness.rss_bytes(target.pid)
        usage = harness.Usage(target.pid)
        usage.start()
        start_at = time.time_ns() + 300_000_000
        w_start = start_at + int(warmup * 1e9)
        w_end = w_start + int(duration * 1e9)
        stop = w_end + int(GRACE_S * 1e9)
        proc.stdin.write(f"{w_start} {w_end} {stop}\n".encode())
        proc.stdin.flush()
        spy = harness.profile(target.pid, profile, duration + warmup) if profile else None
        pub = harness.run_loader(
            loader,
            [
                "--ports",
                str(target.port),
                "--rate",
                str(rate),
                "--conns",
                "128",
                "--duration",
                str(duration),
                "--warmup",
                str(warmup),
                "--workspace",
                target.workspace,
                "--key",
                target.write_key,
                "--mix",
                "create",
                "--start-at",
                str(start_at),
            ],
            timeout=duration + warmup + 60,
        )
        server = usage.stop()
        if spy:
            spy.wait(60)
        out, err = proc.communicate(timeout=GRACE_S + 30)
        res = harness.json.loads(out.decode().strip().splitlines()[-1])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    subscribed = int(ready[1]) if len(ready) > 1 else 0
    expected = res["subscribed"] * pub["ok"]
    return {
        "subscribers": subs,
        "rate": rate,
        "subscribed": subscribed,
        "accepted_per_s": pub["ok_per_s"],
        "publish_errors": pub["errors"] + pub["unanswered"],
        "publish_p99_ms": pub["p99_ms"],
        "delivered_per_s": res["delivered_per_s"],
        "p50_ms": res["p50_ms"],
        "p99_ms": res["p99_ms"],
        "max_ms": res["max_ms"],
        "lost": max(0, expected - res["events_received"]),
        "closed": res["closed_by_server"],
        "server_cpu": server["cpu_pct"],
        "server_rss_mb": server["rss_mb"],
        "idle_kib_per_conn": round((idle_rss - rss0) / 1024 / max(1, subscribed), 1),
        "client_cpu": res["client_cpu_pct"],
        "publisher_cpu": pub["loader_cpu_pct"],
        "stderr": err.decode(errors="replace")[-300:],
    }


def run(
    kinds: list[str],
    scenarios: list[tuple[int, int]],
    duration: float,
    warmup: float,
    fsync: str,
    logdir: Path,
    profile_dir: Path | None = None,
) -> list[dict[str, Any]]:
    rows = []
    for kind in kinds:
        for subs, rate in scenarios:
            out = profile_dir / f"{kind}-{subs}-{rate}.folded" if profile_dir else None
            with harness.redis_server(fsync) as url, start(kind, url, logdir) as target:
                row = {"server": kind, **scenario(target, subs, rate, duration, warmup, out)}
            print(format_row(row), flush=True)
            rows.append(row)
    return rows


HEADERS = [
    "server",
    "S",
    "subscribed",
    "events/s",
    "accepted/s",
    "ingest p99 ms",
    "delivered msgs/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "lost",
    "closed",
    "server CPU %",
    "msgs per server CPU-s",
    "server RSS MB",
    "idle KiB/conn",
    "client CPU %",
    "publisher CPU %",
]


def cells(r: dict[str, Any]) -> list[Any]:
    return [
        r["server"],
        r["subscribers"],
        r["subscribed"],
        r["rate"],
        f"{r['accepted_per_s']:.0f}",
        r["publish_p99_ms"],
        f"{r['delivered_per_s']:.0f}",
        r["p50_ms"],
        r["p99_ms"],
        r["max_ms"],
        r["lost"],
        r["closed"],
        r["server_cpu"],
        f"{100 * r['delivered_per_s'] / r['server_cpu']:.0f}" if r["server_cpu"] else "-",
        r["server_rss_mb"],
        r["idle_kib_per_conn"],
        r["client_cpu"],
        r["publisher_cpu"],
    ]


def format_row(r: dict[str, Any]) -> str:
    return "  " + ", ".join(f"{h}={c}" for h, c in zip(HEADERS, cells(r), strict=True))


def ratio(a: float, b: float) -> str:
    if not b:
        return "peer delivered none" if a else "-"
    return f"{a / b:.2f}x"


def report(rows: list[dict[str, Any]]) -> str:
    out = [harness.table(HEADERS, [cells(r) for r in rows])]
    ours = {(r["subscribers"], r["rate"]): r for r in rows if r["server"].startswith("orderlog")}
    ratios = []
    for r in rows:
        mine = ours.get((r["subscribers"], r["rate"]))
        if r["server"].startswith("orderlog") or not mine:
            continue
        speed = ratio(mine["delivered_per_s"], r["delivered_per_s"])
        p99 = ratio(r["p99_ms"], mine["p99_ms"]) if r["delivered_per_s"] else "-"
        ratios.append(
            [
                f"S={r['subscribers']} @ {r['rate']}/s",
                r["server"],
                speed,
                p99,
                f"{mine['lost']} vs {r['lost']}",
            ]
        )
    if ratios:
        out.append("\norderlog / peer, per row:\n")
        out.append(
            harness.table(
                [
                    "scenario",
                    "peer",
                    "delivered msgs/s ratio",
                    "p99 ratio (peer/orderlog)",
                    "lost (orderlog vs peer)",
                ],
                ratios,
            )
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short runs of the small scenarios")
    p.add_argument("--servers", default="orderlog,broadcaster,socketio")
    p.add_argument("--scenarios", help="S@R,S@R,... (default: all)")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--logs", type=Path, help="keep the servers' logs in this folder")
    p.add_argument("--profile", type=Path, help="py-spy the server of each run into this folder")
    p.add_argument(
        "--fsync",
        default="everysec",
        help="Redis appendfsync; everysec by default so the disk does not cap the event rate "
        "(with always, this machine's disk holds ~600 writes/s: see bench.ingest)",
    )
    args = p.parse_args(argv)
    scenarios = SCENARIOS
    duration, warmup = args.duration, args.warmup
    if args.quick:
        scenarios, duration, warmup = QUICK_SCENARIOS, 2.0, 0.5
    if args.scenarios:
        scenarios = [(int(s), int(r)) for s, r in (x.split("@") for x in args.scenarios.split(","))]
    with contextlib.ExitStack() as stack:
        tmp = args.logs or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="orderlog-bench-")
        )
        rows = run(
            args.servers.split(","),
            scenarios,
            duration,
            warmup,
            args.fsync,
            Path(tmp),
            args.profile,
        )
    print(report(rows))


if __name__ == "__main__":
    main()
