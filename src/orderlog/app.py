"""create_app(settings) -> Starlette. The lifespan builds Redis, the stores, the hub and the
authenticator; ``uvicorn --factory orderlog.app:create_app`` serves it (settings from the
environment).

A request goes: ``http/`` (a route module: parse, authorize, call) -> ``store/`` (one Lua script
per write: the order, its indexes, the workspace's event stream, a PUBLISH) -> ``live/`` (the
hub hears the PUBLISH and hands the event to every dashboard's socket).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from redis.asyncio.cluster import RedisCluster
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from orderlog.auth import Authenticator
from orderlog.http import (
    admin,
    asyncapi,
    health,
    live,
    metrics,
    openapi,
    orders,
    recall,
    screens,
    search,
    webhooks,
)
from orderlog.http.errors import HANDLERS
from orderlog.http.hot import HotRoutes
from orderlog.http.middleware import Edge
from orderlog.http.state import KEY, State
from orderlog.keys import Keys
from orderlog.live.backends import Backend, ShardedPubSub
from orderlog.live.hub import Hub
from orderlog.ops import drain
from orderlog.ops.metrics import Metrics, mark_process_dead
from orderlog.ops.runtime import tune_gc
from orderlog.ops.serving import redact_server_logs
from orderlog.outbound.client import Client
from orderlog.outbound.engine import Config, Engine
from orderlog.sealing import server_sealer
from orderlog.settings import Settings
from orderlog.store import retention
from orderlog.store.client import (
    RedisClient,
    check_cluster,
    close_redis,
    make_redis,
    publish_command,
)
from orderlog.store.delivery import DeliveryQueue
from orderlog.store.embedded import store_url
from orderlog.store.multiplex import Multiplexed
from orderlog.store.orders import OrderStore
from orderlog.store.replication import Replicated, warn_short_of_replicas
from orderlog.store.screens import ScreenStore
from orderlog.store.webhooks import WebhookStore
from orderlog.store.workspaces import WorkspaceStore

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"


class Dashboards(StaticFiles):
    """The static dashboards at ``/``. Only GET and HEAD reach files: any other method on a path
    no route matched is a 404 (no such route), not the 405 StaticFiles would answer."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def build_state(settings: Settings, redis: RedisClient) -> State:
    keys = Keys(settings.key_prefix)
    workspaces = WorkspaceStore(redis, keys)
    screen_store = ScreenStore(redis, keys, workspaces)
    measures = Metrics()
    hooks = WebhookStore(redis, keys, server_sealer(settings))
    outbound = Engine(
        webhooks=hooks,
        queue=DeliveryQueue(redis, keys),
        workspaces=workspaces,
        client=Client(
            allow_private=settings.webhook_allow_private, timeout=settings.webhook_timeout
        ),
        config=Config.from_settings(settings),
        observer=measures,
    )
    return State(
        settings=settings,
        redis=redis,
        orders=OrderStore(
            redis,
            keys,
            stream_maxlen=settings.stream_maxlen,
            idempotency_ttl=settings.idempotency_ttl,
            publish_command=publish_command(settings.redis_url),
            on_events=measures.events_published.inc,
            on_write=outbound.wake,
            replicated=replicated(settings, redis),
            pipelined=Multiplexed.beside(redis),
        ),
        workspaces=workspaces,
        screens=screen_store,
        auth=Authenticator(workspaces, seen=screen_store.seen),
        hub=Hub(
            redis,
            keys,
            backend=live_backend(settings, redis, measures),
            queue_max_events=settings.live_queue_events,
            queue_max_bytes=settings.live_queue_bytes,
            on_deliver=measures.delivered,
            on_reconnect=measures.redis_reconnects.inc,
        ),
        metrics=measures,
        webhooks=hooks,
        outbound=outbound,
    )


def replicated(settings: Settings, redis: RedisClient) -> Replicated | None:
    """ORDERLOG_WAIT_REPLICAS > 0: order writes wait for that many replicas (WAIT)."""
    if settings.wait_replicas <= 0:
        return None
    return Replicated(
        redis,
        settings.wait_replicas,
        settings.wait_timeout,
        socket_timeout=settings.redis_timeout,
        max_connections=settings.redis_max_connections,
    )


def live_backend(
    settings: Settings, redis: RedisClient, measures: Metrics
) -> Callable[[], Backend] | None:
    """On a cluster, the hub listens with sharded pub/sub (write.lua SPUBLISHes there)."""
    if not isinstance(redis, RedisCluster):  # make_redis builds one for a cluster URL
        return None
    return lambda: ShardedPubSub(
        redis, timeout=settings.redis_timeout, on_reconnect=measures.redis_reconnects.inc
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, State]]:
        with store_url(settings.redis_url, settings.data_dir, settings.appendfsync) as url:
            redis = make_redis(
                url, timeout=settings.redis_timeout, max_connections=settings.redis_max_connections
            )
            if isinstance(redis, RedisCluster):
                await check_cluster(redis)
            state = build_state(settings, redis)
            if settings.wait_replicas > 0:
                await warn_short_of_replicas(redis, settings.wait_replicas)
            tune_gc()
            # SIGTERM: close live connections with 1001 first (ops/drain.py says why).
            uninstall = drain.install(lambda: state.hub.drain(within=1.0))
            sweeper = None
            if settings.retention_interval > 0:
                sweeper = asyncio.create_task(
                    retention.run(
                        state.orders, state.workspaces, interval=settings.retention_interval
                    )
                )
            state.outbound.start()
            try:
                yield {KEY: state}
            finally:
                uninstall()
                await state.outbound.close()
                if sweeper is not None:
                    sweeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sweeper
                await state.hub.close()
                await state.auth.close()
                await state.orders.aclose()
                await close_redis(redis)
                mark_process_dead()

    routes: list[BaseRoute] = [
        *health.routes,
        *openapi.routes,
        *asyncapi.routes,
        *orders.routes,
        *recall.routes,
        *admin.routes,
        *screens.routes,
        *live.routes,
        *search.routes,
        *metrics.routes,
        *webhooks.routes,
    ]
    if STATIC_DIR.is_dir():
        routes.append(Mount("/", Dashboards(directory=STATIC_DIR, html=True), name="static"))
    redact_server_logs()  # no ticket or key in uvicorn's / websockets' log lines (ops/serving.py)
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=HANDLERS,
        middleware=[
            Middleware(Edge, access_log=settings.access_log),
            # the writes and the live socket skip the router (http/hot.py)
            Middleware(HotRoutes, routes=[*orders.routes, *live.socket_routes]),
        ],
    )
