"""The hub against a real Redis, without a server: subscriptions, shared snapshot reads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster

from orderlog.live.backends import ShardedPubSub
from orderlog.live.hub import Hub
from support.server import Workspace


async def test_hub_shares_a_snapshot_read_only_with_earlier_subscriptions(
    redis: Any, workspace: Workspace
) -> None:
    """Subscriptions registered before a snapshot read started share it (same generation);
    one registered after it, or asking in another generation, gets its own read."""
    hub = Hub(redis)
    statuses = ("submitted",)
    try:
        async with hub.subscribe(workspace.id) as a, hub.subscribe(workspace.id) as b:
            generation = await a.wait_live(5)
            first = asyncio.create_task(a.snapshot(statuses, generation))
            await asyncio.sleep(0)  # the read is in flight
            joined = asyncio.create_task(b.snapshot(statuses, generation))
            other_generation = asyncio.create_task(b.snapshot(statuses, generation + 1))
            async with hub.subscribe(workspace.id) as late:
                own = asyncio.create_task(late.snapshot(statuses, generation))
                async with asyncio.timeout(5):
                    snaps = await asyncio.gather(first, joined, other_generation, own)
        assert snaps[0] is snaps[1]
        assert snaps[2] is not snaps[0]
        assert snaps[3] is not snaps[0]
        assert snaps[3] is not snaps[2]
        assert hub.subscribers() == 0
    finally:
        await hub.close()


async def test_hub_on_a_cluster_client_needs_the_sharded_backend() -> None:
    """A cluster's events are SPUBLISHed, which plain SUBSCRIBE never hears: a hub built on a
    cluster client without a backend refuses at once instead of listening to nothing."""
    cluster = RedisCluster(host="127.0.0.1", port=1)  # never connected
    try:
        with pytest.raises(TypeError, match="ShardedPubSub"):
            Hub(cluster)
        Hub(cluster, backend=lambda: ShardedPubSub(cluster))  # the app's choice on a cluster
    finally:
        await cluster.aclose()
