"""Webhook records and their consumer groups in a real Redis (and on the cluster): sealed at
rest, the group's start, leases, claiming a crashed consumer's entries, the capped log,
deletion, and what "send again" finds."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from orderlog.domain import inputs, webhooks
from orderlog.domain.model import DEFAULT_WORKFLOW
from orderlog.errors import Conflict, InvalidInput, NotFound, ServerKeyUnavailable
from orderlog.keys import Keys
from orderlog.live import frames
from orderlog.sealing import Sealer, decode_key, new_key
from orderlog.store.delivery import DeliveryQueue
from orderlog.store.webhooks import WebhookStore
from support.server import Workspace

TOKEN = "Zq" * 34
DISCORD = f"https://discord.com/api/webhooks/1234567890/{TOKEN}"


def stores(redis: Any, **options: Any) -> tuple[WebhookStore, DeliveryQueue]:
    keys = Keys()
    return WebhookStore(redis, keys, Sealer(decode_key(new_key())), **options), DeliveryQueue(
        redis, keys
    )


def spec(url: str = "https://hooks.example.com/in?key=k3y", **more: Any) -> webhooks.Spec:
    fmt = "discord" if "discord.com" in url else "json"
    return webhooks.parse_spec(
        {"url": url, "format": fmt, **more}, DEFAULT_WORKFLOW.names, allow_private=False
    )


async def write(state: Any, ws: Workspace, n: int) -> None:
    for _ in range(n):
        cmd = inputs.create_order({"customer": {"user_id": 1, "username": "a"}})
        await state.orders.create(ws.id, cmd, DEFAULT_WORKFLOW)


@pytest.mark.cluster_too
async def test_webhooks_store_sealed_at_rest_and_group_starts_now(
    redis: Any, state: Any, workspace: Workspace
) -> None:
    """Neither the signing secret nor the URL (a Discord URL holds its token) is in Redis in
    the clear; the webhook's group starts after the events already written."""
    store, queue = stores(redis)
    await write(state, workspace, 3)
    hook, secret = await store.create(workspace.id, spec())
    discord, none = await store.create(workspace.id, spec(DISCORD))
    assert secret is not None
    assert secret.startswith("whsec_")
    assert none is None
    for h in (hook, discord):
        raw = await redis.hgetall(Keys().webhook(workspace.id, h.id))
        dump = b" ".join(k + b"=" + v for k, v in raw.items())
        assert secret.encode() not in dump
        assert TOKEN.encode() not in dump
        assert b"k3y" not in dump
    found = await store.get(workspace.id, hook.id)
    assert found.secret == secret
    assert found.spec.url == "https://hooks.example.com/in?key=k3y"
    assert found.to_json()["url"] == "https://hooks.example.com/in?…"
    assert await queue.read(workspace.id, hook.id, "me", 10) == []
    await write(state, workspace, 2)
    fresh = await queue.read(workspace.id, hook.id, "me", 10)
    assert [e.event for e in fresh] == ["order.created", "order.created"]
    assert (await store.health(found))["undelivered"] == 2
    await store.delete(workspace.id, hook.id)
    assert await redis.keys(Keys().webhook(workspace.id, hook.id) + "*") == []
    groups = await redis.xinfo_groups(Keys().events(workspace.id))
    assert [g["name"] for g in groups] == [Keys.webhook_group(discord.id).encode()]
    with pytest.raises(NotFound):
        await store.get(workspace.id, hook.id)


async def test_webhooks_store_at_most_twenty_per_workspace(
    redis: Any, workspace: Workspace
) -> None:
    """The 21st webhook of a workspace is a 409."""
    store, _ = stores(redis)
    for _ in range(webhooks.MAX_WEBHOOKS):
        await store.create(workspace.id, spec())
    with pytest.raises(Conflict):
        await store.create(workspace.id, spec())


async def test_webhooks_store_leases_and_adopting_a_crashed_consumer(
    redis: Any, state: Any, workspace: Workspace
) -> None:
    """One holder at a time; only the holder renews or releases. A new holder claims what the
    crashed one had read (in order) and the crashed consumer is forgotten."""
    store, queue = stores(redis)
    await write(state, workspace, 1)  # a workspace with a stream already
    hook, _ = await store.create(workspace.id, spec())
    assert await queue.acquire(workspace.id, hook.id, "a", 5)
    assert not await queue.acquire(workspace.id, hook.id, "b", 5)
    assert not await queue.renew(workspace.id, hook.id, "b", 5)
    await queue.release(workspace.id, hook.id, "b")
    assert await queue.holder(workspace.id, hook.id) == "a"
    await write(state, workspace, 5)
    read = await queue.read(workspace.id, hook.id, "a", 3)  # "a" crashes after reading these
    await redis.delete(Keys().webhook_lease(workspace.id, hook.id))  # its lease expires
    assert await queue.acquire(workspace.id, hook.id, "b", 5)
    adopted = await queue.adopt(workspace.id, hook.id, "b")
    assert [e.id for e in adopted] == [e.id for e in read]
    consumers = await redis.xinfo_consumers(
        Keys().events(workspace.id), Keys.webhook_group(hook.id)
    )
    assert [c["name"] for c in consumers] == [b"b"]
    rest = await queue.read(workspace.id, hook.id, "b", 10)
    assert len(rest) == 2


async def test_webhooks_store_settle_is_fenced_and_the_log_capped(
    redis: Any, state: Any, workspace: Workspace
) -> None:
    """Settling acknowledges, logs (100 kept, newest first) and writes state for the lease
    holder; without the lease only the acknowledgements are written."""
    store, queue = stores(redis)
    await write(state, workspace, 1)  # a workspace with a stream already
    hook, _ = await store.create(workspace.id, spec())
    await queue.acquire(workspace.id, hook.id, "me", 5)
    await write(state, workspace, 2)
    first, second = await queue.read(workspace.id, hook.id, "me", 10)
    logs = [orjson.dumps({"at": "x", "outcome": "delivered", "n": i}) for i in range(150)]
    assert await queue.settle(
        workspace.id, hook.id, "me", acks=[first.id], logs=logs, state={"last_ok": "1"}
    )
    shown = await store.deliveries(workspace.id, hook.id)
    assert len(shown) == 100
    assert shown[0]["n"] == 149
    assert (await store.get(workspace.id, hook.id)).state["last_ok"] == "1"
    assert not await queue.settle(
        workspace.id, hook.id, "other", acks=[second.id], logs=logs[:1], state={"last_ok": "2"}
    )
    assert (await store.get(workspace.id, hook.id)).state["last_ok"] == "1"
    assert len(await store.deliveries(workspace.id, hook.id)) == 100
    assert (await store.health(await store.get(workspace.id, hook.id)))["undelivered"] == 0


async def test_webhooks_store_retry_finds_dead_letters_the_head_and_the_stream(
    redis: Any, state: Any, workspace: Workspace
) -> None:
    """ "Send again" queues a dead letter or an event still in the stream, makes the event being
    retried due now, and is a 404 for anything else."""
    store, queue = stores(redis)
    await write(state, workspace, 1)  # a workspace with a stream already
    hook, _ = await store.create(workspace.id, spec())
    await queue.acquire(workspace.id, hook.id, "me", 5)
    await write(state, workspace, 3)
    one, two, three = await queue.read(workspace.id, hook.id, "me", 10)
    letter = orjson.dumps({"event": one.event, "error": "HTTP 500", "dead_at": "x"})
    await queue.settle(workspace.id, hook.id, "me", dead=(one.id, letter))
    await queue.settle(
        workspace.id, hook.id, "me", state={"head": two.id, "next_at": "99999999999999"}
    )
    assert await store.retry(workspace.id, hook.id, one.id) == "dead"
    assert await store.retry(workspace.id, hook.id, two.id) == "due"
    assert (await store.get(workspace.id, hook.id)).state["next_at"] == "0"
    assert await store.retry(workspace.id, hook.id, three.id) == "again"
    assert await queue.redrive(workspace.id, hook.id) == [one.id, three.id]
    for unknown in ("1-1", "not-an-id", "12"):
        with pytest.raises(NotFound):
            await store.retry(workspace.id, hook.id, unknown)
    (shown,) = await store.dead_letters(workspace.id, hook.id)
    assert shown["delivery_id"] == one.id
    assert shown["error"] == "HTTP 500"


async def test_webhooks_store_rotation_keeps_the_old_secret_for_the_overlap(
    redis: Any, workspace: Workspace
) -> None:
    """After a rotation both secrets sign until the overlap ends, then only the new one; a
    Discord webhook has nothing to rotate."""
    store, _ = stores(redis, rotation_overlap=60)
    hook, old = await store.create(workspace.id, spec())
    rotated, new = await store.rotate(workspace.id, hook.id)
    assert rotated.signing_secrets() == [new, old]
    assert rotated.signing_secrets(at_ms=rotated.previous_until) == [new]
    again, newest = await store.rotate(workspace.id, hook.id)
    assert again.signing_secrets() == [newest, new]
    discord, _ = await store.create(workspace.id, spec(DISCORD))
    with pytest.raises(InvalidInput, match="no signing secret"):
        await store.rotate(workspace.id, discord.id)


async def test_webhooks_store_another_server_key_cannot_open(
    redis: Any, workspace: Workspace
) -> None:
    """A server with another key cannot read a webhook sealed by this one: a 503 naming both
    key ids (never a key), not a crash nor garbage."""
    mine, _ = stores(redis)
    hook, _ = await mine.create(workspace.id, spec())
    theirs, _ = stores(redis)
    with pytest.raises(ServerKeyUnavailable) as caught:
        await theirs.get(workspace.id, hook.id)
    assert mine.sealer.key_id in caught.value.message
    assert theirs.sealer.key_id in caught.value.message


async def test_webhooks_store_body_is_the_live_feeds_event(
    redis: Any, state: Any, workspace: Workspace
) -> None:
    """A JSON webhook's body is byte for byte the event frame the live feed sends."""
    store, queue = stores(redis)
    await write(state, workspace, 1)  # a workspace with a stream already
    hook, _ = await store.create(workspace.id, spec())
    await write(state, workspace, 2)
    epoch = await queue.epoch(workspace.id)
    for entry in await queue.read(workspace.id, hook.id, "me", 10):
        assert entry.rest is not None
        live = frames.event(entry.id.encode(), entry.status.encode(), epoch, entry.rest)
        assert entry.body(epoch) == live.data
        assert orjson.loads(entry.body(epoch))["event"] == entry.event == "order.created"


async def test_webhooks_store_webhook_before_any_event_gets_the_first(
    redis: Any, state: Any, workspace: Workspace
) -> None:
    """A webhook of a workspace that has no event yet does not make the stream (the first event
    does, and remembers its id for the live feed), and receives the events from the first."""
    store, queue = stores(redis)
    hook, _ = await store.create(workspace.id, spec())
    assert not await redis.exists(Keys().events(workspace.id))
    assert await queue.read(workspace.id, hook.id, "me", 10) == []
    await write(state, workspace, 2)
    assert await redis.get(Keys().events_first(workspace.id)) is not None
    assert await queue.read(workspace.id, hook.id, "me", 10) == []  # (the group is made now)
    first, second = await queue.read(workspace.id, hook.id, "me", 10)
    truth = await redis.xrange(Keys().events(workspace.id))
    assert [first.id, second.id] == [sid.decode() for sid, _ in truth]
