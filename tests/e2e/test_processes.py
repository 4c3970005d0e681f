"""Several server processes on one port (`orderlog serve --workers 2`, real subprocesses): a
write through either reaches sockets on both, any process resumes any cursor, the metrics add
up across processes, and SIGTERM closes sockets with 1001 and exits in bounded time."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from support.live import create, events, http, move, recv, socket
from support.metrics import samples
from support.processes import Served
from support.server import Workspace

SHUTDOWN_TIMEOUT = 5


def serve(redis_url: str, workers: int) -> Served:
    """`orderlog serve --workers N` on a free port against the suite's Redis."""
    return Served(redis_url, workers=workers, ORDERLOG_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT))


@pytest.fixture
def workers(redis_url: str, redis: Any) -> Iterator[Served]:
    server = serve(redis_url, 2)
    try:
        server.wait_ready()
        yield server
    finally:
        server.kill()


def pids(log: str, what: str) -> set[str]:
    """The worker pids that logged an access line containing ``what``."""
    return set(re.findall(r"\[(\d+)\] orderlog\.access .*" + re.escape(what), log))


async def drained(conn: Any) -> None:
    """Read until the server closes the socket (10 s at most)."""
    async with asyncio.timeout(10):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await conn.recv()


@pytest.mark.slow
async def test_processes_separate_servers_share_writes_and_cursors(
    redis_url: str, redis: Any, workspace: Workspace
) -> None:
    """Two servers (as on two hosts) on one Redis: writes through one reach sockets on the
    other, and a cursor from one resumes on the other."""
    one, two = serve(redis_url, 1), serve(redis_url, 1)
    try:
        one.wait_ready()
        two.wait_ready()
        async with http(two.base) as client, socket(one.base, workspace) as conn:
            assert (await recv(conn))["type"] == "snapshot"
            ids = await create(client, workspace, 3)
            got = await events(conn, 3)
            assert [e["order"]["id"] for e in got] == ids
            await move(client, workspace, ids[0], "preparing")
            async with socket(two.base, workspace, cursor=got[0]["cursor"]) as again:
                resumed = await events(again, 3)
            assert [e["order"]["id"] for e in resumed] == [ids[1], ids[2], ids[0]]
            assert resumed[-1]["order"]["status"] == "preparing"
    finally:
        one.kill()
        two.kill()


@pytest.mark.slow
async def test_processes_share_writes_cursors_metrics_and_leave_with_1001(
    workers: Served, workspace: Workspace
) -> None:
    """Two workers: each socket sees every write whichever worker took it; a cursor resumes on
    any worker; /metrics sums both; SIGTERM closes sockets with 1001 and the server exits."""
    base = workers.base
    async with http(base) as client:
        (oid,) = await create(client, workspace)
        sockets = [socket(base, workspace) for _ in range(6)]
        conns = [await s.__aenter__() for s in sockets]
        for conn in conns:
            assert (await recv(conn))["type"] == "snapshot"
        created: list[str] = []
        for _ in range(8):  # each on a fresh connection: the kernel spreads them
            async with http(base) as fresh:
                created += await create(fresh, workspace)
        for conn in conns:
            got = await events(conn, 8)
            assert [e["order"]["id"] for e in got] == created
        cursor = got[0]["cursor"]
        # any worker resumes a cursor: exactly the 7 events after it, then live ones
        for _ in range(4):
            async with socket(base, workspace, cursor=cursor) as again:
                assert [e["order"]["id"] for e in await events(again, 7)] == created[1:]
        await move(client, workspace, oid, "preparing")
        for conn in conns:
            assert (await events(conn, 1))[0]["order"]["id"] == oid
        # the metrics of both workers, whichever answers
        for _ in range(3):
            async with http(base) as fresh:
                page = samples((await fresh.get("/metrics")).text)
            key = (("method", "POST"), ("route", "batch"), ("status", "200"))
            assert page[("orderlog_http_requests_total", key)] == 9
            assert page[("orderlog_live_clients", (("transport", "websocket"),))] == 6
        started = time.monotonic()
        workers.proc.send_signal(signal.SIGTERM)
        codes = []
        for conn in conns:
            await drained(conn)
            codes.append(conn.close_code)
        assert codes == [1001] * 6
    log = await asyncio.to_thread(workers.output)
    assert workers.proc.returncode == 0, log
    assert time.monotonic() - started < SHUTDOWN_TIMEOUT + 10
    # both workers served (the kernel spreads connections; which one took what varies)
    assert len(pids(log, "")) == 2, log
    assert pids(log, "WS /v1/workspaces/{workspace_id}/live 1001"), log
    assert workspace.keys["read"] not in log


@pytest.mark.slow
async def test_processes_sigterm_finishes_inflight_write_after_closing_sockets(
    redis_url: str, redis: Any, workspace: Workspace
) -> None:
    """One process: SIGTERM while a write waits on Redis (CLIENT PAUSE WRITE) closes the socket
    with 1001 at once, still answers the write 201 (it is in Redis), and exits cleanly."""
    server = serve(redis_url, 1)
    try:
        server.wait_ready()
        async with http(server.base) as client, socket(server.base, workspace) as conn:
            assert (await recv(conn))["type"] == "snapshot"
            await redis.execute_command("CLIENT", "PAUSE", 1500, "WRITE")
            write = asyncio.create_task(
                client.post(
                    f"{workspace.base}/orders",
                    headers=workspace.auth(),
                    json={"customer": {"user_id": 5, "username": "Late"}},
                )
            )
            await asyncio.sleep(0.3)  # the write is in flight, held by the pause
            assert not write.done()
            server.proc.send_signal(signal.SIGTERM)
            await drained(conn)
            assert conn.close_code == 1001
            assert not write.done()  # the socket closed before the write finished
            async with asyncio.timeout(10):
                resp = await write
            assert resp.status_code == 201, resp.text
        log = await asyncio.to_thread(server.output)
        # uvicorn re-raises the signal once shut down: the process ends "killed" by SIGTERM
        assert server.proc.returncode in (0, -signal.SIGTERM), log
        assert "Application shutdown complete" in log
        number = resp.json()["order_number"]
        stored = await redis.hget(f"ol:{{{workspace.id}}}:o:{number}", "st")
        assert stored is not None
    finally:
        await redis.execute_command("CLIENT", "UNPAUSE")
        server.kill()
