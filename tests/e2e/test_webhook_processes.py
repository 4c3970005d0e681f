"""Webhooks across server processes (real subprocesses on one Redis): a process killed in the
middle of a delivery loses nothing; another one finishes its webhook, in order."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from orderlog.keys import Keys
from orderlog.sealing import new_key
from support import hooks
from support.live import create, http
from support.processes import Served
from support.receivers import SignedReceiver, until
from support.server import Workspace, running_server


@pytest.mark.slow
async def test_webhook_process_killed_mid_delivery_another_finishes(
    redis_url: str, redis: Any, workspace: Workspace
) -> None:
    """Two servers share a webhook's work; the one delivering it is SIGKILLed while the
    receiver holds its first request. The other takes the webhook over once the lease (2 s
    here) expires, claims the events the dead one had read (XAUTOCLAIM) and delivers all of
    them in order. Only the event in flight at the kill arrives twice (at least once)."""
    environ = {
        "ORDERLOG_SECRET_KEY": new_key(),  # the two servers must share it (as two hosts would)
        "ORDERLOG_WEBHOOK_ALLOW_PRIVATE": "1",
        "ORDERLOG_WEBHOOK_LEASE": "2",
        "ORDERLOG_WEBHOOK_RETRY_BASE": "0.2",
        "ORDERLOG_WEBHOOK_RETRY_MAX_INTERVAL": "1",
    }
    receiver = SignedReceiver()
    receiver.gate = asyncio.Event()
    servers = [Served(redis_url, **environ), Served(redis_url, **environ)]
    try:
        await asyncio.gather(*(asyncio.to_thread(s.wait_ready) for s in servers))
        async with running_server(receiver.app) as url, http(servers[0].base) as client:
            hook = await hooks.add(client, workspace, url)
            receiver.secrets.append(hook["secret"])
            ids = await create(client, workspace, 10)
            await until(lambda: receiver.holding == 1, receiver.changed, 20, "a held delivery")
            lease = Keys().webhook_lease(workspace.id, hook["id"])
            holder = (await redis.get(lease)).decode()
            victim = next(s for s in servers if f":{s.proc.pid}:" in holder)
            survivor = next(s for s in servers if s is not victim)
            victim.kill()
            receiver.gate.set()  # the held request ends; its answer reaches no one
            await receiver.wait_for(11, within=30)
            await asyncio.sleep(0.5)
            taken = (await redis.get(lease)).decode()
            async with http(survivor.base) as other:
                health = await hooks.get(other, workspace, hook["id"])
    finally:
        for s in servers:
            s.kill()
    truth = [e["id"] for e in await hooks.stream(redis, workspace)]
    arrived = [hooks.stream_id(e) for e in receiver.events]
    first_seen = list(dict.fromkeys(arrived))
    assert first_seen == truth
    assert [e["order"]["id"] for e in receiver.events[1:]] == ids  # the redelivery, in order
    assert len(arrived) == 11
    assert arrived[0] == arrived[1]  # the one in flight at the kill, delivered again
    assert f":{survivor.proc.pid}:" in taken
    assert health["health"]["undelivered"] == 0


@pytest.mark.slow
async def test_webhook_processes_share_webhooks_without_duplicates(
    redis_url: str, redis: Any, workspace: Workspace
) -> None:
    """Two servers and four webhooks: each server delivers two of them (fair shares), and
    each receiver gets every event exactly once, in order."""
    environ = {
        "ORDERLOG_SECRET_KEY": new_key(),
        "ORDERLOG_WEBHOOK_ALLOW_PRIVATE": "1",
        "ORDERLOG_WEBHOOK_LEASE": "2",
    }
    receivers = [SignedReceiver() for _ in range(4)]
    servers = [Served(redis_url, **environ), Served(redis_url, **environ)]
    try:
        await asyncio.gather(*(asyncio.to_thread(s.wait_ready) for s in servers))
        async with contextlib.AsyncExitStack() as stack:
            urls = [await stack.enter_async_context(running_server(r.app)) for r in receivers]
            client = await stack.enter_async_context(http(servers[0].base))
            made = []
            for r, url in zip(receivers, urls, strict=True):
                made.append(await hooks.add(client, workspace, url))
                r.secrets.append(made[-1]["secret"])
            writer = await stack.enter_async_context(http(servers[1].base))
            await create(writer, workspace, 20)
            for r in receivers:
                await r.wait_for(20, within=30)
            await asyncio.sleep(0.5)
            holders = [
                (await redis.get(Keys().webhook_lease(workspace.id, h["id"]))).decode()
                for h in made
            ]
    finally:
        for s in servers:
            s.kill()
    truth = [e["id"] for e in await hooks.stream(redis, workspace)]
    for r in receivers:
        assert [hooks.stream_id(e) for e in r.events] == truth
    pids = [h.split(":")[1] for h in holders]
    assert sorted(pids.count(str(s.proc.pid)) for s in servers) == [2, 2]
