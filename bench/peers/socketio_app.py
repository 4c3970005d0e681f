"""Peer: python-socketio (ASGI) + AsyncRedisManager, built to orderlog's live contract.

    POST /v1/workspaces/{w}/orders   JSON body -> sio.emit("event", frame, room=w) (through Redis)
    socket.io /socket.io/?w=<w>      joins room w on connect; receives "event" messages

The ingest publishes only (no store): the comparison measures the fan-out.
``uvicorn bench.peers.socketio_app:app`` with REDIS_URL in the environment.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs

import orjson
import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sio = socketio.AsyncServer(
    async_mode="asgi",
    client_manager=socketio.AsyncRedisManager(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
    ),
    cors_allowed_origins="*",
)


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    await sio.enter_room(sid, query.get("w", ["default"])[0])


async def ingest(request: Request) -> Response:
    order = orjson.loads(await request.body())
    frame = {"type": "event", "event": "order.created", "order": order}
    await sio.emit("event", frame, room=request.path_params["w"])
    return Response(b'{"error":null}', status_code=201, media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(b"ok")


http = Starlette(
    routes=[
        Route("/v1/workspaces/{w}/orders", ingest, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)
app = socketio.ASGIApp(sio, other_asgi_app=http)
