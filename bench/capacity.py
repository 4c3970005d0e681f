"""Capacity: the model's inputs measured on this machine, what a deployment needs, and checks.

    python -m bench.capacity [--quick] [--runs 3] [--duration 10] [--no-cluster]

docs/capacity.md explains the model. Each run (the load average noted before it):

- **writes**: a fresh Redis (appendfsync everysec) and one ``orderlog serve``; the full mix (a
  create, then two status changes of each order) at 1,000 writes/s, then at saturation.
  Server CPU per write (us) at saturation; Redis per write from INFO before and after the
  fixed-rate window: CPU (us, used_cpu_user + used_cpu_sys), AOF bytes, network bytes in and
  out; Redis memory per order (used_memory, every order with its hash, indexes and 3 events).
- **fan-out**: creates into a server without sockets (the ingest alone), then bench.live's
  scenario with 1 and 10 sockets at 500 events/s and 1,000 sockets at 100/s: the server CPU
  per event a process hears (1 socket above none), per message written alone (10 above 1)
  and in batches (1,000 above none); memory per idle socket.
- **check, --workers 2**: ``orderlog serve --workers 2`` on one port at 1,000 writes/s (full
  mix): server CPU per write summed over the processes, against the one-process figure (the
  model adds CPU linearly over processes), and every write accepted.
- **check, cluster**: 150 workspaces written round-robin through one server, on a standalone
  Redis and on three masters (Redis >= 7): the writes per master against the even spread the
  model assumes, each master's memory per order and CPU per write against the standalone's.

Figures are medians of the runs with their range; the model's table uses the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis as sync_redis

from . import harness, ingest, live

FIXED = ingest.Load("fixed 1000/s, full mix", 1_000, 50, "full")
FANOUT_RATE, BATCH_RATE = 500, 100  # events/s with 1 and 10 sockets; with 1,000
WORKSPACES_ON_CLUSTER = 150  # (each key id is drawn for its workspace's slot: ~15 ms each)

# The deployments the table sizes: (workspaces, writes/s at peak, open screens, orders per
# workspace per day).
DEPLOYMENTS = [
    (1, 2, 10, 300),
    (100, 50, 500, 300),
    (1_000, 500, 5_000, 300),
    (10_000, 5_000, 50_000, 300),
    (50_000, 20_000, 200_000, 300),
]
# What the table assumes (docs/capacity.md, "Assumptions").
TARGET_CPU = 0.6  # of a core a process or a Redis master is planned to use at peak
PROCESS_MIB = 45  # an idle orderlog process
SHARD_MEMORY_GIB = 16  # planned used_memory per Redis master
RETENTION_DAYS = 90  # the workspace setting's default
WRITES_PER_ORDER = 3  # the full mix: a create and two status changes
STREAM_MAXLEN = 100_000  # ORDERLOG_STREAM_MAXLEN's default (events kept per workspace)


def redis_info(url: str) -> dict[str, Any]:
    client = sync_redis.Redis.from_url(url)
    try:
        info: dict[str, Any] = client.info("all")
    finally:
        client.close()
    return info


def redis_delta(before: dict[str, Any], after: dict[str, Any], writes: int) -> dict[str, float]:
    """Redis's cost per write between two INFO readings."""
    cpu = sum(after[k] - before[k] for k in ("used_cpu_user", "used_cpu_sys"))
    per = max(1, writes)
    return {
        "redis_cpu_us": 1e6 * cpu / per,
        "aof_bytes": (after.get("aof_current_size", 0) - before.get("aof_current_size", 0)) / per,
        "net_in_bytes": (after["total_net_input_bytes"] - before["total_net_input_bytes"]) / per,
        "net_out_bytes": (after["total_net_output_bytes"] - before["total_net_output_bytes"]) / per,
    }


def writes_run(loader: Path, window: tuple[float, float], logdir: Path) -> dict[str, Any]:
    """One process: Redis cost per write at 1,000/s, server CPU per write at saturation."""
    with (
        harness.redis_server("everysec") as url,
        ingest.servers("orderlog", 1, url, logdir) as (served, ws, key),
    ):
        ingest.measure(loader, served, ws, key, ingest.WARM_UP, (1.0, 0))
        before = redis_info(url)
        fixed = ingest.measure(loader, served, ws, key, FIXED, window)
        after = redis_info(url)
        saturated = ingest.measure(loader, served, ws, key, ingest.MAX_FULL, window)
        end = redis_info(url)
        event_bytes = stream_bytes_per_event(url, ws)
    written = int(fixed["ok"])
    orders = written / WRITES_PER_ORDER
    kept = int(fixed["ok"]) + int(saturated["ok"])
    return {
        **redis_delta(before, after, written),
        "server_cpu_us": saturated["cpu_us_per_write"],
        "server_cpu_us_fixed": fixed["cpu_us_per_write"],
        "fixed_p99_ms": fixed["p99_ms"],
        "memory_per_order": (end["used_memory"] - before["used_memory"])
        / max(1, kept / WRITES_PER_ORDER),
        "event_bytes": event_bytes,
        "orders": orders,
    }


def stream_bytes_per_event(url: str, workspace: str) -> float:
    """The workspace's event stream: bytes per entry (MEMORY USAGE over XLEN)."""
    sys.path.insert(0, str(harness.SRC))
    from orderlog.keys import Keys

    client = sync_redis.Redis.from_url(url)
    try:
        key = Keys().events(workspace)
        used = client.memory_usage(key, samples=0) or 0
        return float(used) / max(1, int(client.xlen(key)))
    finally:
        client.close()


def fanout_run(loader: Path, window: tuple[float, float, float], logdir: Path) -> dict:
    """Creates into a server with no socket (the ingest alone), then with 1 and 10 sockets on
    the workspace, at 500/s: the CPU above the ingest alone, with one socket, is an event heard
    and written once; each further socket's, one more message written alone. Then 1,000
    sockets at 100 events/s: per message, the CPU above the ingest alone at that rate (each
    write then carries the events that arrived during a sweep over the sockets)."""
    cpu: dict[tuple[int, int], float] = {}  # (sockets, rate) -> CPU-seconds per second
    msgs: dict[tuple[int, int], float] = {}
    events: dict[tuple[int, int], float] = {}
    many = {}
    for rate in (FANOUT_RATE, BATCH_RATE):
        load = ingest.Load(f"fixed {rate}/s, creates", rate, 16, "create")
        with (
            harness.redis_server("everysec") as url,
            ingest.servers("orderlog", 1, url, logdir) as (served, ws, key),
        ):
            ingest.measure(loader, served, ws, key, ingest.WARM_UP, (1.0, 0))
            alone = ingest.measure(loader, served, ws, key, load, window[:2])
        cpu[0, rate], msgs[0, rate] = alone["server_cpu"] / 100, 0.0
    for subs, rate in ((1, FANOUT_RATE), (10, FANOUT_RATE), (1_000, BATCH_RATE)):
        with harness.redis_server("everysec") as url, harness.serve("orderlog", url, logdir) as t:
            row = live.scenario(t, subs, rate, *window)
        cpu[subs, rate] = row["server_cpu"] / 100
        msgs[subs, rate] = float(row["delivered_per_s"] or 0)
        events[subs, rate] = row["accepted_per_s"] or 1.0
        many[subs] = row

    def per(a: tuple[int, int], b: tuple[int, int]) -> float:
        return 1e6 * max(0.0, cpu[b] - cpu[a]) / max(1.0, msgs[b] - msgs[a])

    one = (1, FANOUT_RATE)
    return {
        "event_cpu_us": 1e6 * max(0.0, cpu[one] - cpu[0, FANOUT_RATE]) / events[one],
        "msg_cpu_us": per(one, (10, FANOUT_RATE)),
        "batched_msg_cpu_us": per((0, BATCH_RATE), (1_000, BATCH_RATE)),
        "socket_kib": many[1_000]["idle_kib_per_conn"],
        "delivered_per_s": msgs[1_000, BATCH_RATE],
        "lost": sum(r["lost"] for r in many.values()),
    }


def process_tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every process under it (uvicorn's workers)."""
    total = 0.0
    todo = [pid]
    while todo:
        one = todo.pop()
        with contextlib.suppress(OSError):
            total += harness.cpu_seconds(one)
            for task in Path(f"/proc/{one}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return total


def workers_run(loader: Path, window: tuple[float, float], logdir: Path) -> dict[str, Any]:
    """``orderlog serve --workers 2``: CPU per write over all its processes at 1,000/s."""
    with harness.redis_server("everysec") as url:
        ws, keys = harness.create_workspace(url)
        port = harness.free_port()
        args = [*harness.orderlog_command(url, port), "--workers", "2"]
        env = {"PYTHONPATH": str(harness.SRC), **harness.UNLIMITED}
        with harness.process(args, harness.SERVER_CORE, logdir / "workers.log", env=env) as p:
            harness.wait_http(port)
            time.sleep(1.0)  # both workers up
            for pid in [p.pid, *_children(p.pid)]:
                harness.pin(pid, harness.SERVER_CORE)  # all on the server core, as one process
            warm = ["--ports", str(port), "--workspace", ws, "--key", keys["write"]]
            harness.run_loader(loader, [*warm, "--rate", "500", "--duration", "1"], timeout=30)
            cpu0, t0 = process_tree_cpu(p.pid), time.monotonic()
            args2 = [*warm, "--rate", str(FIXED.rate), "--conns", str(FIXED.conns)]
            args2 += ["--duration", str(window[0]), "--warmup", str(window[1]), "--mix", "full"]
            result = harness.run_loader(loader, args2, timeout=sum(window) + 30)
            cpu = process_tree_cpu(p.pid) - cpu0
            wall = time.monotonic() - t0
    sent = int(result["ok"]) + int(result["errors"])  # type: ignore[call-overload]
    per_s = int(result["ok"]) / sum(window)  # type: ignore[call-overload]
    return {
        "cpu_us": 1e6 * cpu / max(1.0, per_s * wall),
        "accepted": int(result["ok"]) / max(1, sent),  # type: ignore[call-overload]
        "errors": result["errors"],
    }


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


@contextlib.contextmanager
def redis_cluster(root: Path) -> Iterator[tuple[str, list[str]]]:
    """Three masters on loopback (the tests' cluster, tests/support/cluster.py): the orderlog
    URL and each master's redis:// URL."""
    sys.path.insert(0, str(harness.ROOT / "tests"))
    from support.cluster import Cluster  # the one place a test cluster is started

    binary = shutil.which("redis-server") or "redis-server"
    cluster = Cluster(root, binary).start()
    try:
        yield cluster.url, [f"redis://127.0.0.1:{n.port}" for n in cluster.nodes]
    finally:
        cluster.stop()


def cluster_run(window: tuple[float, float], logdir: Path) -> dict[str, Any]:
    """The same workspaces-round-robin writes through one server on a standalone Redis and on
    a three-master cluster: per master, its share of the writes, memory per order and CPU per
    write, beside the standalone's (same writer, same rate: Redis's own background work per
    second weighs on a low rate's figures alike)."""
    with harness.redis_server("everysec") as url:
        alone = _spread(url, [url], window, logdir)
    with tempfile.TemporaryDirectory() as tmp, redis_cluster(Path(tmp)) as (url, masters):
        spread = _spread(url, masters, window, logdir)
    return {
        "orders": spread["orders"],
        "writes_per_master": spread["writes"],
        "memory_per_order": spread["memory_per_order"],
        "cpu_us_per_write": spread["cpu_us_per_write"],
        "standalone_memory_per_order": alone["memory_per_order"][0],
        "standalone_cpu_us_per_write": alone["cpu_us_per_write"][0],
    }


def _spread(
    url: str, masters: list[str], window: tuple[float, float], logdir: Path
) -> dict[str, Any]:
    made = asyncio.run(_cluster_workspaces(url, WORKSPACES_ON_CLUSTER))
    before = [redis_info(m) for m in masters]
    port = harness.free_port()
    env = {"PYTHONPATH": str(harness.SRC), **harness.UNLIMITED}
    args = harness.orderlog_command(url, port)
    with harness.process(args, harness.SERVER_CORE, logdir / "spread.log", env=env):
        harness.wait_http(port)
        orders = asyncio.run(_cluster_writes(port, made, sum(window)))
    after = [redis_info(m) for m in masters]
    pairs = list(zip(after, before, strict=True))
    writes = [orders_on(m) for m in masters]
    memory = [a["used_memory"] - b["used_memory"] for a, b in pairs]
    cpu = [sum(a[k] - b[k] for k in ("used_cpu_user", "used_cpu_sys")) for a, b in pairs]
    return {
        "orders": orders,
        "writes": writes,
        "memory_per_order": [m / max(1, n) for m, n in zip(memory, writes, strict=True)],
        "cpu_us_per_write": [1e6 * c / max(1, n) for c, n in zip(cpu, writes, strict=True)],
    }


def orders_on(url: str) -> int:
    """Orders written on one Redis (master): the sum of its workspaces' order counters."""
    client = sync_redis.Redis.from_url(url)
    try:
        return sum(int(client.get(k) or 0) for k in client.scan_iter(match="*:seq", count=1000))
    finally:
        client.close()


async def _cluster_workspaces(url: str, count: int) -> list[tuple[str, str]]:
    sys.path.insert(0, str(harness.SRC))
    from orderlog.store.client import close_redis, make_redis
    from orderlog.store.workspaces import WorkspaceStore

    redis = make_redis(url)
    try:
        store = WorkspaceStore(redis)
        made = [await store.create_workspace(f"cafe {i}") for i in range(count)]
    finally:
        await close_redis(redis)
    return [(ws, keys["write"]) for ws, keys in made]


async def _cluster_writes(port: int, workspaces: list[tuple[str, str]], seconds: float) -> int:
    """Creates round-robin over the workspaces for ``seconds``, 16 at a time; how many."""
    import httpx

    body = {"customer": {"user_id": 1, "username": "bench"}, "items": ["Latte"]}
    done = 0
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

        async def writer(k: int) -> None:
            nonlocal done
            i = k
            while time.monotonic() < deadline:
                ws, key = workspaces[i % len(workspaces)]
                resp = await http.post(
                    f"/v1/workspaces/{ws}/orders",
                    json=body,
                    headers={"Authorization": f"Bearer {key}"},
                )
                resp.raise_for_status()
                done += 1
                i += 16

        await asyncio.gather(*(writer(k) for k in range(16)))
    return done


# (what, run kind, field, digits) of the model's inputs as printed
INPUTS = [
    ("server CPU per write, us (saturated, full mix)", "writes", "server_cpu_us", 0),
    ("server CPU per write, us (1,000/s, full mix)", "writes", "server_cpu_us_fixed", 0),
    ("server CPU per event a process hears (and writes once), us", "fanout", "event_cpu_us", 0),
    ("server CPU per further message, written alone, us", "fanout", "msg_cpu_us", 1),
    (
        "server CPU per further message, in batches (1,000 sockets), us",
        "fanout",
        "batched_msg_cpu_us",
        1,
    ),
    ("server memory per live socket, KiB", "fanout", "socket_kib", 1),
    ("Redis CPU per write, us", "writes", "redis_cpu_us", 0),
    ("Redis memory per order kept, bytes", "writes", "memory_per_order", 0),
    ("of which per stream entry (3 per order), bytes", "writes", "event_bytes", 0),
    ("AOF bytes per write", "writes", "aof_bytes", 0),
    ("network bytes per write, in", "writes", "net_in_bytes", 0),
    ("network bytes per write, out", "writes", "net_out_bytes", 0),
    ("p99 ms at 1,000 writes/s (full mix)", "writes", "fixed_p99_ms", 1),
]


# -- the model ---------------------------------------------------------------------------------
def needs(
    workspaces: int, writes: float, screens: int, per_day: int, m: dict[str, float]
) -> dict[str, Any]:
    """What one deployment needs, from the measured inputs ``m`` (docs/capacity.md)."""
    per_workspace = screens / workspaces
    msgs = writes * per_workspace  # each write reaches its own workspace's screens
    processes = 1
    while True:
        # Every process holding a screen of a workspace hears its events (and writes each to
        # one screen at the price of ``event_cpu_us``); the other messages cost ``msg_cpu_us``
        # each, the price of one written alone (batches, at hundreds of screens per workspace
        # in one process, cost less: not counted on).
        hearing = min(processes, max(1.0, per_workspace))
        heard = writes * hearing
        cpu = (
            writes * m["server_cpu_us_fixed"]
            + heard * m["event_cpu_us"]
            + max(0.0, msgs - heard) * m["msg_cpu_us"]
        ) / 1e6
        if cpu <= processes * TARGET_CPU:
            break
        processes += 1
    process_mib = PROCESS_MIB + screens / processes * m["socket_kib"] / 1024
    # An order kept costs its hash and index entries; its events cost their stream entries
    # only while the stream (ORDERLOG_STREAM_MAXLEN per workspace) still holds them.
    orders = workspaces * per_day * RETENTION_DAYS
    per_order = m["memory_per_order"] - WRITES_PER_ORDER * m["event_bytes"]
    events_kept = workspaces * min(STREAM_MAXLEN, per_day * WRITES_PER_ORDER * RETENTION_DAYS)
    redis_bytes = orders * per_order + events_kept * m["event_bytes"]
    redis_cpu = writes * m["redis_cpu_us"] / 1e6
    masters = max(
        1,
        math.ceil(redis_cpu / TARGET_CPU),
        math.ceil(redis_bytes / (SHARD_MEMORY_GIB * 2**30)),
    )
    return {
        "msgs_per_s": msgs,
        "server_cores": cpu,
        "processes": processes,
        "process_mib": process_mib,
        "redis_gib": redis_bytes / 2**30,
        "redis_cores": redis_cpu,
        "aof_mib_per_s": writes * m["aof_bytes"] / 2**20,
        "masters": masters,
    }


def model_table(m: dict[str, float]) -> str:
    rows = []
    for workspaces, writes, screens, per_day in DEPLOYMENTS:
        n = needs(workspaces, writes, screens, per_day, m)
        rows.append(
            [
                f"{workspaces:,}",
                f"{writes:,}",
                f"{screens:,}",
                f"{per_day:,}",
                f"{n['msgs_per_s']:,.0f}",
                f"{n['server_cores']:.2f}",
                n["processes"],
                f"{n['process_mib']:,.0f}",
                f"{n['redis_gib']:,.1f}",
                f"{n['redis_cores']:.2f}",
                f"{n['aof_mib_per_s']:.2f}",
                n["masters"],
            ]
        )
    headers = [
        "workspaces",
        "writes/s (peak)",
        "open screens",
        "orders/day per workspace",
        "live msgs/s",
        "server cores",
        "processes",
        "MiB per process",
        "Redis GiB",
        "Redis cores",
        "AOF MiB/s",
        "Redis masters",
    ]
    return harness.table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2 s windows: a smoke test")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--no-cluster", action="store_true", help="skip the cluster check")
    harness.add_runs_argument(p)
    args = p.parse_args(argv)
    window = (2.0, 0.5) if args.quick else (args.duration, args.warmup)
    live_window = (*window, 2.0)
    print(harness.preamble(harness.command_line("bench.capacity"), args.runs), flush=True)
    loader = harness.build("ingest_load")
    results = harness.Runs()
    with tempfile.TemporaryDirectory(prefix="orderlog-bench-") as tmp:
        logdir = Path(tmp)
        for i in range(args.runs):
            w = results.measure("writes", lambda: writes_run(loader, window, logdir))
            print(f"  run {i + 1} writes: {_show(w)}", flush=True)
            fan = functools.partial(fanout_run, loader, live_window, logdir)
            f = results.measure("fanout", fan)
            print(f"  run {i + 1} fan-out: {_show(f)}", flush=True)
            k = results.measure("workers", lambda: workers_run(loader, window, logdir))
            print(f"  run {i + 1} --workers 2: {_show(k)}", flush=True)
        cluster = None
        if not args.no_cluster:
            cluster = cluster_run(window, logdir)
            print(f"  cluster: {_show(cluster)}", flush=True)
    inputs = {
        name: _median(results.values(key, name))
        for key, names in (
            (
                "writes",
                (
                    "server_cpu_us",
                    "server_cpu_us_fixed",
                    "redis_cpu_us",
                    "aof_bytes",
                    "memory_per_order",
                    "event_bytes",
                ),
            ),
            ("fanout", ("msg_cpu_us", "batched_msg_cpu_us", "event_cpu_us", "socket_kib")),
        )
        for name in names
    }
    print("\nModel inputs (median of the runs, range):\n")
    print(
        harness.table(["input", "value"], [[t, results.spread(k, n, d)] for t, k, n, d in INPUTS])
    )
    print("\nWhat a deployment needs (docs/capacity.md: the formulas and assumptions):\n")
    print(model_table(inputs))
    print("\nChecks:\n")
    print(
        f"- --workers 2 at 1,000 writes/s (full mix): server CPU per write over all processes "
        f"{results.spread('workers', 'cpu_us', 0)} us, one process at 1,000/s "
        f"{results.spread('writes', 'server_cpu_us_fixed', 0)} us (the model: the same); "
        f"accepted {results.spread('workers', 'accepted', 3)} of the writes"
    )
    if cluster is not None:
        spread = cluster["writes_per_master"]
        print(
            f"- cluster, {WORKSPACES_ON_CLUSTER} workspaces, {cluster['orders']:,} creates "
            f"round-robin: writes per "
            f"master {spread} (even: {sum(spread) / 3:,.0f} each); memory per order per master "
            f"{[round(x) for x in cluster['memory_per_order']]} B (standalone, the same "
            f"writes: {cluster['standalone_memory_per_order']:,.0f}); Redis CPU per write per "
            f"master {[round(x) for x in cluster['cpu_us_per_write']]} us (standalone, the same "
            f"writes: {cluster['standalone_cpu_us_per_write']:,.0f})"
        )


def _median(values: list[float | None]) -> float:
    got = sorted(v for v in values if v is not None)
    return got[len(got) // 2] if got else 0.0


def _show(row: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v}"
        for k, v in row.items()
        if k != "load"
    )


if __name__ == "__main__":
    main()
