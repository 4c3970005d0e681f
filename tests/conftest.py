"""Fixtures: a real redis-server started by the suite (the embedded code path) unless REDIS_URL
is given, a flushed database per test, the app in-process, and real uvicorn on port 0."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from orderlog.app import build_state, create_app
from orderlog.connection import make_redis
from orderlog.embedded import EmbeddedRedis, free_port
from orderlog.serving import uvicorn_options
from orderlog.settings import Settings


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    server = EmbeddedRedis(
        tmp_path_factory.mktemp("redis"), port=free_port(), appendfsync="everysec"
    )
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Any]:
    client = make_redis(redis_url, timeout=5)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return Settings(redis_url=redis_url, data_dir=tmp_path / "data", demo_workspace=False)


@pytest.fixture
async def state(settings: Settings, redis: Any) -> AsyncIterator[Any]:
    built = build_state(settings, redis)
    yield built
    await built.hub.close()  # its listener task, if a live route started it


class WithState:
    """The app with a ready-made lifespan state (httpx's ASGITransport runs no lifespan)."""

    def __init__(self, app: Any, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope["state"] = {"orderlog": self.state}
        await self.app(scope, receive, send)


@pytest.fixture
async def client(settings: Settings, state: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = WithState(create_app(settings), state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", timeout=10
    ) as c:
        yield c


class Workspace:
    def __init__(self, workspace_id: str, keys: dict[str, str]) -> None:
        self.id = workspace_id
        self.keys = keys

    def auth(self, scope: str = "write") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    @property
    def base(self) -> str:
        return f"/v1/workspaces/{self.id}"


@pytest.fixture
async def workspace(state: Any) -> Workspace:
    ws_id, keys = await state.workspaces.create_workspace("Test cafe")
    return Workspace(ws_id, keys)


@contextlib.asynccontextmanager
async def running_server(settings: Settings, port: int = 0, **config: Any) -> AsyncIterator[str]:
    """Real uvicorn on port 0 (or ``port``: a restart on the same one) in this event loop;
    yields its base URL."""
    app = create_app(settings)
    options = {"log_level": "warning", "timeout_graceful_shutdown": 5}
    options |= uvicorn_options(settings) | config  # the limits `orderlog serve` uses
    cfg = uvicorn.Config(app, host="127.0.0.1", port=port, **options)
    server = uvicorn.Server(cfg)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(15):
            await task


@pytest.fixture
async def server(settings: Settings, redis: Any) -> AsyncIterator[str]:
    async with running_server(settings) as url:
        yield url


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``browser`` needs Debian's Chromium: skipped without it (failed in CI)."""
    if item.get_closest_marker("browser") is not None:
        from browser_support import need_chromium

        need_chromium()
