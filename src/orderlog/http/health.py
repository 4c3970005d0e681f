"""Liveness and readiness."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog.errors import StoreUnavailable
from orderlog.http.common import JSONResponse
from orderlog.http.state import state
from orderlog.store.client import ping_nodes


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready while Redis answers. On a cluster, while at least one master answers: taking every
    process out of a load balancer because one master is down would not help the workspaces
    of the others, which still work (their writes answer 200; the down master's answer 503)."""
    nodes = await ping_nodes(state(request).redis)
    if not any(nodes.values()):
        raise StoreUnavailable("Redis is not reachable.")
    down = sorted(name for name, ok in nodes.items() if not ok)
    if down:
        return JSONResponse({"status": "degraded", "redis": "partial", "down": down})
    return JSONResponse({"status": "ready", "redis": "ok"})


routes = [
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
    Route("/readyz", readyz, methods=["GET"], name="readyz"),
]
