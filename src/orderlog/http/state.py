"""What the lifespan builds (app.build_state) and every route and the middleware reach, in one
place: ``state(conn)`` for a route, ``app_state(scope)`` for ASGI code."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.types import Scope

from orderlog.auth import Authenticator
from orderlog.live.hub import Hub
from orderlog.ops.metrics import Metrics
from orderlog.outbound.engine import Engine
from orderlog.settings import Settings
from orderlog.store.client import RedisClient
from orderlog.store.orders import OrderStore
from orderlog.store.screens import ScreenStore
from orderlog.store.webhooks import WebhookStore
from orderlog.store.workspaces import WorkspaceStore

KEY = "orderlog"  # the lifespan state's key (``scope["state"]``)


@dataclass
class State:
    settings: Settings
    redis: RedisClient
    orders: OrderStore
    workspaces: WorkspaceStore
    screens: ScreenStore  # paired screens and their pairings
    auth: Authenticator
    hub: Hub  # live delivery: one pub/sub listener per process
    metrics: Metrics
    webhooks: WebhookStore
    outbound: Engine  # webhook deliveries of this process (started by the lifespan)


def app_state(scope: Scope) -> State | None:
    """The state of a running app (None outside its lifespan, e.g. a bare test app)."""
    held = scope.get("state")
    return None if held is None else held.get(KEY)


def state(conn: HTTPConnection) -> State:
    found = app_state(conn.scope)
    assert found is not None, "the app's lifespan has not run"
    return found
