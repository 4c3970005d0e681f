"""Peer: Starlette + encode/broadcaster (Redis backend), built to orderlog's live contract.

    POST /v1/workspaces/{w}/orders   JSON body -> publish an event frame on channel live:{w}
    WS   /v1/workspaces/{w}/live     {"type":"subscribed"} once subscribed, then each event frame

The ingest publishes only (no store): the comparison measures the fan-out. Follows broadcaster's
own chat example: one receiver and one sender per socket, one subscription per socket.
``uvicorn bench.peers.broadcaster_app:app`` with REDIS_URL in the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import anyio
import orjson
from broadcaster import Broadcast
from broadcaster._backends import redis as broadcaster_redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


class RedisBackend(broadcaster_redis.RedisBackend):
    """broadcaster 0.3's Redis backend wakes its listener before SUBSCRIBE completes; with
    redis-py >= 5 the listener then finds no channel, stops, and never restarts: nothing is ever
    delivered. Waking it after the SUBSCRIBE is the one-line fix."""

    async def subscribe(self, channel: str) -> None:
        await self._pubsub.subscribe(channel)
        self._ready.set()


broadcast = Broadcast(backend=RedisBackend(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")))
# broadcaster 0.3's subscribe() awaits the backend's SUBSCRIBE before registering the first
# subscriber's queue, and each concurrent "first" subscriber then replaces the channel's set:
# sockets that connect together silently receive nothing. Entering one at a time avoids it.
subscribe_lock = asyncio.Lock()


async def ingest(request: Request) -> Response:
    order = orjson.loads(await request.body())
    frame = orjson.dumps({"type": "event", "event": "order.created", "order": order})
    await broadcast.publish(channel="live:" + request.path_params["w"], message=frame.decode())
    return Response(b'{"error":null}', status_code=201, media_type="application/json")


async def live(websocket: WebSocket) -> None:
    await websocket.accept()
    channel = "live:" + websocket.path_params["w"]

    async def receiver() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            async for _ in websocket.iter_text():
                pass

    async def sender() -> None:
        async with contextlib.AsyncExitStack() as stack:
            async with subscribe_lock:
                subscriber = await stack.enter_async_context(broadcast.subscribe(channel=channel))
            await websocket.send_text('{"type":"subscribed"}')
            async for event in subscriber:
                await websocket.send_text(event.message)

    async with anyio.create_task_group() as tg:

        async def run_then_cancel(fn: object) -> None:
            with contextlib.suppress(Exception):
                await fn()  # type: ignore[operator]
            tg.cancel_scope.cancel()

        tg.start_soon(run_then_cancel, receiver)
        tg.start_soon(run_then_cancel, sender)


async def healthz(request: Request) -> Response:
    return Response(b"ok")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await broadcast.connect()
    try:
        yield
    finally:
        await broadcast.disconnect()


app = Starlette(
    routes=[
        Route("/v1/workspaces/{w}/orders", ingest, methods=["POST"]),
        WebSocketRoute("/v1/workspaces/{w}/live", live),
        Route("/healthz", healthz, methods=["GET"]),
    ],
    lifespan=lifespan,
)
