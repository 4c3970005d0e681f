"""A Redis still loading its data (a restart with a large AOF): readiness says so, requests answer
503, and the wait for the load reports how far it got."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from orderlog.app import build_state, create_app
from orderlog.settings import Settings
from orderlog.store.client import Loading, close_redis, loading, make_redis, wait_loaded
from orderlog.store.embedded import EmbeddedRedis, free_port
from support.api import CUSTOMER, assert_error
from support.loading import SLOW_LOAD, saved_data
from support.server import WithState


async def test_loading_redis_answers_503_and_says_how_far_it_got(tmp_path: Path) -> None:
    """While Redis loads its data: /healthz answers, /readyz is a 503 saying Redis is loading and
    how far it got, a write and a read are 503s with Retry-After (never a 500); the wait reports
    progress, and once loaded the saved order is there and /readyz is ready."""
    saved = await saved_data(tmp_path / "redis", filler=10_000)
    server = EmbeddedRedis(
        tmp_path / "redis", port=free_port(), appendfsync="always", extra_args=SLOW_LOAD
    )
    url = await asyncio.to_thread(server.start)  # back once Redis answers, LOADING included
    redis = make_redis(url, timeout=2)
    settings = Settings(redis_url=url, data_dir=tmp_path / "data", demo_workspace=False)
    state = build_state(settings, redis)
    ws = saved.workspace
    try:
        transport = httpx.ASGITransport(app=WithState(create_app(settings), state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=10) as c:
            assert await loading(redis), "Redis had loaded already: nothing shown"
            ready = await c.get("/readyz")
            message = assert_error(ready, 503)["message"]
            assert message.startswith("Redis is loading its data into memory: "), message
            assert "%" in message
            assert ready.headers["retry-after"] == "1"
            assert (await c.get("/healthz")).status_code == 200
            write = await c.post(
                f"{ws.base}/orders", headers=ws.auth(), json={"customer": CUSTOMER}
            )
            assert_error(write, 503)
            assert write.headers["retry-after"] == "1"
            read = await c.get(f"{ws.base}/orders/{saved.order_id}", headers=ws.auth("read"))
            assert_error(read, 503)
            heard: list[tuple[list[Loading], float]] = []
            waited = await wait_loaded(
                redis, lambda nodes, t: heard.append((nodes, t)), first_report=0.3
            )
            assert heard, f"no progress in a {waited:.1f} s load"
            (node,) = heard[0][0]
            assert node.node == "redis"
            assert 0 <= node.percent <= 100
            assert node.total_bytes > 0
            assert not await loading(redis)
            ready = await c.get("/readyz")
            assert ready.json() == {"status": "ready", "redis": "ok"}
            got = await c.get(f"{ws.base}/orders/{saved.order_id}", headers=ws.auth("read"))
            assert got.status_code == 200, got.text
            assert got.json()["customer"]["username"] == CUSTOMER["Name"]
    finally:
        await state.hub.close()
        await close_redis(redis)
        await asyncio.to_thread(server.stop)
