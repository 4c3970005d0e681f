"""Retention: orders older than their workspace's ``retention_days`` are removed, in the
background, a bounded batch per script call with a pause between calls, so writes never wait
behind a long removal. Every batch re-checks the age inside Redis (store/retention.lua), so
the sweep is idempotent and any number of processes may run it at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from orderlog.errors import NotFound, StoreUnavailable
from orderlog.store.orders import OrderStore
from orderlog.store.workspaces import WorkspaceStore

log = logging.getLogger("orderlog.store.retention")

DAY_MS = 86_400_000
PAUSE = 0.05  # seconds between batches: room for writers between two script calls
BATCH = 200  # orders removed per script call
FIRST_SWEEP_MAX_DELAY = 10.0  # a fresh process sweeps soon, not a whole interval later


async def sweep_workspace(
    orders: OrderStore,
    workspace_id: str,
    retention_days: int,
    *,
    now_ms: int | None = None,
    batch: int = BATCH,
    pause: float = PAUSE,
) -> int:
    """Remove the workspace's orders created more than ``retention_days`` ago; the count."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    cutoff = now_ms - retention_days * DAY_MS
    removed = 0
    while True:
        n = await orders.expire(workspace_id, cutoff, batch)
        removed += n
        if n < batch:
            return removed
        await asyncio.sleep(pause)


async def sweep(
    orders: OrderStore,
    workspaces: WorkspaceStore,
    *,
    now_ms: int | None = None,
    batch: int = BATCH,
    pause: float = PAUSE,
) -> dict[str, int]:
    """One pass over every workspace: {workspace id: orders removed} (only those with some)."""
    out = {}
    for info in await workspaces.list_workspaces():
        days = info["settings"]["retention_days"]
        n = await sweep_workspace(orders, info["id"], days, now_ms=now_ms, batch=batch, pause=pause)
        if n:
            out[info["id"]] = n
    return out


async def run(
    orders: OrderStore, workspaces: WorkspaceStore, *, interval: float, batch: int = BATCH
) -> None:
    """Sweep every ``interval`` seconds until cancelled; a Redis outage skips a pass."""
    await asyncio.sleep(random.uniform(0, min(interval, FIRST_SWEEP_MAX_DELAY)))
    while True:
        try:
            removed = await sweep(orders, workspaces, batch=batch)
            for workspace_id, n in removed.items():
                log.info("retention: removed %d orders of workspace %s", n, workspace_id)
        except (StoreUnavailable, NotFound) as exc:  # NotFound: a workspace deleted meanwhile
            log.warning("retention sweep skipped: %s", exc)
        await asyncio.sleep(interval)
