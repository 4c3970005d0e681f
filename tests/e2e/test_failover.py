"""A Redis Cluster master killed under writers: three masters with a replica each (Redis 7,
started by the suite), two orderlog processes (real `orderlog serve` subprocesses), `kill -9` of
one master while writers run against a workspace on every master."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderlog.app import build_state, create_app
from orderlog.settings import Settings
from orderlog.store.client import close_redis, make_redis
from support.api import CUSTOMER, assert_error
from support.cluster import Cluster, redis_7_binary, spread_workspaces
from support.processes import Serve
from support.server import WithState, Workspace

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


def acknowledged(log: list[tuple[float, int, Any]]) -> list[int]:
    return [body["order_number"] for _, status, (body, _) in log if status == 201]


async def missing(base: str, ws: Workspace, numbers: list[int]) -> list[int]:
    """The acknowledged order numbers that cannot be read back."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        lost = []
        for n in numbers:
            got = await http.get(f"{ws.base}/orders/by-number/{n}", headers=ws.auth("read"))
            assert got.status_code in (200, 404), got.text
            if got.status_code == 404:
                lost.append(n)
        return lost


@pytest.mark.slow
@pytest.mark.parametrize("wait", [0, 1])
async def test_failover_kill_of_a_master_under_writers_answers_no_500(
    tmp_path: Path, wait: int
) -> None:
    """kill -9 of a master under writers: no response is a 500, its workspace answers 503 with
    Retry-After until it can take writes again, and the workspaces on the other masters keep
    answering 201. Without WAIT, writes come back once the replica is promoted; with
    ORDERLOG_WAIT_REPLICAS=1 they come back once the old master has rejoined as the new one's
    replica, and no order acknowledged in the victim's workspace is lost."""
    cluster = Cluster(tmp_path / "cluster", redis_7_binary(), replicas=1).start()
    try:
        settings = Settings(redis_url=cluster.url, redis_timeout=1.0, demo_workspace=False)
        redis = make_redis(cluster.url, timeout=1.0)
        spread = await spread_workspaces(build_state(settings, redis))
        await close_redis(redis)
        victim_name = next(n for n in spread if not n.endswith(f":{cluster.nodes[0].port}"))
        victim = next(n for n in cluster.nodes if victim_name.endswith(f":{n.port}"))
        replica = cluster.replica_of(victim)
        logs: dict[str, list[tuple[float, int, Any]]] = {name: [] for name in spread}
        # (a generous timeout: on a loaded machine a replica can stall a second or more)
        env = {"ORDERLOG_WAIT_REPLICAS": str(wait), "ORDERLOG_WAIT_TIMEOUT": "3"}
        async with two_processes(cluster, tmp_path, **env) as bases:
            stop = asyncio.Event()
            writers = [
                asyncio.create_task(write_until(bases, ws, stop, logs[name]))
                for name, ws in spread.items()
            ]
            await asyncio.sleep(1.5)
            killed = time.monotonic()
            victim.kill()  # SIGKILL: no goodbye to the cluster or the clients
            back = promoted = None
            while back is None:  # until the victim's workspace takes writes again
                await asyncio.sleep(0.2)
                after = [e for e in logs[victim_name] if e[0] > killed]
                if promoted is None and cluster.role(replica) == "master":
                    promoted = time.monotonic() - killed
                    if wait:  # the old master comes back: the new one's replica
                        await asyncio.to_thread(victim.restart)
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
            for name, counts in statuses.items():
                assert 500 not in counts, (name, [e for e in logs[name] if e[1] == 500][:3])
                assert set(counts) <= {201, 503}, (name, counts)
                if name != victim_name:
                    assert set(counts) == {201}, (name, counts)
            refused = [e for e in logs[victim_name] if e[1] == 503]
            assert refused, "the victim's workspace never noticed the kill"
            assert all(e[2][1]["retry-after"] == "1" for e in refused)
            assert promoted is not None
            for name, ws in spread.items():
                if name != victim_name:
                    assert await missing(bases[0], ws, acknowledged(logs[name])) == []
            lost = await missing(bases[0], spread[victim_name], acknowledged(logs[victim_name]))
            reasons = Counter(e[2][0]["message"].split(";")[0] for e in refused)
            print(
                f"\nfailover (WAIT {wait}): replica promoted {promoted:.1f} s after the kill, "
                f"writes back at {back:.1f} s; statuses {dict(statuses[victim_name])} on the "
                f"victim, {len(lost)} acknowledged orders lost; 503s: {dict(reasons)}"
            )
            if wait:
                assert lost == []  # every 201 was on the replica that took over
    finally:
        cluster.stop()


@pytest.mark.slow
async def test_failover_cluster_writes_wait_for_their_own_masters_replica(tmp_path: Path) -> None:
    """With ORDERLOG_WAIT_REPLICAS=1 on a cluster, each write waits for a replica of the master
    that took it: with one master's replica frozen, only that master's workspace answers 503
    (written, not confirmed), the others 201; its retry with the same Idempotency-Key answers
    the same order once the replica is back."""
    cluster = Cluster(tmp_path / "cluster", redis_7_binary(), replicas=1).start()
    settings = Settings(
        redis_url=cluster.url, demo_workspace=False, wait_replicas=1, wait_timeout=2.0
    )
    redis = make_redis(cluster.url)
    state = build_state(settings, redis)
    try:
        spread = await spread_workspaces(state)
        name = next(iter(spread))
        frozen = cluster.replica_of(next(n for n in cluster.nodes if name.endswith(f":{n.port}")))
        transport = httpx.ASGITransport(app=WithState(create_app(settings), state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=10) as c:

            async def post(ws: Workspace) -> httpx.Response:
                headers = ws.auth() | {"Idempotency-Key": "first"}
                return await c.post(
                    f"{ws.base}/orders", headers=headers, json={"customer": CUSTOMER}
                )

            assert frozen.process is not None
            frozen.process.send_signal(signal.SIGSTOP)
            try:
                answers = {n: await post(ws) for n, ws in spread.items()}
            finally:
                frozen.process.send_signal(signal.SIGCONT)
            for n, resp in answers.items():
                if n == name:
                    message = assert_error(resp, 503)["message"]
                    assert message.startswith("Written on the Redis master, but only 0 of 1")
                else:
                    assert resp.status_code == 201, resp.text
            async with asyncio.timeout(10):  # the replica catches up once it runs again
                while (retry := await post(spread[name])).status_code != 201:
                    assert retry.status_code == 503, retry.text
                    await asyncio.sleep(0.1)
            assert retry.json()["order_number"] == 1
    finally:
        await state.hub.close()
        await state.orders.replicated.close()
        await close_redis(redis)
        cluster.stop()
