"""Webhooks benchmark: ingest with three active webhooks, beside the same ingest with none.

    python -m bench.webhooks [--quick] [--runs 3] [--duration 10] [--warmup 2] [--profile DIR]

One ``orderlog serve`` process (core 0), one embedded Redis (appendfsync always), three
receivers on loopback (bench/peers/receiver.py: 204 at once, counting) and the load generator
(bench/ingest_load.c, the full mix: a create, then two status changes of each order), all but
the server on core 1. Each round (--runs of them, the load average noted before each run)
measures, back to back and in alternating order, the ingest with no webhook and with three
fresh webhooks receiving every event: the most writes/s the process accepts (offered 20k/s on
64 connections), then a fixed 1,000 writes/s (latency). After each run with webhooks it waits
until the receivers have every event and reports how many deliveries were still to make when
the load stopped and how long catching up took: under saturation deliveries yield to ingest
(outbound/governor.py) and catch up afterwards. Ratios pair each round's two runs. Each run's
line also says where the CPU went: each core's busy share, the CPU of Redis, the receivers and
the load generator (the core-1 processes), the deliveries made during the run, and the Redis
commands per write (and per delivery in the catch-up) from ``INFO commandstats``.

``--profile DIR``: after the rounds, one more saturating run with three webhooks under py-spy
(not counted in the figures), and the share of the server's samples spent in webhook code: what
the webhooks cost the ingest, measured inside the process, whatever the machine's other load.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import resource
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import harness
from .ingest import FIXED_FULL, MAX_FULL, WARM_UP, Load, measure

WEBHOOKS = 3
LOADS = [MAX_FULL, FIXED_FULL]
KINDS = ("none", "three")
CATCH_UP_LIMIT = 600.0
# Where webhook work happens in the server (a sample whose stack passes through any of them).
WEBHOOK_CODE = (
    "orderlog/outbound/",
    "orderlog/store/delivery.py",
    "orderlog/store/webhooks.py",
    "orderlog/domain/discord.py",
    "orderlog/domain/webhooks.py",
)


@contextlib.contextmanager
def receivers(count: int, logdir: Path) -> Iterator[tuple[list[int], int]]:
    """([ports], pid) of one receiver process listening on ``count`` ports."""
    ports = [harness.free_port() for _ in range(count)]
    args = [sys.executable, "-m", "bench.peers.receiver", *map(str, ports)]
    with harness.process(args, harness.LOAD_CORE, logdir / "receivers.log") as proc:
        for port in ports:
            harness.wait_http(port, "/")
        yield ports, proc.pid


def core_busy() -> list[float]:
    """Each core's busy time so far, in seconds (/proc/stat: all but idle and iowait)."""
    out = []
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name.startswith("cpu") and name != "cpu":
            values = [int(t) for t in ticks]
            out.append((sum(values[:8]) - values[3] - values[4]) / harness.TICK)
    return out


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the load generator's runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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


class Bench:
    """One server, its Redis, workspace and receivers, for every run of every round."""

    def __init__(self, url: str, server: tuple[int, int], ws: str, keys: dict[str, str]) -> None:
        import redis as redis_py

        sys.path.insert(0, str(harness.SRC))
        from orderlog.keys import Keys

        self.redis = redis_py.Redis.from_url(url, decode_responses=True, socket_timeout=60)
        self.stream = Keys().events(ws)
        self.server = server
        self.ws = ws
        self.keys = keys
        self.loader = harness.build("ingest_load")
        self.ports: list[int] = []
        self.redis_pid = int(self.redis.info("server")["process_id"])
        self.receivers_pid = 0

    def added(self) -> int:
        """Entries ever added to the workspace's stream (Redis >= 7; 0 before the first)."""
        if not self.redis.exists(self.stream):
            return 0
        return int(self.redis.xinfo_stream(self.stream)["entries-added"])

    def commands(self) -> dict[str, int]:
        stats = self.redis.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}

    def commands_since(self, before: dict[str, int]) -> dict[str, int]:
        now = self.commands()
        moved = {name: calls - before.get(name, 0) for name, calls in now.items()}
        return {name: n for name, n in sorted(moved.items(), key=lambda i: -i[1]) if n}

    def usage(self) -> dict[str, Any]:
        """What the core-1 processes, the cores and Redis have done so far."""
        return {
            "at": time.monotonic(),
            "redis": harness.cpu_seconds(self.redis_pid),
            "receivers": harness.cpu_seconds(self.receivers_pid),
            "loader": children_cpu(),
            "cores": core_busy(),
            "commands": self.commands(),
        }

    def used(self, seen: dict[str, Any], writes: float) -> dict[str, Any]:
        """CPU % of each core-1 process and of each core since ``seen``; Redis commands."""
        now = self.usage()
        wall = now["at"] - seen["at"]

        def pct(a: float, b: float) -> float:
            return round(100 * (b - a) / wall, 1)

        commands = self.commands_since(seen["commands"])
        return {
            **{f"{p}_cpu": pct(seen[p], now[p]) for p in ("redis", "receivers", "loader")},
            "cores": [pct(a, b) for a, b in zip(seen["cores"], now["cores"], strict=True)],
            "run_commands": commands,
            "commands_per_write": round(sum(commands.values()) / writes, 2) if writes else 0,
        }

    def run(
        self, kind: str, load: Load, window: tuple[float, float], spy: Path | None = None
    ) -> dict[str, Any]:
        port, base = self.server[0], f"/v1/workspaces/{self.ws}/webhooks"
        made = []
        if kind == "three":
            for p in self.ports:
                hook = {"url": f"http://127.0.0.1:{p}/"}
                made.append(api(port, "POST", base, self.keys["admin"], hook))
        first, before = self.added(), received(self.ports)
        seen = self.usage()
        row = measure(self.loader, [self.server], self.ws, self.keys["write"], load, window, spy)
        row |= self.used(seen, self.added() - first)
        after_run = self.commands()
        row |= {"deliveries": None, "behind_at_end": None, "catch_up_s": None}
        row["delivered_during"] = received(self.ports) - before
        if made:
            # Writes in flight when the loader stopped land a moment later: re-read each time.
            def behind() -> int:
                return (self.added() - first) * len(made) - (received(self.ports) - before)

            row["behind_at_end"] = behind()
            started = time.monotonic()
            while behind() > 0 and time.monotonic() - started < CATCH_UP_LIMIT:
                time.sleep(0.05)
            row["catch_up_s"] = round(time.monotonic() - started, 2)
            time.sleep(0.5)
            row["still_behind"] = behind()  # < 0 would be an event delivered twice
            row["deliveries"] = (self.added() - first) * len(made)
            row["catch_up_commands"] = self.commands_since(after_run)
            for hook in made:
                api(port, "DELETE", f"{base}/{hook['id']}", self.keys["admin"])
        return row


def webhook_share(folded: Path) -> tuple[float, int]:
    """(share of the samples whose stack passes through webhook code, samples in all)."""
    total = hooked = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        if any(part in stack for part in WEBHOOK_CODE):
            hooked += int(count)
    return (hooked / total if total else 0.0), total


def run(
    runs: int,
    window: tuple[float, float],
    logdir: Path,
    results: harness.Runs,
    profile_dir: Path | None = None,
) -> str:
    sys.path.insert(0, str(harness.SRC))
    from orderlog.sealing import new_key

    env = {"ORDERLOG_WEBHOOK_ALLOW_PRIVATE": "1", "ORDERLOG_SECRET_KEY": new_key()}
    with (
        harness.redis_server("always") as url,
        receivers(WEBHOOKS, logdir) as (ports, receivers_pid),
        harness.orderlog_servers(url, 1, logdir, env=env) as served,
    ):
        ws, keys = harness.create_workspace(url)
        bench = Bench(url, served[0], ws, keys)
        bench.ports, bench.receivers_pid = ports, receivers_pid
        # a short warm-up fills caches (auth, workflow, scripts) and imports
        bench.run("three", WARM_UP, (min(1.0, window[0]), 0))
        for i in range(runs):
            for load in LOADS:
                order = KINDS if i % 2 == 0 else KINDS[::-1]
                for kind in order:
                    one = functools.partial(bench.run, kind, load, window)
                    row = results.measure((load, kind), one)
                    print(format_row(i + 1, load, kind, row), flush=True)
        profiled = ""
        if profile_dir is not None:
            spy = profile_dir / "webhooks-three-max.folded"
            row = bench.run("three", MAX_FULL, window, spy) | {"load": harness.load_average()}
            share, samples = webhook_share(spy)
            profiled = (
                f"\nProfiled saturating run with three webhooks (py-spy, not counted above): "
                f"{row['ok_per_s']:.0f} writes/s; webhook code in {share:.1%} of the server's "
                f"{samples} samples ({spy})"
            )
            print(format_row(0, MAX_FULL, "three", row) + " [profiled]", flush=True)
        bench.redis.close()
        return profiled


def format_row(run: int, load: Load, kind: str, r: dict[str, Any]) -> str:
    latency = "" if load.saturating else f", p99 {r['p99_ms']} ms"
    extra = ""
    if kind == "three":
        extra = (
            f"; {r['behind_at_end']} of {r['deliveries']} deliveries to make when it stopped, "
            f"caught up in {r['catch_up_s']} s ({r['still_behind']} left)"
        )
        if r["behind_at_end"]:
            moved = r["catch_up_commands"]
            per = sum(moved.values()) / r["behind_at_end"]
            top = ", ".join(f"{n} {c}" for n, c in list(moved.items())[:10])
            extra += f"\n    catch-up: Redis {per:.2f} commands per delivery ({top})"
    top = ", ".join(f"{n} {c}" for n, c in list(r["run_commands"].items())[:8])
    return (
        f"  run {run} (load before {r['load']:.2f}): {load.label}, {kind} webhooks: "
        f"{r['ok_per_s']:.0f} writes/s{latency}, errors {r['errors']}, server CPU "
        f"{r['server_cpu_each']}, {r['per_cpu_s']:.0f} writes per server CPU-s{extra}\n"
        f"    cores busy {r['cores']} %; core 1: redis {r['redis_cpu']}%, receivers "
        f"{r['receivers_cpu']}%, loader {r['loader_cpu']}%; {r['delivered_during']} delivered "
        f"during the run; Redis {r['commands_per_write']} commands per write ({top})"
    )


FIGURES = [
    ("writes/s accepted", "ok_per_s", 0),
    ("p50 ms", "p50_ms", 2),
    ("p99 ms", "p99_ms", 2),
    ("errors", "errors", 0),
    ("server CPU %", "server_cpu", 0),
    ("writes per server CPU-s", "per_cpu_s", 0),
    ("deliveries to make when the load stopped", "behind_at_end", 0),
    ("of deliveries due", "deliveries", 0),
    ("catch-up s", "catch_up_s", 1),
]


def report(results: harness.Runs) -> str:
    body = []
    for load in LOADS:
        for kind in KINDS:
            key = (load, kind)
            cells = []
            for _, name, digits in FIGURES:
                skip = (load.saturating and name in ("p50_ms", "p99_ms")) or (
                    kind == "none" and name in ("behind_at_end", "deliveries", "catch_up_s")
                )
                cells.append("-" if skip else results.spread(key, name, digits))
            label = "none" if kind == "none" else f"{WEBHOOKS} active"
            runs = len(results.rows.get(key, []))
            body.append([load.label, label, runs, results.loads(key), *cells])
    titles = ["load", "webhooks", "runs", "load before", *(t for t, _, _ in FIGURES)]
    out = [harness.table(titles, body)]
    ratios = []
    for load in LOADS:
        three, none = (load, "three"), (load, "none")
        ratios.append([load.label, "writes/s", results.ratio(three, none, "ok_per_s")])
        ratios.append(
            [load.label, "writes per server CPU-s", results.ratio(three, none, "per_cpu_s")]
        )
        if not load.saturating:
            ratios.append([load.label, "p99", results.ratio(three, none, "p99_ms")])
    out.append("\nthree webhooks / none, run by run (median of the per-run ratios, range):\n")
    out.append(harness.table(["load", "figure", "ratio"], ratios))
    left = [r for rows in results.rows.values() for r in rows if r.get("still_behind")]
    if left:
        out.append(f"\nNOT every delivery counted as expected in {len(left)} run(s): {left}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2 s runs: a smoke test")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--profile", type=Path, help="py-spy one more saturated run into DIR")
    harness.add_runs_argument(p)
    args = p.parse_args(argv)
    window = (2.0, 0.5) if args.quick else (args.duration, args.warmup)
    print(harness.preamble(harness.command_line("bench.webhooks"), args.runs), flush=True)
    results = harness.Runs()
    with tempfile.TemporaryDirectory(prefix="orderlog-bench-") as tmp:
        profiled = run(args.runs, window, Path(tmp), results, args.profile)
    print(report(results) + profiled)


if __name__ == "__main__":
    main()
