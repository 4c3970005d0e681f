"""Live fan-out: one server process, N WebSocket clients, M events; prints a table.

    python bench/live_fanout.py [--sockets 10,100,500] [--events 2000]

Starts a private redis-server (or uses REDIS_URL) and `uvicorn orderlog.app:create_app` in a
subprocess; the clients run in this process and count events without parsing them (clients and
server share the machine: the figures are a floor, not a ceiling). Latency is POST-acknowledged
to frame-received, one idle socket, median of 50.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

SRC = str(Path(__file__).resolve().parents[1] / "src")
sys.path.insert(0, SRC)

from orderlog.store.client import make_redis  # noqa: E402
from orderlog.store.embedded import EmbeddedRedis, free_port  # noqa: E402
from orderlog.store.workspaces import WorkspaceStore  # noqa: E402

# created as completed: every socket gets every event, and snapshots stay small
ORDER = {"customer": {"UserId": 1, "Name": "Bench"}, "items": ["Latte"], "status": "completed"}


async def wait_up(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=1) as client:
        for _ in range(200):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("server did not start")


async def fanout(base: str, ws: str, keys: dict[str, str], sockets: int, events: int) -> float:
    url = base.replace("http", "ws") + f"/v1/workspaces/{ws}/live"
    auth = {"Authorization": f"Bearer {keys['read']}"}
    conns = [await connect(url, additional_headers=auth, max_size=None) for _ in range(sockets)]
    for c in conns:
        await c.recv()  # snapshot

    async def count(c: object) -> None:
        got = 0
        while got < events:
            got += (await c.recv()).count('"type":"event"')  # type: ignore[attr-defined]

    readers = [asyncio.create_task(count(c)) for c in conns]
    headers = {"Authorization": f"Bearer {keys['write']}"}
    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        body = {"operations": [{"op": "create", **ORDER}] * 100}
        for _ in range(events // 100):
            resp = await client.post(f"/v1/workspaces/{ws}/batch", json=body, headers=headers)
            resp.raise_for_status()
    await asyncio.wait_for(asyncio.gather(*readers), 300)
    elapsed = time.perf_counter() - start
    for c in conns:
        await c.close()
    return elapsed


async def latency(base: str, ws: str, keys: dict[str, str]) -> float:
    url = base.replace("http", "ws") + f"/v1/workspaces/{ws}/live"
    samples = []
    async with (
        connect(url, additional_headers={"Authorization": f"Bearer {keys['read']}"}) as conn,
        httpx.AsyncClient(base_url=base, timeout=10) as client,
    ):
        await conn.recv()
        headers = {"Authorization": f"Bearer {keys['write']}"}
        for _ in range(50):
            t0 = time.perf_counter()
            resp = await client.post(f"/v1/workspaces/{ws}/orders", json=ORDER, headers=headers)
            resp.raise_for_status()
            await asyncio.wait_for(conn.recv(), 10)
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def start_server(redis_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REDIS_URL": redis_url, "ORDERLOG_DEMO_WORKSPACE": "0", "PYTHONPATH": SRC}
    # one read key opens every socket: lift its connect rate limit (domain/ratelimit.py)
    env |= {"ORDERLOG_RATE_READ": "0", "ORDERLOG_RATE_WRITE": "0"}
    command = ["uvicorn", "--factory", "orderlog.app:create_app", "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    return subprocess.Popen([sys.executable, "-m", *command], env=env)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", default="10,100,500")
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = None
        url = os.environ.get("REDIS_URL")
        if not url:
            redis_server = EmbeddedRedis(tmp, port=free_port(), appendfsync="everysec")
            url = redis_server.start()
        redis = make_redis(url)
        ws, keys = await WorkspaceStore(redis).create_workspace("bench")
        await redis.aclose()
        port = free_port()
        server = start_server(url, port)
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_up(base)
            print(
                f"median latency, POST ack -> frame: {await latency(base, ws, keys) * 1000:.1f} ms"
            )
            print("| sockets | events | seconds | deliveries/s |\n|---|---|---|---|")
            for n in (int(x) for x in args.sockets.split(",")):
                secs = await fanout(base, ws, keys, n, args.events)
                print(f"| {n} | {args.events} | {secs:.2f} | {n * args.events / secs:,.0f} |")
        finally:
            server.terminate()
            server.wait(10)
            if redis_server:
                redis_server.stop()


if __name__ == "__main__":
    asyncio.run(main())
