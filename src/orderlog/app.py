"""create_app(settings) -> Starlette. The lifespan builds Redis, the stores and the authenticator;
``uvicorn --factory orderlog.app:create_app`` serves it (settings from the environment)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from . import retention
from .auth import Authenticator
from .connection import make_redis
from .embedded import EmbeddedRedis
from .hub import Hub
from .keys import Keys
from .routes import admin, health, live, openapi, orders
from .routes import search as search_routes
from .routes.errors import HANDLERS
from .routes.http import RateLimitHeaders
from .routes.state import State
from .serving import redact_server_logs
from .settings import Settings
from .store import OrderStore
from .store.workspaces import WorkspaceStore

log = logging.getLogger("orderlog")

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"


def build_state(settings: Settings, redis: object) -> State:
    keys = Keys(settings.key_prefix)
    workspaces = WorkspaceStore(redis, keys)
    return State(
        settings=settings,
        redis=redis,
        orders=OrderStore(
            redis,
            keys,
            stream_maxlen=settings.stream_maxlen,
            idempotency_ttl=settings.idempotency_ttl,
        ),
        workspaces=workspaces,
        auth=Authenticator(workspaces),
        hub=Hub(
            redis,
            keys,
            queue_max_events=settings.live_queue_events,
            queue_max_bytes=settings.live_queue_bytes,
        ),
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, State]]:
        embedded = None
        url = settings.redis_url
        if url is None:
            embedded = EmbeddedRedis(settings.data_dir, appendfsync=settings.appendfsync)
            url = embedded.start()
        redis = make_redis(
            url, timeout=settings.redis_timeout, max_connections=settings.redis_max_connections
        )
        state = build_state(settings, redis)
        sweeper = None
        if settings.retention_interval > 0:
            sweeper = asyncio.create_task(
                retention.run(
                    state.orders,
                    state.workspaces,
                    interval=settings.retention_interval,
                    batch=settings.retention_batch,
                )
            )
        try:
            yield {"orderlog": state}
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            await state.hub.close()
            await redis.aclose()
            if embedded is not None:
                embedded.stop()

    routes: list[BaseRoute] = [*health.routes, *openapi.routes, *orders.routes, *admin.routes]
    routes += live.routes
    routes += search_routes.routes
    if STATIC_DIR.is_dir():
        routes.append(Mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static"))
    redact_server_logs()  # no ticket or key in uvicorn's / websockets' log lines (serving.py)
    middleware = [Middleware(RateLimitHeaders)]
    return Starlette(
        routes=routes, lifespan=lifespan, exception_handlers=HANDLERS, middleware=middleware
    )
