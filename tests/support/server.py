"""orderlog served for tests: the app with a ready-made state (in process), and real uvicorn on
port 0."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from orderlog.app import create_app
from orderlog.ops.serving import uvicorn_options
from orderlog.settings import Settings


class WithState:
    """The app with a ready-made lifespan state (httpx's ASGITransport runs no lifespan)."""

    def __init__(self, app: Any, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope["state"] = {"orderlog": self.state}
        await self.app(scope, receive, send)


class Workspace:
    def __init__(self, workspace_id: str, keys: dict[str, str]) -> None:
        self.id = workspace_id
        self.keys = keys

    def auth(self, scope: str = "write") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    @property
    def base(self) -> str:
        return f"/v1/workspaces/{self.id}"


def _server(target: Settings | Any, port: int, config: dict[str, Any]) -> uvicorn.Server:
    """uvicorn serving ``target`` (orderlog built from Settings, with the limits `orderlog serve`
    uses, or any ASGI app) on loopback."""
    options: dict[str, Any] = {"log_level": "warning", "timeout_graceful_shutdown": 5}
    if isinstance(target, Settings):
        options |= uvicorn_options(target)
        target = create_app(target)
    return uvicorn.Server(uvicorn.Config(target, host="127.0.0.1", port=port, **options | config))


def _port(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


@contextlib.asynccontextmanager
async def running_server(
    target: Settings | Any, port: int = 0, **config: Any
) -> AsyncIterator[str]:
    """Real uvicorn on port 0 (or ``port``: a restart on the same one) in this event loop;
    yields its base URL. ``target``: Settings (orderlog's app) or an ASGI app."""
    server = _server(target, port, config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{_port(server)}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(15):
            await task


class ServerThread:
    """Real uvicorn in a thread of its own, for synchronous callers (an embedded Lua VM,
    schemathesis); stop() and start() again keep the port, so a client sees the server go down
    and come back."""

    def __init__(self, target: Settings | Any, **config: Any) -> None:
        self.target = target
        self.config = config
        self.port = 0
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> ServerThread:
        self.server = _server(self.target, self.port, self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        self.port = _port(self.server)
        return self

    def stop(self) -> None:
        assert self.server is not None
        assert self.thread is not None
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "uvicorn did not stop"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
