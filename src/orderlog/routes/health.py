"""Liveness and readiness."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import StoreUnavailable
from .http import JSONResponse, state


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        await state(request).orders.ping()
    except StoreUnavailable as exc:
        raise StoreUnavailable("Redis is not reachable.") from exc
    return JSONResponse({"status": "ready", "redis": "ok"})


routes = [
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
    Route("/readyz", readyz, methods=["GET"], name="readyz"),
]
