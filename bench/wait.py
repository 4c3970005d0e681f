"""What acknowledged-by-replicas writes cost: order writes with and without WAIT.

    python -m bench.wait [--writes 1500] [--runs 7] [--concurrency 1 16]

Starts its own master and replica (``EmbeddedRedis`` on loopback ports, appendfsync everysec on
both: the embedded default's ``always`` would measure the disk, not WAIT), then, run after run,
times the same order writes through ``OrderStore`` (the write script, one round trip) without
WAIT and with ``ORDERLOG_WAIT_REPLICAS=1`` (the script and ``WAIT 1`` pipelined on one
connection), the two modes interleaved round by round (harness.Runs) so both meet the same
machine noise. Writers run ``concurrency`` at a time. Prints each mode's per-run median and p99
latency and writes/s as the median of the runs with their range, and its p50 against the
baseline's of the same round.

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

from . import harness

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
            results = harness.Runs()
            for run in range(args.runs):  # round by round: the modes meet the same moments
                for concurrency in args.concurrency:
                    for mode, store in modes.items():
                        load = harness.load_average()
                        got = await one_run(store, workspace, args.writes, concurrency)
                        results.add((mode, concurrency), load, got)
                print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
        finally:
            await replicated.close()
            await close_redis(redis)
            await asyncio.to_thread(replica.stop)
            await asyncio.to_thread(master.stop)
    rows = [
        [
            mode,
            concurrency,
            results.loads(key),
            results.spread(key, "p50", 3),
            results.spread(key, "p99", 3),
            results.spread(key, "rate", 0),
            results.ratio(key, ("no WAIT", concurrency), "p50"),
        ]
        for concurrency in args.concurrency
        for mode in modes
        for key in [(mode, concurrency)]
    ]
    return "\n".join(
        [
            harness.preamble(harness.command_line("bench.wait"), args.runs),
            f"Order writes through OrderStore, master + 1 replica on loopback (appendfsync "
            f"everysec), {args.writes} writes per mode and run.",
            "",
            harness.table(
                [
                    "mode",
                    "writers",
                    "load before",
                    "p50 ms",
                    "p99 ms",
                    "writes/s",
                    "p50 vs no WAIT",
                ],
                rows,
            ),
        ]
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=1500, help="writes per mode per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    harness.add_runs_argument(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(asyncio.run(main(parse())))
