"""Search benchmark: load N orders into a private Redis, time searches through the app.

    python -m bench.search --orders 1000000 [--requests 300] [--runs 3] [--write-docs]

1. Starts its own redis-server (``EmbeddedRedis``, appendfsync=no, AOF off: nothing here needs
   to survive) on a free port.
2. Loads N orders with the real write script (``OrderStore.apply``, batches of up to 100 ops, a
   few batches in flight): ~2000 customers (Zipf-like: a few regulars, a long tail), 20
   cashiers + the POS, 20 preparers, 30 items, and the status mix of a real cafe (most orders
   completed, some cancelled, some still moving).
3. Backdates: write.lua stamps Redis TIME, so after loading, a bench-only Lua pass rewrites
   ``ix:created`` scores and the ``cms``/``ca`` fields to spread the orders evenly over 90 days
   (order number order = time order, as in real life).
4. Times each query through the app in-process (httpx ASGITransport -> Starlette -> Redis):
   single filters and combinations, random values per request, pages of 50; p50/p99. Then the
   stats report over 1 and 7 days. All of it ``--runs`` times, round by round (harness.Runs:
   median and range, the load average before each run).
5. Retention: each run removes the oldest remaining day, timing each script call.
6. Reports Redis memory per order (INFO used_memory delta / N, and a breakdown).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis as redis_sync

# Run from a clone without installing: this worktree's src/ first (python -m bench.search).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from orderlog import __version__
from orderlog.app import build_state, create_app
from orderlog.domain.model import DEFAULT_WORKFLOW, ChangeStatus, CreateOrder, Item, Participant
from orderlog.settings import Settings
from orderlog.store.client import make_redis
from orderlog.store.embedded import EmbeddedRedis, free_port

from . import harness

DAYS = 90
BATCH_OPS = 100
IN_FLIGHT = 4
ITEMS = [
    "Latte", "Espresso", "Cappuccino", "Mocha", "Americano", "Flat White", "Iced Tea",
    "Green Tea", "Hot Chocolate", "Lemonade", "Orange Juice", "Smoothie", "Milkshake",
    "Blueberry Muffin", "Chocolate Muffin", "Croissant", "Bagel", "Donut", "Cookie",
    "Brownie", "Cheesecake", "Apple Pie", "Sandwich", "Wrap", "Salad", "Soup", "Pancakes",
    "Waffles", "Toast", "Cinnamon Roll",
]  # fmt: skip
SYLLABLES = ["ka", "zu", "mi", "ro", "xo", "le", "na", "ti", "bo", "qu", "fe", "ly", "ze", "po"]
# Final status -> share of orders (a cafe: most complete, a few cancel, some still moving).
FINAL = {
    "completed": 0.70,
    "cancelled": 0.08,
    "handed_to": 0.04,
    "waiting_for_pickup": 0.05,
    "preparing": 0.05,
    "waiting_for_preparation": 0.04,
    "submitted": 0.04,
}
PATHS = {
    "submitted": [],
    "waiting_for_preparation": [],
    "preparing": ["preparing"],
    "waiting_for_pickup": ["preparing", "waiting_for_pickup"],
    "handed_to": ["preparing", "waiting_for_pickup", "handed_to"],
    "completed": ["preparing", "waiting_for_pickup", "completed"],
    "cancelled": ["cancelled"],
}


def name(rng: random.Random, i: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize() + (
        f"_{i}" if rng.random() < 0.5 else str(i)
    )


class World:
    """The people and things of the fake cafe."""

    def __init__(self, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.customers = [
            Participant(name(rng, i), rng.randint(10**7, 5 * 10**9), name(rng, i + 5000))
            for i in range(2000)
        ]
        # Zipf-like: the k-th customer orders about k^-0.8 as often as the first.
        self.customer_weights = [1 / (k + 1) ** 0.8 for k in range(len(self.customers))]
        self.cum_weights = list(itertools.accumulate(self.customer_weights))
        self.cashiers = [Participant(name(rng, i), 1000 + i) for i in range(20)]
        self.preparers = [Participant(name(rng, i), 2000 + i) for i in range(20)]
        self.pos = Participant.system(1)

    def order(self, ref: str) -> list[CreateOrder | ChangeStatus]:
        rng = self.rng
        final = rng.choices(list(FINAL), weights=list(FINAL.values()))[0]
        customer = rng.choices(self.customers, cum_weights=self.cum_weights)[0]
        cashier = self.pos if rng.random() < 0.1 else rng.choice(self.cashiers)
        items = tuple(Item(i, rng.randint(1, 2)) for i in rng.sample(ITEMS, rng.randint(1, 3)))
        first = "submitted" if final == "submitted" else "waiting_for_preparation"
        ops: list[CreateOrder | ChangeStatus] = [
            CreateOrder(customer, cashier, items, first, {}, ref=ref)
        ]
        preparer = rng.choice(self.preparers)
        for status in PATHS[final]:
            actor = preparer if status in ("preparing", "handed_to") else None
            handed = rng.choice(self.cashiers) if status == "handed_to" else None
            ops.append(ChangeStatus(None, ref, status, actor, handed))
        return ops


async def load(store: Any, workspace_id: str, world: World, total: int) -> float:
    """Write ``total`` orders; the seconds it took."""
    started = time.perf_counter()
    pending: set[asyncio.Task[Any]] = set()
    made = 0
    last_report = started
    while made < total:
        batch: list[CreateOrder | ChangeStatus] = []
        while made < total and len(batch) <= BATCH_OPS - 4:
            batch += world.order(f"o{made}")
            made += 1
        pending.add(
            asyncio.create_task(store.apply(workspace_id, batch, DEFAULT_WORKFLOW, batch=True))
        )
        if len(pending) >= IN_FLIGHT:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        now = time.perf_counter()
        if now - last_report > 10:
            last_report = now
            print(f"  {made:>9,} orders, {made / (now - started):,.0f}/s", file=sys.stderr)
    for task in pending:
        await task
    return time.perf_counter() - started


BACKDATE = """
-- bench only: spread orders over a time range, in number order
-- KEYS: 1 ix:created; ARGV: 1 order key prefix, then (number, ms, iso) triples
for i = 2, #ARGV, 3 do
  redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
  redis.call('HSET', ARGV[1] .. ARGV[i], 'cms', ARGV[i + 1], 'ca', ARGV[i + 2])
end
return 0
"""


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


async def backdate(redis: Any, store: Any, workspace_id: str, total: int, end_ms: int) -> int:
    """Creation times evenly over DAYS ending at ``end_ms``; the first order's time."""
    k = store.keys
    step = DAYS * 86_400_000 // max(total, 1)
    start = end_ms - step * total
    script = redis.register_script(BACKDATE)
    prefix = k.order_prefix(workspace_id)
    created = k.index(workspace_id, "created")
    chunk = 2000
    for first in range(1, total + 1, chunk):
        args: list[Any] = [prefix]
        for n in range(first, min(total, first + chunk - 1) + 1):
            ms = start + n * step
            args += [n, ms, iso(ms)]
        await script(keys=[created], args=args)
    return start


async def data_memory(redis: Any) -> int:
    """INFO used_memory without the Lua VM's heap (it grows and shrinks with garbage)."""
    info = await redis.info("memory")
    return int(info["used_memory"]) - int(info.get("used_memory_vm_eval", 0))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def queries(world: World, total: int, start_ms: int, end_ms: int) -> dict[str, Any]:
    rng = random.Random(11)
    day = 86_400_000

    def some_day() -> dict[str, str]:
        t = rng.randint(start_ms, end_ms - day)
        return {"from": iso(t), "to": iso(t + day)}

    def last_week() -> dict[str, str]:
        return {"from": iso(end_ms - 7 * day), "to": iso(end_ms)}

    cust = lambda: rng.choices(world.customers, cum_weights=world.cum_weights)[0]  # noqa: E731
    single = {
        "(none)": dict,
        "status=completed (70%)": lambda: {"status": "completed"},
        "status=preparing (5%)": lambda: {"status": "preparing"},
        "status=preparing,waiting_for_pickup": lambda: {"status": "preparing,waiting_for_pickup"},
        "customer_id": lambda: {"customer_id": str(cust().user_id)},
        "customer (username)": lambda: {"customer": cust().username.upper()},
        "staff_id (any role)": lambda: {"staff_id": str(rng.choice(world.cashiers).user_id)},
        "staff + role=preparer": lambda: {
            "staff": rng.choice(world.preparers).username,
            "role": "preparer",
        },
        "item": lambda: {"item": rng.choice(ITEMS)},
        "q (one word)": lambda: {"q": rng.choice(ITEMS).split()[-1]},
        "number": lambda: {"number": str(rng.randint(1, total))},
        "from/to (one day)": some_day,
    }
    combined = {
        "preparer X last week": lambda: {
            "staff": rng.choice(world.preparers).username,
            "role": "preparer",
            **last_week(),
        },
        "customer + status=completed": lambda: {
            "customer_id": str(cust().user_id),
            "status": "completed",
        },
        "customer + item": lambda: {
            "customer_id": str(cust().user_id),
            "item": rng.choice(ITEMS),
        },
        "cashier + item + status=cancelled": lambda: {
            "staff_id": str(rng.choice(world.cashiers).user_id),
            "role": "cashier",
            "item": rng.choice(ITEMS),
            "status": "cancelled",
        },
        "item + q (two words) + one day": lambda: {
            "item": rng.choice(ITEMS),
            "q": " ".join(rng.sample(ITEMS, 2)).split()[0] + " " + rng.choice(ITEMS).split()[-1],
            **some_day(),
        },
        "status=preparing + item + staff": lambda: {
            "status": "preparing",
            "item": rng.choice(ITEMS),
            "staff_id": str(rng.choice(world.preparers).user_id),
        },
    }
    return {"single": single, "combined": combined}


async def measure(
    client: httpx.AsyncClient, base: str, headers: dict[str, str], make: Any, runs: int
) -> tuple[list[float], float, int]:
    """Latencies in ms, mean orders per page, and pages answered short with a cursor."""
    out, sizes, short = [], [], 0
    for _ in range(runs):
        params = make() | {"limit": 50}
        t = time.perf_counter()
        resp = await client.get(f"{base}/orders", params=params, headers=headers)
        out.append((time.perf_counter() - t) * 1000)
        if resp.status_code != 200:
            raise RuntimeError(f"{params}: {resp.status_code} {resp.text}")
        body = resp.json()
        sizes.append(len(body["orders"]))
        if len(body["orders"]) < 50 and body["next_cursor"]:
            short += 1
    return out, statistics.mean(sizes), short


async def memory_breakdown(redis: Any, store: Any, ws: str, total: int) -> dict[str, float]:
    k = store.keys
    sample = random.Random(3).sample(range(1, total + 1), min(1000, total))
    hashes = ixk = 0
    for n in sample:
        hashes += await redis.memory_usage(k.order(ws, n), samples=0) or 0
        ixk += await redis.hstrlen(k.order(ws, n), "ixk")
    index_bytes = 0
    async for key in redis.scan_iter(match=k.index_prefix(ws) + "*", count=1000):
        index_bytes += await redis.memory_usage(key, samples=100) or 0
    return {
        "order hash (MEMORY USAGE, all fields)": hashes / len(sample),
        "  of which the ixk field's text (for retention)": ixk / len(sample),
        "indexes": index_bytes / total,
        "ids hash": (await redis.memory_usage(k.ids(ws), samples=100) or 0) / total,
        "event stream (capped)": (await redis.memory_usage(k.events(ws), samples=100) or 0) / total,
    }


async def main(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        server = EmbeddedRedis(
            Path(tmp),
            appendfsync="no",
            port=free_port(),
            extra_args=("--appendonly", "no", *args.redis_arg),
        )
        url = server.start()
        try:
            return await run(args, url)
        finally:
            server.stop()


async def run(args: argparse.Namespace, url: str) -> str:
    total = args.orders
    redis = make_redis(url, timeout=60)
    # the read key's per-key rate limit lifted (the check still runs): one client asks
    # thousands of pages in a row
    settings = Settings.from_env(harness.UNLIMITED, redis_url=url, demo_workspace=False)
    state = build_state(settings, redis)
    ws, keys = await state.workspaces.create_workspace("Bench cafe")
    before = await data_memory(redis)
    world = World()
    print(f"loading {total:,} orders ...", file=sys.stderr)
    load_s = await load(state.orders, ws, world, total)
    end_ms = int(time.time() * 1000)
    start_ms = await backdate(redis, state.orders, ws, total, end_ms)
    used = await data_memory(redis)
    per_order = (used - before) / total
    print(f"loaded in {load_s:.0f} s ({total / load_s:,.0f} orders/s)", file=sys.stderr)
    breakdown = await memory_breakdown(redis, state.orders, ws, total)

    # Every command's duration in the slow log: the search scripts' own time per call.
    await redis.config_set("slowlog-log-slower-than", 0)
    await redis.config_set("slowlog-max-len", 100_000)
    inner = create_app(settings)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        # ASGITransport runs no lifespan: hand the app the state the lifespan would build.
        scope["state"] = {"orderlog": state}
        await inner(scope, receive, send)

    headers = {"Authorization": f"Bearer {keys['read']}"}
    base = f"/v1/workspaces/{ws}"
    results = harness.Runs()
    groups = queries(world, total, start_ms, end_ms)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=30
    ) as client:
        for i in range(args.runs):  # round by round: every row once, then again
            for kind, group in groups.items():
                for label, make in group.items():
                    before = harness.load_average()
                    row = await query_row(redis, client, base, headers, make, args.requests)
                    results.add((kind, label), before, row)
                    print(
                        f"  run {i + 1} (load before {before:.2f}) {kind:8} {label:40} "
                        f"p50 {row['p50']:6.2f} ms  p99 {row['p99']:6.2f} ms",
                        file=sys.stderr,
                    )
            for days in (1, 7):
                before = harness.load_average()
                row = await stats_row(client, base, headers, days, end_ms)
                results.add(("stats", days), before, row)
        # Retention at scale: each run removes the oldest remaining day, batch by batch as
        # retention.sweep_workspace does, timing each script call from here.
        await redis.config_set("slowlog-log-slower-than", 10_000)
        for i in range(args.runs):
            before = harness.load_average()
            cutoff = end_ms - (DAYS - 1 - i) * 86_400_000
            results.add("retention", before, await retention_row(redis, state.orders, ws, cutoff))
    redis_version = (await redis.info("server"))["redis_version"]
    await redis.aclose()

    lines = [
        "## Search",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m bench.search "
        f"--orders {total} --requests {args.requests} --runs {args.runs}`: orderlog "
        f"{__version__}, Redis {redis_version}, Python {platform.python_version()}, redis-py "
        f"{redis_sync.__version__}, {platform.machine()} with {os.cpu_count()} cores. Each "
        f"figure is the median of {args.runs} runs with their range in brackets; 'load before' "
        "is the 1-minute load average before each run.",
        "",
        f"Load (once): {total:,} orders ({_ops_per_order():.1f} write ops each on average, the "
        f"real write script in batches of up to {BATCH_OPS}) in {load_s:.0f} s "
        f"({total / load_s:,.0f} orders/s), then backdated over {DAYS} days.",
        "",
        "Latency of one page of 50, through the app in-process (httpx ASGI transport, "
        f"Starlette, redis-py over TCP loopback), {args.requests} requests per row and run with "
        "random values; 'Redis ms/request' = time inside the search script(s) per request (INFO "
        "commandstats, mean); 'Redis p99 ms/call' = p99 of one search script call inside Redis "
        "(SLOWLOG with a 0 threshold); 'short' = pages answered with fewer than 50 orders and a "
        "next_cursor because the scan budget ran out.",
        "",
        harness.table(
            ["kind", "filters", "load before", *(title for title, _, _ in QUERY_FIGURES)],
            [
                [
                    *key,
                    results.loads(key),
                    *(results.spread(key, n, d) for _, n, d in QUERY_FIGURES),
                ]
                for key in results.rows
                if key[0] in groups
            ],
        ),
        "",
        "Stats report (`GET /stats`, the orders of the range read in pages of 200 with their "
        "history, then computed in Python):",
        "",
        harness.table(
            ["range", "load before", "ms", "orders", "truncated"],
            [
                [
                    f"{days} day(s)",
                    results.loads(("stats", days)),
                    results.spread(("stats", days), "ms", 0),
                    results.spread(("stats", days), "orders", 0),
                    results.spread(("stats", days), "truncated", 0),
                ]
                for days in (1, 7)
            ],
        ),
        "",
        "Retention: each run removes the oldest remaining day (batches of 200, no pause); "
        f"load before: {results.loads('retention')}. Orders removed "
        f"{results.spread('retention', 'removed', 0)}; time "
        f"{results.spread('retention', 'seconds', 1)} s; one batch (one script call, round "
        f"trip included) {results.spread('retention', 'batch_ms', 1)} ms median, "
        f"{results.spread('retention', 'batch_max_ms', 1)} ms max; "
        f"{results.spread('retention', 'freed_per_order', 0)} bytes freed per order removed.",
        "",
        f"Memory: **{per_order:,.0f} bytes per order** (INFO used_memory delta / orders, "
        "everything but the Lua VM). Breakdown per order:",
        "",
        "| part | bytes/order |",
        "|---|---:|",
    ]
    lines += [f"| {part} | {b:,.0f} |" for part, b in breakdown.items()]
    return "\n".join(lines) + "\n"


# (title, row field, digits) of the query table
QUERY_FIGURES = [
    ("p50 ms", "p50", 2),
    ("p99 ms", "p99", 2),
    ("max ms", "max", 2),
    ("Redis ms/request", "script_ms", 2),
    ("Redis p99 ms/call", "script_p99", 2),
    ("orders/page", "page", 1),
    ("short", "short", 0),
]


async def query_row(
    redis: Any, client: httpx.AsyncClient, base: str, headers: dict[str, str], make: Any, n: int
) -> dict[str, float]:
    """One run of one query row: ``n`` requests, timed from here and inside Redis."""
    await measure(client, base, headers, make, 5)  # warm-up
    await redis.config_resetstat()
    await redis.slowlog_reset()
    lat, mean_size, short = await measure(client, base, headers, make, n)
    scripts = (await redis.info("commandstats")).get("cmdstat_evalsha", {})
    calls = [
        e["duration"] / 1000
        for e in await redis.slowlog_get(100_000)
        if str(e["command"]).upper().startswith(("EVAL", "B'EVAL"))
    ]
    return {
        "p50": statistics.median(lat),
        "p99": percentile(lat, 99),
        "max": max(lat),
        "script_ms": scripts.get("usec", 0) / 1000 / n,
        "script_p99": percentile(calls, 99) if calls else 0.0,
        "page": mean_size,
        "short": short,
    }


async def stats_row(
    client: httpx.AsyncClient, base: str, headers: dict[str, str], days: int, end_ms: int
) -> dict[str, float]:
    t = time.perf_counter()
    resp = await client.get(
        f"{base}/stats",
        params={"from": iso(end_ms - days * 86_400_000), "to": iso(end_ms)},
        headers=headers,
    )
    body = resp.json()
    return {
        "ms": (time.perf_counter() - t) * 1000,
        "orders": body["orders"],
        "truncated": int(body["range"]["truncated"]),
    }


async def retention_row(redis: Any, store: Any, ws: str, cutoff: int) -> dict[str, float]:
    """Removes the orders created before ``cutoff`` as the retention sweep does; its figures."""
    mem_before = await data_memory(redis)
    batches: list[float] = []
    removed = 0
    while True:
        t = time.perf_counter()
        n = await store.expire(ws, cutoff, 200)
        batches.append((time.perf_counter() - t) * 1000)
        removed += n
        if n < 200:
            break
    freed = mem_before - await data_memory(redis)
    return {
        "removed": removed,
        "seconds": sum(batches) / 1000,
        "batch_ms": statistics.median(batches),
        "batch_max_ms": max(batches),
        "freed_per_order": freed / max(removed, 1),
    }


def _ops_per_order() -> float:
    return sum(share * (1 + len(PATHS[s])) for s, share in FINAL.items())


def write_docs(section: str, path: Path) -> None:
    """Replace (or add) the '## Search' section of docs/performance.md, keeping the others."""
    text = path.read_text() if path.exists() else "# Performance\n"
    head, found, rest = text.partition("## Search\n")
    if found:
        tail = rest.split("\n## ", 1)
        rest = "\n## " + tail[1] if len(tail) > 1 else ""
        text = head + section + rest
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="requests per query row and run")
    harness.add_runs_argument(parser)
    parser.add_argument(
        "--redis-arg",
        action="append",
        default=[],
        help="extra redis-server argument, e.g. --redis-arg=--hash-max-listpack-value "
        "--redis-arg=1024 (repeat)",
    )
    parser.add_argument("--write-docs", action="store_true", help="update docs/performance.md")
    ns = parser.parse_args()
    report = asyncio.run(main(ns))
    print(report)
    if ns.write_docs:
        write_docs(report, Path(__file__).resolve().parents[1] / "docs" / "performance.md")
