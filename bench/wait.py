"""What acknowledged-by-replicas writes cost: order writes with and without WAIT.

    python -m bench.wait [--writes 1500] [--runs 5] [--concurrency 1 16]

Starts its own master and replica (``EmbeddedRedis`` on loopback ports, appendfsync everysec on
both: the embedded default's ``always`` would measure the disk, not WAIT), then, run after run,
times the same order writes through ``OrderStore`` (the write script, one round trip) without
WAIT and with ``ORDERLOG_WAIT_REPLICAS=1`` (the script and ``WAIT 1`` pipelined on one
connection), the two modes interleaved so both meet the same machine noise. Writers run
``concurrency`` at a time. Prints each mode's per-run median and p99 latency and writes/s as
the median of the runs with their range, and the ratio to the baseline of the same run.

On loopback a WAIT costs about one master -> replica -> master exchange (the master asks the
replicas for their offset, REPLCONF GETACK, as soon as a client waits); between hosts, add
the network's round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Run from a clone without installing: this worktree's src/ first (python -m bench.wait).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from orderlog.domain import inputs
from orderlog.domain.model import DEFAULT_WORKFLOW
from orderlog.keys import Keys
from orderlog.store.client import close_redis, make_redis
from orderlog.store.embedded import EmbeddedRedis, free_ports
from orderlog.store.orders import OrderStore
from orderlog.store.replication import Replicated
from orderlog.store.workspaces import WorkspaceStore

ORDER = {
    "customer": {"UserId": 261, "Name": "shedletsky"},
    "actor": {"UserId": 156, "Name": "builderman"},
    "items": ["Latte", {"name": "Cookie", "quantity": 2}],
}


def pair(root: Path) -> tuple[EmbeddedRedis, EmbeddedRedis]:
    ports = free_ports(2)
    master = EmbeddedRedis(
        root / "master",
        port=ports[0],
        appendfsync="everysec",
        extra_args=("--repl-diskless-sync-delay", "0"),
    )
    replica = EmbeddedRedis(
        root / "replica",
        port=ports[1],
        appendfsync="everysec",
        extra_args=("--replicaof", "127.0.0.1", str(ports[0])),
    )
    return master, replica


async def wait_in_sync(url: str) -> None:
    probe = make_redis(url)
    try:
        async with asyncio.timeout(30):
            while True:
                if (await probe.info("replication")).get("master_link_status") == "up":
                    return
                await asyncio.sleep(0.05)
    finally:
        await close_redis(probe)


async def one_run(
    store: OrderStore, workspace: str, writes: int, concurrency: int
) -> dict[str, float]:
    """``writes`` creates, ``concurrency`` at a time: latency percentiles (ms) and writes/s."""
    command = inputs.create_order(ORDER)
    latencies: list[float] = []
    left = iter(range(writes))

    async def writer() -> None:
        for _ in left:
            started = time.perf_counter()
            await store.create(workspace, command, DEFAULT_WORKFLOW)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(0.99 * (len(latencies) - 1))] * 1000,
        "rate": writes / elapsed,
    }


def summary(values: list[float], fmt: Callable[[float], str]) -> str:
    return f"{fmt(statistics.median(values))} [{fmt(min(values))}-{fmt(max(values))}]"


async def main(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="orderlog-wait-") as tmp:
        master, replica = pair(Path(tmp))
        url = await asyncio.to_thread(master.start)
        replica_url = await asyncio.to_thread(replica.start)
        redis = make_redis(url, max_connections=max(args.concurrency) + 4)
        replicated = Replicated(redis, 1, 1.0)
        try:
            await wait_in_sync(replica_url)
            keys = Keys()
            workspace, _ = await WorkspaceStore(redis, keys).create_workspace("Bench cafe")
            modes = {
                "no WAIT": OrderStore(redis, keys),
                "WAIT 1": OrderStore(redis, keys, replicated=replicated),
            }
            for store in modes.values():  # warm up: scripts loaded, connections open
                await one_run(store, workspace, 200, max(args.concurrency))
            results: dict[tuple[str, int], list[dict[str, float]]] = {}
            for run in range(args.runs):
                for concurrency in args.concurrency:
                    for mode, store in modes.items():
                        got = await one_run(store, workspace, args.writes, concurrency)
                        results.setdefault((mode, concurrency), []).append(got)
                print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
        finally:
            await replicated.close()
            await close_redis(redis)
            await asyncio.to_thread(replica.stop)
            await asyncio.to_thread(master.stop)
    return report(args, results)


def report(args: argparse.Namespace, results: dict[tuple[str, int], list[dict[str, float]]]) -> str:
    ms: Callable[[float], str] = lambda v: f"{v:.3f}"  # noqa: E731
    per_s: Callable[[float], str] = lambda v: f"{v:,.0f}"  # noqa: E731
    times: Callable[[float], str] = lambda v: f"{v:.2f}x"  # noqa: E731
    lines = [
        f"order writes through OrderStore, master + 1 replica on loopback, {args.writes} writes "
        f"per run, {args.runs} runs; median of the runs [min-max]",
        "",
        "| mode | writers | p50 ms | p99 ms | writes/s | p50 vs no WAIT |",
        "|---|---|---|---|---|---|",
    ]
    for concurrency in args.concurrency:
        base = results[("no WAIT", concurrency)]
        for mode in ("no WAIT", "WAIT 1"):
            runs = results[(mode, concurrency)]
            ratio = [r["p50"] / b["p50"] for r, b in zip(runs, base, strict=True)]
            lines.append(
                f"| {mode} | {concurrency} | {summary([r['p50'] for r in runs], ms)} | "
                f"{summary([r['p99'] for r in runs], ms)} | "
                f"{summary([r['rate'] for r in runs], per_s)} | {summary(ratio, times)} |"
            )
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=1500, help="writes per mode per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(asyncio.run(main(parse())))
