"""A Redis that takes seconds to load its data at start, as one with a large AOF does.

The data is real: an append-only file (an RDB base, as Redis 7 rewrites it) holding a workspace,
an order and filler keys. It is small; Redis's own testing knob ``key-load-delay`` (microseconds
slept per key loaded) stretches its load to seconds, as long as an AOF of a few hundred MB would
take, and ``loading-process-events-interval-bytes`` makes it answer (``LOADING``, ``INFO``) often
while it loads. What the tests show: orderlog's behaviour while Redis is loading, not how long a
real file of a given size takes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from orderlog.domain import inputs
from orderlog.domain.model import DEFAULT_WORKFLOW
from orderlog.keys import Keys
from orderlog.store.client import close_redis, make_redis
from orderlog.store.embedded import EmbeddedRedis, free_port
from orderlog.store.orders import OrderStore
from orderlog.store.workspaces import WorkspaceStore
from support.api import CUSTOMER
from support.server import Workspace

# ~2.5 s for 10,000 keys on the development machine (usleep(100) sleeps ~230 us)
SLOW_LOAD = ("--key-load-delay", "100", "--loading-process-events-interval-bytes", "1024")


@dataclass
class Saved:
    workspace: Workspace
    order_id: str


async def saved_data(data_dir: Path, filler: int) -> Saved:
    """A Redis of its own in ``data_dir`` gets a workspace with one order and ``filler`` more keys,
    rewritten into the AOF's RDB base (``key-load-delay`` applies to RDB loading); then it stops
    (SIGTERM: it finishes its AOF), leaving the files for a slow restart."""
    server = EmbeddedRedis(data_dir, port=free_port(), appendfsync="always")
    url = await asyncio.to_thread(server.start)
    redis = make_redis(url, timeout=10)
    try:
        store = WorkspaceStore(redis, Keys())
        ws_id, keys = await store.create_workspace("Loading cafe")
        command = inputs.create_order({"customer": CUSTOMER, "items": ["Latte"]})
        order = await OrderStore(redis, Keys()).create(ws_id, command, DEFAULT_WORKFLOW)
        for start in range(0, filler, 1000):
            pipe = redis.pipeline(transaction=False)
            for i in range(start, min(filler, start + 1000)):
                pipe.set(f"filler:{i}", "x" * 32)
            await pipe.execute()
        await redis.bgrewriteaof()
        async with asyncio.timeout(30):
            while True:
                info = await redis.info("persistence")
                if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
                    break
                await asyncio.sleep(0.05)
        return Saved(Workspace(ws_id, keys), order.id)
    finally:
        await close_redis(redis)
        await asyncio.to_thread(server.stop)
