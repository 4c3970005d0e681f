"""Ingest benchmark: order writes per second into orderlog, beside a publish-only reference.

    python -m bench.ingest [--quick] [--fsync always,everysec] [--runs 3] [--duration 10]
                           [--profile DIR]

Per Redis fsync policy, each round (--runs of them, the load average noted before each run),
on a fresh Redis:

- orderlog, one process: the most writes/s it accepts (offered far above what it can take,
  64 keep-alive connections), with the full mix (a create, then two status changes of each
  created order, with auth and validation) and with creates only; then the latency at a fixed
  1,000 writes/s (full mix);
- the reference (bench/peers/reference_app.py: parse the JSON, PUBLISH; no auth, store or
  middleware), the same creates at the most it accepts and at 1,000/s: the floor;
- orderlog, two processes (the second on the other core), full mix at the most they accept.

The load generator is bench/ingest_load.c (open loop: latency counts from each request's
intended send time). Redis and the load generator share core 1, the server has core 0; each
row gives Redis's CPU too (per write: what a saturated server waits on). Ratios pair each
round's orderlog run with the reference's.
``--profile DIR``: in the first round, an extra saturating run of each one-process load with
py-spy on the server, not counted in the figures (``DIR/<server>-<mix>-<fsync>.folded``;
``python -m bench.profile_summary`` ranks them).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import harness

SATURATE_RATE = 20_000
FIXED_RATE = 1_000


@dataclass(frozen=True)
class Load:
    """What one measurement offers: rate, connections, request mix."""

    label: str
    rate: int
    conns: int
    mix: str  # "full" or "create"

    @property
    def saturating(self) -> bool:
        return self.rate == SATURATE_RATE


MAX_FULL = Load("max, full mix", SATURATE_RATE, 64, "full")
MAX_CREATE = Load("max, creates", SATURATE_RATE, 64, "create")
FIXED_FULL = Load(f"fixed {FIXED_RATE}/s, full mix", FIXED_RATE, 50, "full")
FIXED_CREATE = Load(f"fixed {FIXED_RATE}/s, creates", FIXED_RATE, 50, "create")
WARM_UP = Load("warm-up", 500, 8, "full")
# (server, processes, loads) in the order each round measures them
PLAN = [
    ("orderlog", 1, [MAX_FULL, MAX_CREATE, FIXED_FULL]),
    ("reference", 1, [MAX_CREATE, FIXED_CREATE]),
    ("orderlog", 2, [MAX_FULL]),
]


def measure(
    loader: Path,
    servers: list[tuple[int, int]],
    ws: str,
    key: str,
    load: Load,
    window: tuple[float, float],
    spy: Path | None = None,
    redis_pid: int | None = None,
) -> dict[str, Any]:
    """One load against ``servers`` [(port, pid)]: the loader's figures, each server's usage
    and, given its pid, Redis's."""
    duration, warmup = window
    usages = [harness.Usage(pid) for _, pid in servers]
    if redis_pid is not None:
        usages.append(harness.Usage(redis_pid))
    for u in usages:
        u.start()
    args = ["--ports", ",".join(str(p) for p, _ in servers), "--rate", str(load.rate)]
    args += ["--conns", str(load.conns), "--duration", str(duration), "--warmup", str(warmup)]
    args += ["--workspace", ws, "--key", key, "--mix", load.mix]
    profiler = harness.profile(servers[0][1], spy, duration + warmup) if spy else None
    result = harness.run_loader(loader, args, timeout=duration + warmup + 30)
    used = [u.stop() for u in usages]
    redis_cpu = used.pop()["cpu_pct"] if redis_pid is not None else None
    if profiler:
        profiler.wait(60)
    cpu = sum(u["cpu_pct"] for u in used)
    per_cpu_s = result["ok_per_s"] / (cpu / 100) if cpu else 0.0  # type: ignore[operator]
    if not result["latency_samples"]:  # no latency where nothing was answered (not a 0 ms)
        result |= {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        **result,
        "server_cpu": cpu,
        "server_cpu_each": " + ".join(f"{u['cpu_pct']}%" for u in used),
        "server_rss_mb": sum(u["rss_mb"] for u in used),
        # what one fully available core would accept: on a shared machine the server's own
        # share of its core is part of the figure
        "per_cpu_s": per_cpu_s,
        "cpu_us_per_write": 1e6 / per_cpu_s if per_cpu_s else 0.0,
        # Redis shares core 1 with the loader: what it spends per write is what a saturated
        # server waits on
        "redis_cpu": redis_cpu,
        "redis_us_per_write": (
            1e4 * redis_cpu / result["ok_per_s"]  # type: ignore[operator]
            if redis_cpu is not None and result["ok_per_s"]
            else None
        ),
    }


@contextlib.contextmanager
def servers(
    kind: str, count: int, url: str, logdir: Path
) -> Iterator[tuple[list[tuple[int, int]], str, str]]:
    """[(port, pid)], the workspace and its write key of ``count`` servers of ``kind``."""
    if kind == "orderlog":
        ws, keys = harness.create_workspace(url)
        with harness.orderlog_servers(url, count, logdir) as served:
            yield served, ws, keys["write"]
    else:
        with harness.serve(kind, url, logdir) as target:
            yield [(target.port, target.pid)], target.workspace, target.write_key


def run(
    fsync: str,
    runs: int,
    window: tuple[float, float],
    logdir: Path,
    results: harness.Runs,
    profile_dir: Path | None = None,
) -> None:
    loader = harness.build("ingest_load")
    for i in range(runs):
        with harness.redis_server(fsync) as url:
            redis_pid = harness.redis_pid(url)
            for kind, count, loads in PLAN:
                with servers(kind, count, url, logdir) as (served, ws, key):
                    # a short warm-up fills caches (auth, workflow, scripts) and imports
                    warm = WARM_UP if kind == "orderlog" else FIXED_CREATE
                    measure(loader, served, ws, key, warm, (min(1.0, window[0]), 0))
                    if profile_dir and i == 0 and count == 1:
                        spied = (loader, served, ws, key)
                        profile(spied, fsync, kind, loads, window, profile_dir)
                    for load in loads:
                        one = functools.partial(
                            measure, loader, served, ws, key, load, window, redis_pid=redis_pid
                        )
                        row = results.measure((fsync, kind, count, load), one)
                        print(format_row(f"run {i + 1}", fsync, kind, count, load, row), flush=True)


def profile(
    spied: tuple[Path, list[tuple[int, int]], str, str],
    fsync: str,
    kind: str,
    loads: list[Load],
    window: tuple[float, float],
    folder: Path,
) -> None:
    """py-spy on the server through an extra run of each saturating load, left out of the
    figures (sampling costs the server a little CPU). ``spied``: loader, servers, workspace, key."""
    for load in loads:
        if load.saturating:
            spy = folder / f"{kind}-{load.mix}-{fsync}.folded"
            before = harness.load_average()
            row = measure(*spied, load, window, spy) | {"load": before}
            print(format_row("profiled, not counted", fsync, kind, 1, load, row) + f" -> {spy}")


def format_row(run: str, fsync: str, kind: str, count: int, load: Load, r: dict[str, Any]) -> str:
    latency = "" if load.saturating else f", p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"
    return (
        f"  {run} (load before {r['load']:.2f}): appendfsync {fsync}, {kind} x{count}, "
        f"{load.label}: {r['ok_per_s']:.0f} writes/s{latency}, errors {r['errors']}, "
        f"server CPU {r['server_cpu_each']}, {r['cpu_us_per_write']:.0f} us CPU per write"
    )


# (title, row field, digits) of the table, after the scenario columns
FIGURES = [
    ("writes/s accepted", "ok_per_s", 0),
    ("p50 ms", "p50_ms", 2),
    ("p99 ms", "p99_ms", 2),
    ("max ms", "max_ms", 1),
    ("errors", "errors", 0),
    ("server CPU % (all processes)", "server_cpu", 0),
    ("writes per server CPU-s", "per_cpu_s", 0),
    ("server CPU us per write", "cpu_us_per_write", 0),
    ("server RSS MB", "server_rss_mb", 0),
    ("loader CPU %", "loader_cpu_pct", 0),
    ("Redis CPU %", "redis_cpu", 0),
    ("Redis CPU us per write", "redis_us_per_write", 0),
]
LATENCIES = {"p50_ms", "p99_ms", "max_ms"}


def report(results: harness.Runs, fsyncs: list[str]) -> str:
    body = []
    for fsync in fsyncs:
        for kind, count, loads in PLAN:
            for load in loads:
                key = (fsync, kind, count, load)
                cells = [
                    # at saturation the queue grows for the whole run: its latency means nothing
                    "-" if load.saturating and name in LATENCIES else results.spread(key, name, d)
                    for _, name, d in FIGURES
                ]
                runs = len(results.rows.get(key, []))
                body.append([fsync, kind, count, load.label, runs, results.loads(key), *cells])
    titles = ["appendfsync", "server", "processes", "load", "runs", "load before"]
    out = [harness.table([*titles, *(t for t, _, _ in FIGURES)], body)]
    ratios = []
    for fsync in fsyncs:
        one, two = (fsync, "orderlog", 1, MAX_FULL), (fsync, "orderlog", 2, MAX_FULL)
        creates, floor = (fsync, "orderlog", 1, MAX_CREATE), (fsync, "reference", 1, MAX_CREATE)
        fixed, fixed_floor = (
            (fsync, "orderlog", 1, FIXED_FULL),
            (fsync, "reference", 1, FIXED_CREATE),
        )
        pairs = [
            ("creates/s at saturation", creates, floor, "ok_per_s"),
            ("creates per server CPU-s", creates, floor, "per_cpu_s"),
            (
                f"p99 at {FIXED_RATE}/s (orderlog full mix, reference creates)",
                fixed,
                fixed_floor,
                "p99_ms",
            ),
            ("orderlog two processes / one (full mix, writes/s)", two, one, "ok_per_s"),
        ]
        ratios += [[fsync, title, results.ratio(a, b, name)] for title, a, b, name in pairs]
    out.append("\norderlog / reference, run by run (median of the per-run ratios, range):\n")
    out.append(harness.table(["appendfsync", "figure", "ratio"], ratios))
    errors = {r["first_error"] for rows in results.rows.values() for r in rows if r["first_error"]}
    if errors:
        out.append("\nfirst error bodies: " + "; ".join(sorted(errors)))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2 s runs: a smoke test")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--fsync", default="always,everysec")
    p.add_argument("--profile", type=Path, help="py-spy the saturated runs of round 1 into DIR")
    harness.add_runs_argument(p)
    args = p.parse_args(argv)
    window = (2.0, 0.5) if args.quick else (args.duration, args.warmup)
    fsyncs = args.fsync.split(",")
    print(harness.preamble(harness.command_line("bench.ingest"), args.runs), flush=True)
    results = harness.Runs()
    with contextlib.ExitStack() as stack:
        logdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="orderlog-bench-")))
        for fsync in fsyncs:
            run(fsync, args.runs, window, logdir, results, args.profile)
    print(report(results, fsyncs))


if __name__ == "__main__":
    main()
