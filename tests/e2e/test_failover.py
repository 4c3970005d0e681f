"""A Redis Cluster master killed under writers: three masters with a replica each (Redis 7,
started by the suite), two orderlog processes (real `orderlog serve` subprocesses), `kill -9` of
one master while writers run against a workspace on every master."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderlog.app import build_state
from orderlog.settings import Settings
from orderlog.store.client import close_redis, make_redis
from support.api import CUSTOMER
from support.cluster import Cluster, redis_7_binary, spread_workspaces
from support.processes import Serve
from support.server import Workspace

WRITERS = 3  # per workspace, each alternating between the two processes


@contextlib.asynccontextmanager
async def two_processes(cluster: Cluster, tmp_path: Path, **env: str) -> AsyncIterator[list[str]]:
    """Two `orderlog serve` processes on the cluster; their base URLs."""
    extra = {
        "REDIS_URL": cluster.url,
        "ORDERLOG_DEMO_WORKSPACE": "0",
        "ORDERLOG_REDIS_TIMEOUT": "1",
        "ORDERLOG_RATE_WRITE": "0",
        **env,
    }
    servers = [Serve(tmp_path / f"p{i}", extra) for i in range(2)]
    bases = [await asyncio.to_thread(s.start) for s in servers]
    try:
        yield bases
    finally:
        for s in servers:
            out = await asyncio.to_thread(s.stop)
            assert "Traceback" not in out, out


async def write_until(
    bases: list[str], ws: Workspace, stop: asyncio.Event, log: list[tuple[float, int, Any]]
) -> None:
    """Create orders in ``ws`` through both processes until ``stop``: (time, status, body)."""

    async def writer(i: int) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            n = 0
            while not stop.is_set():
                base = bases[(i + n) % len(bases)]
                n += 1
                try:
                    resp = await http.post(
                        f"{base}{ws.base}/orders", headers=ws.auth(), json={"customer": CUSTOMER}
                    )
                except httpx.HTTPError as exc:
                    log.append((time.monotonic(), 0, repr(exc)))
                    await asyncio.sleep(0.05)
                    continue
                body = resp.json()
                log.append((time.monotonic(), resp.status_code, (body, dict(resp.headers))))
                if resp.status_code == 503:
                    await asyncio.sleep(0.05)

    await asyncio.gather(*(writer(i) for i in range(WRITERS)))


@pytest.mark.slow
async def test_failover_kill_of_a_master_under_writers_answers_no_500(tmp_path: Path) -> None:
    """kill -9 of a master under writers: no response is a 500 (its workspace answers 503 with
    Retry-After until its replica is promoted, then 201 again), the workspaces on the other
    masters keep answering 201, and every order acknowledged anywhere is readable after."""
    cluster = Cluster(tmp_path / "cluster", redis_7_binary(), replicas=1).start()
    try:
        settings = Settings(redis_url=cluster.url, redis_timeout=1.0, demo_workspace=False)
        redis = make_redis(cluster.url, timeout=1.0)
        spread = await spread_workspaces(build_state(settings, redis))
        victim_name = next(n for n in spread if not n.endswith(f":{cluster.nodes[0].port}"))
        victim = next(n for n in cluster.nodes if victim_name.endswith(f":{n.port}"))
        replica = cluster.replica_of(victim)
        logs: dict[str, list[tuple[float, int, Any]]] = {name: [] for name in spread}
        async with two_processes(cluster, tmp_path) as bases:
            stop = asyncio.Event()
            writers = [
                asyncio.create_task(write_until(bases, ws, stop, logs[name]))
                for name, ws in spread.items()
            ]
            await asyncio.sleep(1.5)
            killed = time.monotonic()
            victim.kill()  # SIGKILL: no goodbye to the cluster or the clients
            back = None
            while back is None:  # the replica takes over; writes succeed again
                await asyncio.sleep(0.2)
                after = [e for e in logs[victim_name] if e[0] > killed]
                tail = [e[1] for e in after[-2 * WRITERS :]]
                if 503 in (e[1] for e in after) and tail and set(tail) == {201}:
                    back = time.monotonic() - killed
                assert time.monotonic() - killed < 60, (
                    f"no writes back 60 s after the kill: {Counter(e[1] for e in after)}, "
                    f"last {[(round(t - killed, 1), c, b) for t, c, b in after[-3:]]}"
                )
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*writers)
            statuses = {name: Counter(e[1] for e in log) for name, log in logs.items()}
            print(f"\nfailover: writes back {back:.1f} s after the kill; statuses {statuses}")
            for name, counts in statuses.items():
                assert 500 not in counts, (name, [e for e in logs[name] if e[1] == 500][:3])
                assert set(counts) <= {201, 503}, (name, counts)
                if name != victim_name:
                    assert set(counts) == {201}, (name, counts)
            refused = [e for e in logs[victim_name] if e[1] == 503]
            assert refused, "the victim's workspace never noticed the kill"
            assert all(e[2][1]["retry-after"] == "1" for e in refused)
            assert cluster.role(replica) == "master"
            async with httpx.AsyncClient(base_url=bases[0], timeout=10) as http:
                for name, ws in spread.items():
                    if name == victim_name:
                        continue  # its last writes before the kill may not have been replicated
                    numbers = [e[2][0]["order_number"] for e in logs[name] if e[1] == 201]
                    for n in numbers:
                        got = await http.get(
                            f"{ws.base}/orders/by-number/{n}", headers=ws.auth("read")
                        )
                        assert got.status_code == 200, got.text
        await close_redis(redis)
    finally:
        cluster.stop()
