"""Delivery engines in process (two of them standing for two servers on one Redis): a clean stop
hands the webhook over at once, a server with the wrong key leaves it to one with the right
key; and the governor's rule."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from orderlog.domain import inputs, webhooks
from orderlog.domain.model import DEFAULT_WORKFLOW
from orderlog.keys import Keys
from orderlog.outbound.client import Client
from orderlog.outbound.engine import Config, Engine
from orderlog.outbound.governor import Governor
from orderlog.sealing import Sealer, decode_key, new_key
from orderlog.store.delivery import DeliveryQueue
from orderlog.store.webhooks import WebhookStore
from orderlog.store.workspaces import WorkspaceStore
from support.receivers import SignedReceiver
from support.server import Workspace, running_server

CONFIG = Config(lease=2.0, retry_base=0.2, retry_max_interval=1.0, idle_poll=0.2)


@contextlib.asynccontextmanager
async def engine(redis: Any, sealer: Sealer) -> AsyncIterator[Engine]:
    keys = Keys()
    running = Engine(
        webhooks=WebhookStore(redis, keys, sealer),
        queue=DeliveryQueue(redis, keys),
        workspaces=WorkspaceStore(redis, keys),
        client=Client(allow_private=True, timeout=5),
        config=CONFIG,
    )
    running.start()
    try:
        yield running
    finally:
        await running.close()


async def write(state: Any, ws: Workspace) -> None:
    cmd = inputs.create_order({"customer": {"user_id": 1, "username": "a"}})
    await state.orders.create(ws.id, cmd, DEFAULT_WORKFLOW)


async def test_engine_clean_stop_hands_the_webhook_over_at_once(
    redis: Any, state: Any, workspace: Workspace
) -> None:
    """A stopping engine writes what it delivered and gives its lease back (no waiting for it
    to expire): the other engine takes the webhook in its next round and goes on."""
    sealer = Sealer(decode_key(new_key()))
    store = WebhookStore(redis, Keys(), sealer)
    receiver = SignedReceiver()
    async with running_server(receiver.app) as url:
        spec = webhooks.parse_spec({"url": url}, DEFAULT_WORKFLOW.names, allow_private=True)
        hook, secret = await store.create(workspace.id, spec)
        receiver.secrets.append(str(secret))
        lease = Keys().webhook_lease(workspace.id, hook.id)
        async with engine(redis, sealer) as first:
            await write(state, workspace)
            await receiver.wait_for(1)
            assert (await redis.get(lease)).decode() == first.me
        assert await redis.get(lease) is None
        assert (await store.health(await store.get(workspace.id, hook.id)))["undelivered"] == 0
        async with engine(redis, sealer) as second:
            await write(state, workspace)
            await receiver.wait_for(2)
            assert (await redis.get(lease)).decode() == second.me
    assert len(set(receiver.ids())) == 2


async def test_engine_wrong_server_key_leaves_the_webhook_to_the_right_one(
    redis: Any, state: Any, workspace: Workspace
) -> None:
    """An engine whose server key did not seal the webhook cannot open it: it lets the webhook
    go (and skips it a while) and an engine with the right key delivers."""
    right = Sealer(decode_key(new_key()))
    wrong = Sealer(decode_key(new_key()))
    store = WebhookStore(redis, Keys(), right)
    receiver = SignedReceiver()
    async with running_server(receiver.app) as url:
        spec = webhooks.parse_spec({"url": url}, DEFAULT_WORKFLOW.names, allow_private=True)
        hook, secret = await store.create(workspace.id, spec)
        receiver.secrets.append(str(secret))
        await write(state, workspace)
        async with engine(redis, wrong) as mistaken:
            async with asyncio.timeout(10):
                while (workspace.id, hook.id) not in mistaken.skip:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)  # (the engine's own state: nothing to wait on)
            assert receiver.attempts == []
            assert await redis.get(Keys().webhook_lease(workspace.id, hook.id)) is None
            async with engine(redis, right):
                await receiver.wait_for(1)


def test_engine_governor_yields_only_to_its_own_load() -> None:
    """The pause grows while the loop lags and the process is busy, not when the machine's
    other processes make the loop late; it shrinks back to nothing once the loop keeps up."""
    g = Governor()
    for _ in range(20):
        g.observe(0.05, busy=0.1)  # late, but this process hardly ran: someone else's load
    assert g.pause == 0
    while not g.pause:
        g.observe(0.05, busy=0.9)
    first = g.pause
    g.observe(0.05, busy=0.9)
    assert g.pause == 2 * first
    for _ in range(20):
        g.observe(0.05, busy=0.95)
    assert g.pause == g.most
    for _ in range(40):
        g.observe(0.0, busy=0.9)  # busy delivering, but the loop keeps up: a catch-up
    assert g.pause == 0


def test_engine_governor_holds_under_a_saturated_loop_that_is_often_on_time() -> None:
    """A saturated ingest leaves many samples on time between late ones (the loop's average
    lag is a few ms): the pause still grows to its most and stays there."""
    g = Governor()
    for i in range(200):
        g.observe(0.008 if i % 3 == 0 else 0.0, busy=0.95)
    assert g.pause == g.most
