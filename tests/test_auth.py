"""Authenticator: the key cache under many concurrent callers."""

from __future__ import annotations

import asyncio
from typing import Any

from orderlog.auth import Authenticator
from orderlog.store.workspaces import WorkspaceStore


async def hgetall_calls(redis: Any) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_hgetall", {}).get("calls", 0))


async def test_authenticator_concurrent_misses_read_redis_once(redis: Any) -> None:
    """500 sockets re-checking one key when its cache entry expired cause one Redis read."""
    store = WorkspaceStore(redis)
    ws_id, keys = await store.create_workspace("Cafe")
    auth = Authenticator(store)
    await redis.config_resetstat()
    principals = await asyncio.gather(*(auth.authenticate(keys["read"]) for _ in range(500)))
    assert {p.workspace_id for p in principals} == {ws_id}
    assert await hgetall_calls(redis) == 1
    assert await asyncio.gather(*(auth.still_valid(principals[0]) for _ in range(500)))
    assert await hgetall_calls(redis) == 1  # cached now


async def test_authenticator_cancelled_caller_does_not_cancel_shared_read(redis: Any) -> None:
    """A caller that goes away mid-read leaves the others their answer."""
    store = WorkspaceStore(redis)
    _, keys = await store.create_workspace("Cafe")
    auth = Authenticator(store)
    first = asyncio.ensure_future(auth.authenticate(keys["read"]))
    second = asyncio.ensure_future(auth.authenticate(keys["read"]))
    await asyncio.sleep(0)
    first.cancel()
    principal = await asyncio.wait_for(second, 5)
    assert principal.scope == "read"


async def test_authenticator_revoked_key_seen_after_cache_time(redis: Any) -> None:
    """still_valid turns False once the cache entry of a revoked key expires."""
    store = WorkspaceStore(redis)
    _, keys = await store.create_workspace("Cafe")
    auth = Authenticator(store, cache_seconds=0.0)
    principal = await auth.authenticate(keys["read"])
    await store.revoke_key(principal.key_id)
    assert not await auth.still_valid(principal)


async def test_authenticator_expired_entry_served_while_re_read(redis: Any) -> None:
    """While an expired key is re-read, other callers get the previous answer without waiting."""
    store = WorkspaceStore(redis)
    _, keys = await store.create_workspace("Cafe")
    auth = Authenticator(store, cache_seconds=0.0)
    principal = await auth.authenticate(keys["read"])
    first = asyncio.ensure_future(auth.still_valid(principal))
    await asyncio.sleep(0)  # the first caller's read is in flight
    others = [asyncio.ensure_future(auth.still_valid(principal)) for _ in range(100)]
    await asyncio.sleep(0)
    assert all(o.done() and o.result() for o in others)
    assert await asyncio.wait_for(first, 5)


async def test_authenticator_watches_each_key_once_for_all_its_connections(redis: Any) -> None:
    """Live connections waiting on ``revoked``: one key check per second per key whatever the
    number of connections; a revoked key's connections are told within ~2 s, another key's are
    not; the watch ends once no connection is left."""
    store = WorkspaceStore(redis)
    _, keys = await store.create_workspace("Cafe")
    auth = Authenticator(store, cache_seconds=0.0)
    read, write = [await auth.authenticate(keys[s]) for s in ("read", "write")]
    await redis.config_resetstat()
    reading = [auth.revoked(read) for _ in range(300)]
    writing = [auth.revoked(write) for _ in range(2)]
    await asyncio.sleep(2.5)
    assert await hgetall_calls(redis) <= 2 * 3  # two keys, at most three checks each
    assert not any(f.done() for f in reading + writing)
    await store.revoke_key(read.key_id)
    await asyncio.wait_for(asyncio.gather(*reading), 2.5)
    assert not any(f.done() for f in writing)
    for f in writing:
        f.cancel()
    watcher = auth._watcher
    assert watcher is not None
    await asyncio.wait_for(watcher, 3)  # nothing left to watch: it ends by itself
    await auth.close()
