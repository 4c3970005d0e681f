"""Live fan-out: orderlog beside a publish-only reference and peers, same contract, same run.

    python -m bench.live [--quick] [--servers orderlog,reference,broadcaster,socketio]
                         [--scenarios 1000@100,...] [--runs 3] [--duration 10]

Each scenario (S subscribers, R events/s) is measured --runs times; a round runs every server
once, back to back, so orderlog and the reference (bench/peers/reference_app.py: parse, PUBLISH,
one write per socket per tick) meet the same moment of the machine and their ratio is taken run
by run. Each run: the load average, then a fresh Redis and a fresh server process pinned to
core 0; bench/fanout_client.c (core 1) opens S WebSocket subscribers; once all are subscribed,
bench/ingest_load.c (core 1) POSTs R creates/s open loop, each order carrying its intended send
time in metadata ({"t": ns}); the client measures intended-send-to-socket latency of every event
on every socket. Warm-up, then a measured window; the client stops itself --grace seconds after
the last send. Lost = subscribers x accepted events - events received.
Idle memory per connection: the server's RSS after S idle subscribers minus before, / S.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from . import harness

SCENARIOS = [(100, 100), (1000, 100), (5000, 100), (1000, 1000), (5000, 10)]
QUICK_SCENARIOS = [(100, 100), (1000, 100)]
SERVERS = "orderlog,reference,broadcaster,socketio"


def scenario(
    target: harness.Target,
    subs: int,
    rate: int,
    duration: float,
    warmup: float,
    grace: float,
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
        stop = w_end + int(grace * 1e9)
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
        out, err = proc.communicate(timeout=grace + 30)
        res = harness.json.loads(out.decode().strip().splitlines()[-1])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    subscribed = int(ready[1]) if len(ready) > 1 else 0
    expected = res["subscribed"] * pub["ok"]
    cpu = server["cpu_pct"]
    return {
        "subscribers": subs,
        "rate": rate,
        "subscribed": subscribed,
        "accepted_per_s": pub["ok_per_s"],
        "publish_errors": pub["errors"] + pub["unanswered"],
        # no latency where nothing arrived: None, not a 0 ms that would read as a fast run
        "publish_p99_ms": pub["p99_ms"] if pub["latency_samples"] else None,
        "delivered_per_s": res["delivered_per_s"],
        **{
            name: res[name] if res["events_in_window"] else None
            for name in ("p50_ms", "p99_ms", "max_ms")
        },
        "lost": max(0, expected - res["events_received"]),
        "closed": res["closed_by_server"],
        "server_cpu": cpu,
        "msgs_per_cpu_s": round(100 * res["delivered_per_s"] / cpu) if cpu else 0,
        "server_rss_mb": server["rss_mb"],
        "idle_kib_per_conn": round((idle_rss - rss0) / 1024 / max(1, subscribed), 1),
        "client_cpu": res["client_cpu_pct"],
        "publisher_cpu": pub["loader_cpu_pct"],
        "stderr": err.decode(errors="replace")[-300:],
    }


def served(
    kind: str,
    subs: int,
    rate: int,
    window: tuple[float, float, float],
    fsync: str,
    logdir: Path,
    spy: Path | None,
) -> dict[str, Any]:
    """One run of one server: a fresh Redis, a fresh server, the scenario."""
    with harness.redis_server(fsync) as url, harness.serve(kind, url, logdir) as target:
        return {"server": kind, **scenario(target, subs, rate, *window, spy)}


def run(
    kinds: list[str],
    scenarios: list[tuple[int, int]],
    runs: int,
    window: tuple[float, float, float],
    fsync: str,
    logdir: Path,
    profile_dir: Path | None = None,
) -> harness.Runs:
    """Every scenario ``runs`` times; each round runs every server once, back to back.
    ``window``: (duration, warm-up, grace) in seconds. With ``profile_dir``, an extra first
    round runs py-spy on each server, left out of the figures (sampling costs the server CPU)."""
    results = harness.Runs()
    for subs, rate in scenarios:
        if profile_dir:
            for kind in kinds:
                spy = profile_dir / f"{kind}-{subs}-{rate}.folded"
                before = harness.load_average()
                row = served(kind, subs, rate, window, fsync, logdir, spy) | {"load": before}
                print(format_row("profiled, not counted", row) + f" -> {spy}", flush=True)
        for i in range(runs):
            for kind in kinds:
                one = functools.partial(served, kind, subs, rate, window, fsync, logdir, None)
                row = results.measure((kind, subs, rate), one)
                print(format_row(f"run {i + 1}", row), flush=True)
    return results


# (title, row field, digits) of the summary table, after server, S, events/s, runs, load
FIGURES = [
    ("subscribed", "subscribed", 0),
    ("accepted/s", "accepted_per_s", 0),
    ("ingest p99 ms", "publish_p99_ms", 1),
    ("delivered msgs/s", "delivered_per_s", 0),
    ("p50 ms", "p50_ms", 1),
    ("p99 ms", "p99_ms", 1),
    ("max ms", "max_ms", 1),
    ("lost", "lost", 0),
    ("closed", "closed", 0),
    ("server CPU %", "server_cpu", 0),
    ("msgs per server CPU-s", "msgs_per_cpu_s", 0),
    ("server RSS MB", "server_rss_mb", 0),
    ("idle KiB/conn", "idle_kib_per_conn", 1),
    ("client CPU %", "client_cpu", 0),
    ("publisher CPU %", "publisher_cpu", 1),
]
# (title, row field) of the ratio table: orderlog / the other server, run by run
RATIOS = [
    ("delivered msgs/s", "delivered_per_s"),
    ("p50", "p50_ms"),
    ("p99", "p99_ms"),
    ("ingest p99", "publish_p99_ms"),
    ("msgs per server CPU-s", "msgs_per_cpu_s"),
    ("server RSS", "server_rss_mb"),
]


def format_row(run: str, r: dict[str, Any]) -> str:
    head = f"  {run} (load before {r['load']:.2f}): {r['server']}, S={r['subscribers']}"
    body = ", ".join(f"{title}={r[name]}" for title, name, _ in FIGURES)
    return f"{head}, events/s={r['rate']}, {body}"


def report(results: harness.Runs, kinds: list[str], scenarios: list[tuple[int, int]]) -> str:
    body = []
    for subs, rate in scenarios:
        for kind in kinds:
            key = (kind, subs, rate)
            cells = [results.spread(key, name, digits) for _, name, digits in FIGURES]
            runs = len(results.rows.get(key, []))
            body.append([kind, subs, rate, runs, results.loads(key), *cells])
    titles = ["server", "S", "events/s", "runs", "load before", *(t for t, _, _ in FIGURES)]
    out = [harness.table(titles, body)]
    mine = next((k for k in kinds if k == "orderlog"), None) or next(
        (k for k in kinds if k.startswith("orderlog")), None
    )
    others = [k for k in kinds if k != mine]
    if mine and others:
        ratios = []
        for subs, rate in scenarios:
            for other in others:
                a, b = (mine, subs, rate), (other, subs, rate)
                lost = f"{results.spread(a, 'lost', 0)} vs {results.spread(b, 'lost', 0)}"
                cells = [results.ratio(a, b, name) for _, name in RATIOS]
                ratios.append([f"S={subs} @ {rate}/s", other, *cells, lost])
        out.append(
            f"\n{mine} / other server, run by run (median of the per-run ratios, range); "
            "'-': no run in which both had the figure (nothing delivered). Latency below 1 is "
            "better for orderlog, msgs/s above 1.\n"
        )
        out.append(
            harness.table(
                ["scenario", "other", *(t for t, _ in RATIOS), f"lost ({mine} vs other)"],
                ratios,
            )
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short runs of the small scenarios")
    p.add_argument("--servers", default=SERVERS, help=f"comma-separated (default {SERVERS})")
    p.add_argument("--scenarios", help="S@R,S@R,... (default: all)")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument(
        "--grace",
        type=float,
        default=3.0,
        help="seconds the subscribers keep reading after the last send (late counts as lost)",
    )
    harness.add_runs_argument(p)
    p.add_argument("--logs", type=Path, help="keep the servers' logs in this folder")
    p.add_argument(
        "--profile",
        type=Path,
        help="py-spy each server in an extra, uncounted run of each scenario: "
        "DIR/<server>-<S>-<R>.folded",
    )
    p.add_argument(
        "--fsync",
        default="everysec",
        help="Redis appendfsync; everysec by default so the disk does not cap the event rate "
        "(with always, this machine's disk holds ~600 writes/s: see bench.ingest)",
    )
    args = p.parse_args(argv)
    scenarios = SCENARIOS
    window = (args.duration, args.warmup, args.grace)
    if args.quick:
        scenarios, window = QUICK_SCENARIOS, (2.0, 0.5, args.grace)
    if args.scenarios:
        scenarios = [(int(s), int(r)) for s, r in (x.split("@") for x in args.scenarios.split(","))]
    kinds = args.servers.split(",")
    print(harness.preamble(harness.command_line("bench.live"), args.runs), flush=True)
    with contextlib.ExitStack() as stack:
        tmp = args.logs or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="orderlog-bench-")
        )
        results = run(kinds, scenarios, args.runs, window, args.fsync, Path(tmp), args.profile)
    print(report(results, kinds, scenarios))


if __name__ == "__main__":
    main()
