"""Liveness and readiness."""

from __future__ import annotations

import contextlib

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog.errors import StoreUnavailable
from orderlog.http.common import JSONResponse
from orderlog.http.state import state
from orderlog.store.client import describe_loading, loading, node_states


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready while Redis answers. On a cluster, while at least one master answers: taking every
    process out of a load balancer because one master is down would not help the workspaces
    of the others, which still work (their writes answer 200; the down master's answer 503).
    A master still loading its data after a restart answers nothing else yet: not ready, and
    the 503 says how far the load has got."""
    redis = state(request).redis
    nodes = await node_states(redis)
    if "ok" not in nodes.values():
        if "loading" not in nodes.values():
            raise StoreUnavailable("Redis is not reachable.")
        message = "Redis is loading its data into memory."
        with contextlib.suppress(StoreUnavailable):  # (it went down meanwhile)
            if progress := await loading(redis):
                message = f"{describe_loading(progress)}."
        raise StoreUnavailable(message)
    if set(nodes.values()) == {"ok"}:
        return JSONResponse({"status": "ready", "redis": "ok"})
    body: dict[str, object] = {"status": "degraded", "redis": "partial"}
    for kind in ("down", "loading"):
        names = sorted(name for name, got in nodes.items() if got == kind)
        if names:
            body[kind] = names
    return JSONResponse(body)


routes = [
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
    Route("/readyz", readyz, methods=["GET"], name="readyz"),
]
