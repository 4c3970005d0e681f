"""Retention on a real Redis: old orders go with every index entry; sweeps are idempotent,
batched, safe to run concurrently, and run in the app's lifespan."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest

from orderlog.domain import inputs, search
from orderlog.domain.model import DEFAULT_WORKFLOW
from orderlog.errors import NotFound
from orderlog.keys import INDEX_SUFFIXES, VOCABULARIES
from orderlog.store import retention
from support.searchdata import ALICE, BOB, load
from support.server import running_server

DAY_MS = 86_400_000


async def age(redis: Any, store: Any, workspace_id: str, numbers: list[int], days: float) -> None:
    """Pretend the orders were created ``days`` ago (the index score and the hash field)."""
    when = int(time.time() * 1000 - days * DAY_MS)
    created = store.keys.index(workspace_id, "created")
    await redis.zadd(created, {str(n): when for n in numbers})
    for n in numbers:
        await redis.hset(store.keys.order(workspace_id, n), "cms", when)


async def index_members(redis: Any, store: Any, workspace_id: str) -> dict[str, set[int]]:
    """Every order index (the vocabularies aside) -> its order numbers."""
    out = {}
    vocab = store.keys.index_prefix(workspace_id) + INDEX_SUFFIXES["vocab"]
    async for key in redis.scan_iter(match=store.keys.index_prefix(workspace_id) + "*"):
        if not key.decode().startswith(vocab):
            out[key.decode()] = {int(m) for m in await redis.zrange(key, 0, -1)}
    return out


async def assert_vocabularies_match(redis: Any, store: Any, workspace_id: str) -> None:
    """Each vocabulary lists exactly the values its text indexes hold orders for."""
    indexes = await index_members(redis, store, workspace_id)
    for kind in VOCABULARIES:
        head = store.keys.index(workspace_id, kind)
        held = {key.removeprefix(head) for key in indexes if key.startswith(head)}
        listed = await redis.zrange(store.keys.vocabulary(workspace_id, kind), 0, -1)
        assert {v.decode() for v in listed} == held, kind
        assert held, kind


async def bulk(store: Any, workspace_id: str, count: int) -> None:
    command = inputs.create_order({"customer": ALICE, "actor": BOB, "items": ["Latte"]})
    for start in range(0, count, 100):
        await store.apply(workspace_id, [command] * min(100, count - start), DEFAULT_WORKFLOW)


@pytest.mark.cluster_too
async def test_retention_removes_old_orders_with_every_index_entry(
    state: Any, redis: Any, workspace: Any
) -> None:
    """Orders past retention lose their hash, id entry and every index entry; a second sweep
    finds nothing to do."""
    store = state.orders
    ids = await load(store, workspace.id)
    before = await index_members(redis, store, workspace.id)
    await age(redis, store, workspace.id, [1, 2, 3], days=91)
    await age(redis, store, workspace.id, [4], days=89)
    assert await retention.sweep_workspace(store, workspace.id, 90) == 3
    for n, order_id in enumerate(ids[:3], start=1):
        assert not await redis.exists(store.keys.order(workspace.id, n))
        assert not await redis.hexists(store.keys.ids(workspace.id), order_id)
    after = await index_members(redis, store, workspace.id)
    for key, members in after.items():
        assert members <= {4, 5}, key
        assert members == before[key] - {1, 2, 3}, key
    # Indexes that held only removed orders are gone, not left empty, and so are their values
    # in the vocabularies prefix search reads.
    gone = {key for key, members in before.items() if members <= {1, 2, 3}}
    assert gone
    assert gone.isdisjoint(after)
    assert any(store.keys.index(workspace.id, "token") in key for key in gone)
    await assert_vocabularies_match(redis, store, workspace.id)
    assert sorted(await redis.hkeys(store.keys.ids(workspace.id))) == sorted(
        i.encode() for i in ids[3:]
    )
    page = await store.search(workspace.id, search.parse([("customer", "alice")], ["submitted"]))
    assert len(page.orders) == 1
    with pytest.raises(NotFound):
        await store.get(workspace.id, ids[0])
    assert await retention.sweep_workspace(store, workspace.id, 90) == 0
    assert await index_members(redis, store, workspace.id) == after


@pytest.mark.cluster_too
async def test_retention_follows_each_workspace_setting(
    state: Any, redis: Any, workspace: Any
) -> None:
    """A workspace keeping 1 day loses 2-day-old orders; one keeping the default 90 does not."""
    store = state.orders
    other, _ = await state.workspaces.create_workspace("Other cafe")
    await state.workspaces.update_settings(workspace.id, {"retention_days": 1})
    for ws in (workspace.id, other):
        await bulk(store, ws, 3)
        await age(redis, store, ws, [1, 2], days=2)
    assert await retention.sweep(store, state.workspaces) == {workspace.id: 2}
    assert await redis.zcard(store.keys.index(workspace.id, "all")) == 1
    assert await redis.zcard(store.keys.index(other, "all")) == 3


async def test_retention_concurrent_sweeps_split_the_work(
    state: Any, redis: Any, workspace: Any
) -> None:
    """Three sweepers with small batches remove each old order once, and nothing young."""
    store = state.orders
    await bulk(store, workspace.id, 460)
    await age(redis, store, workspace.id, list(range(1, 451)), days=100)
    counts = await asyncio.gather(
        *(retention.sweep_workspace(store, workspace.id, 90, batch=50, pause=0) for _ in range(3))
    )
    assert sum(counts) == 450
    remaining = await redis.zrange(store.keys.index(workspace.id, "all"), 0, -1)
    assert sorted(int(n) for n in remaining) == list(range(451, 461))
    assert await redis.hlen(store.keys.ids(workspace.id)) == 10


async def test_retention_runs_in_the_app_lifespan(
    settings: Any, state: Any, redis: Any, workspace: Any
) -> None:
    """The server's background task sweeps on its own."""
    store = state.orders
    await bulk(store, workspace.id, 4)
    await age(redis, store, workspace.id, [1, 2], days=120)
    all_key = store.keys.index(workspace.id, "all")
    async with running_server(replace(settings, retention_interval=0.05)):
        async with asyncio.timeout(10):
            while True:
                if await redis.zcard(all_key) == 2:
                    break
                await asyncio.sleep(0.02)
    assert sorted(int(n) for n in await redis.zrange(all_key, 0, -1)) == [3, 4]
