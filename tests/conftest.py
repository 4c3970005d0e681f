"""Fixtures: a real redis-server started by the suite (the embedded code path) unless REDIS_URL
is given, a flushed database per test, the app in-process, and real uvicorn on port 0."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderlog.app import build_state, create_app
from orderlog.settings import Settings
from orderlog.store.client import make_redis
from orderlog.store.embedded import EmbeddedRedis, free_port
from support.browser import Api, need_chromium, served_site
from support.cluster import Cluster, redis_7_binary
from support.server import WithState, Workspace, running_server


@pytest.fixture(scope="session")
def standalone_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The suite's own redis-server (the embedded code path), or REDIS_URL when given."""
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


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A three-master Redis Cluster, started once for every test that asks for it."""
    started = Cluster(tmp_path_factory.mktemp("cluster"), redis_7_binary()).start()
    yield started
    started.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``cluster_too`` runs twice: on the standalone Redis and on the cluster."""
    if metafunc.definition.get_closest_marker("cluster_too") and "redis_url" in (
        metafunc.fixturenames
    ):
        metafunc.parametrize("redis_url", ["standalone", "cluster"], indirect=True)


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """Where the test's store lives: the standalone server unless parametrized otherwise."""
    if getattr(request, "param", "standalone") == "cluster":
        return str(request.getfixturevalue("cluster").url)
    return str(request.getfixturevalue("standalone_url"))


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
    await built.auth.close()  # its watch of live connections' keys, if one started
    await built.orders.aclose()
    await built.outbound.close()  # (never started here; its resolver threads, if a test used it)


@pytest.fixture
async def client(settings: Settings, state: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = WithState(create_app(settings), state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", timeout=10
    ) as c:
        yield c


@pytest.fixture
async def workspace(state: Any) -> Workspace:
    ws_id, keys = await state.workspaces.create_workspace("Test cafe")
    return Workspace(ws_id, keys)


@pytest.fixture
async def server(settings: Settings, redis: Any) -> AsyncIterator[str]:
    async with running_server(settings) as url:
        yield url


@pytest.fixture
async def site(
    settings: Settings, redis: Any, workspace: Workspace
) -> AsyncIterator[tuple[str, Api]]:
    """Real uvicorn on port 0 for the browser tests, and its API for ``workspace``."""
    async with served_site(settings, workspace) as served:
        yield served


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``browser`` needs Debian's Chromium: skipped without it (failed in CI)."""
    if item.get_closest_marker("browser") is not None:
        need_chromium()
