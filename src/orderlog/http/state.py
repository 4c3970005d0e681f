"""What the lifespan builds and every route reaches through ``request.state.orderlog``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orderlog.auth import Authenticator
from orderlog.live.hub import Hub
from orderlog.settings import Settings
from orderlog.store.orders import OrderStore
from orderlog.store.workspaces import WorkspaceStore


@dataclass
class State:
    settings: Settings
    redis: Any
    orders: OrderStore
    workspaces: WorkspaceStore
    auth: Authenticator
    hub: Hub  # live delivery (issue 3): one pub/sub listener per process
    extras: dict[str, Any] = field(default_factory=dict)  # hub, metrics, ... (later issues)
