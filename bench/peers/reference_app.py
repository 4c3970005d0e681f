"""The reference: the least a server can do for orderlog's contract, the floor it is compared with.

    POST /v1/workspaces/{w}/orders   parse the JSON body, PUBLISH an event frame on live:{w}
    WS   /v1/workspaces/{w}/live     {"type":"subscribed"} once registered, then event frames
    GET  /healthz                    ok

The same stack as orderlog (uvicorn with httptools, uvloop and websockets-sansio; Starlette;
redis-py with hiredis; orjson), none of its work: no auth, no validation, no store, no rate
limit, no middleware, no access log. One PSUBSCRIBE per process (made before the first request
is served); each tick of the listener, a workspace's events that arrived become one frame (the
event itself, or {"type":"batch","events":[...]}), encoded once, and every socket of the
workspace gets it in one write. There is no per-client bound: a client that stops reading grows
the server's memory (the benchmark's clients read everything).

``uvicorn bench.peers.reference_app:app`` with REDIS_URL in the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import orjson
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

PREFIX = b"live:"
SUBSCRIBED = '{"type":"subscribed"}'
CREATED = b'{"ok":true}'
BAD_JSON = b'{"error":"Bad Request","statusCode":400,"message":"The body is not JSON."}'


class Workspace:
    """A workspace's sockets, the events of the current tick and the task that writes them."""

    def __init__(self) -> None:
        self.sockets: set[WebSocket] = set()
        self.pending: list[bytes] = []
        self.ready = asyncio.Event()
        self.writer = asyncio.get_running_loop().create_task(self.write())

    def add(self, event: bytes) -> None:
        self.pending.append(event)
        self.ready.set()

    async def write(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            events, self.pending = self.pending, []
            if len(events) == 1:
                text = events[0].decode()
            else:
                text = '{"type":"batch","events":[' + b",".join(events).decode() + "]}"
            for socket in list(self.sockets):
                # uvicorn's websocket.send writes to the transport without suspending
                try:
                    await socket.send_text(text)
                except Exception:  # gone: its handler's finally drops it
                    self.sockets.discard(socket)


class Hub:
    """One Redis connection for PUBLISH, one pub/sub connection for every workspace."""

    def __init__(self, url: str) -> None:
        self.redis = Redis.from_url(url)
        self.pubsub = self.redis.pubsub()
        self.workspaces: dict[bytes, Workspace] = {}
        self.listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.pubsub.psubscribe(PREFIX + b"*")
        reply = await self.pubsub.get_message(timeout=10)
        if not reply or reply["type"] != "psubscribe":
            raise RuntimeError(f"PSUBSCRIBE not confirmed: {reply!r}")
        self.listener = asyncio.get_running_loop().create_task(self.listen())

    async def listen(self) -> None:
        while True:
            message = await self.pubsub.get_message(timeout=None)
            if message and message["type"] == "pmessage":
                workspace = self.workspaces.get(message["channel"])
                if workspace is not None:
                    workspace.add(message["data"])

    def workspace(self, name: str) -> Workspace:
        channel = PREFIX + name.encode()
        if channel not in self.workspaces:
            self.workspaces[channel] = Workspace()
        return self.workspaces[channel]

    async def stop(self) -> None:
        tasks = [w.writer for w in self.workspaces.values()]
        if self.listener is not None:
            tasks.append(self.listener)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.pubsub.aclose()
        await self.redis.aclose()


hub = Hub(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))


async def ingest(request: Request) -> Response:
    try:
        order = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return Response(BAD_JSON, status_code=400, media_type="application/json")
    frame = orjson.dumps({"type": "event", "event": "order.created", "order": order})
    await hub.redis.publish(PREFIX + request.path_params["w"].encode(), frame)
    return Response(CREATED, status_code=201, media_type="application/json")


async def live(websocket: WebSocket) -> None:
    await websocket.accept()
    workspace = hub.workspace(websocket.path_params["w"])
    await websocket.send_text(SUBSCRIBED)
    workspace.sockets.add(websocket)
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass  # the contract's clients send nothing (uvicorn answers pings itself)
    finally:
        workspace.sockets.discard(websocket)


async def healthz(request: Request) -> Response:
    return Response(b"ok")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await hub.start()
    try:
        yield
    finally:
        await hub.stop()


app = Starlette(
    routes=[
        Route("/v1/workspaces/{w}/orders", ingest, methods=["POST"]),
        WebSocketRoute("/v1/workspaces/{w}/live", live),
        Route("/healthz", healthz, methods=["GET"]),
    ],
    lifespan=lifespan,
)
