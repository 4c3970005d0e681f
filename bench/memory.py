"""Rough sizing figures for docs/deploy.md: Redis memory per order, server memory per live
WebSocket. One command, a printed table:

    python bench/memory.py [orders] [sockets]

Starts its own redis-server (the embedded code path) and `orderlog serve` subprocess; orders
are written with /batch (100 per request, each then moved once: 2 events each); memory is
Redis INFO used_memory and the server process's RSS (/proc, Linux) before and after.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from orderlog.embedded import EmbeddedRedis, free_port  # noqa: E402


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def main(orders: int, sockets: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "r", port=free_port(), appendfsync="everysec")
        url = server.start()
        sync = redis.Redis.from_url(url)
        port = free_port()
        env = dict(os.environ, REDIS_URL=url, PYTHONPATH=str(ROOT / "src"))
        env |= {"ORDERLOG_ACCESS_LOG": "0", "ORDERLOG_DEMO_WORKSPACE": "0"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "orderlog", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            out = subprocess.run(
                [sys.executable, "-m", "orderlog", "workspace", "create", "Bench", "--json"]
                + ["--redis-url", url],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            import json

            ws = json.loads(out.stdout)
            base = f"http://127.0.0.1:{port}/v1/workspaces/{ws['workspace_id']}"
            auth = {"Authorization": f"Bearer {ws['keys']['write']}"}
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            before = sync.info("memory")["used_memory"]
            customer = {"user_id": 3141592653, "username": "Alice"}
            async with httpx.AsyncClient(timeout=30) as client:
                for _ in range(orders // 100):
                    ops = [
                        {"op": "create", "ref": f"r{i}", "customer": customer, "items": ["Latte"]}
                        for i in range(50)
                    ] + [
                        {"op": "status", "order_ref": f"r{i}", "status": "cancelled"}
                        for i in range(50)
                    ]
                    r = await client.post(f"{base}/batch", headers=auth, json={"operations": ops})
                    r.raise_for_status()
            per_order = (sync.info("memory")["used_memory"] - before) / (orders // 2)
            idle = rss(proc.pid)
            live = f"ws://127.0.0.1:{port}/v1/workspaces/{ws['workspace_id']}/live"
            read = {"Authorization": f"Bearer {ws['keys']['read']}"}
            conns = []
            for _ in range(sockets):
                conns.append(await connect(live, additional_headers=read))
                await asyncio.wait_for(conns[-1].recv(), 30)  # the (empty) snapshot
            await asyncio.sleep(0.5)
            per_socket = (rss(proc.pid) - idle) / sockets
            print("| figure | value |")
            print("|---|---|")
            print(
                f"| Redis memory per order (created, then cancelled: hash, indexes, 2 stream entries) | {per_order / 1024:.2f} KiB |"
            )
            print(
                f"| server RSS idle (one process, after {orders // 2} orders) | {idle / 2**20:.0f} MiB |"
            )
            print(
                f"| server RSS per live WebSocket ({sockets} open, snapshot sent) | {per_socket / 1024:.1f} KiB |"
            )
            for c in conns:
                await c.close()
        finally:
            proc.terminate()
            proc.wait(30)
            server.stop()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    s = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    asyncio.run(main(n, s))
