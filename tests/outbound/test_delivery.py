"""Webhook deliveries end to end: orderlog served by uvicorn on port 0, real receivers on
loopback (support/receivers.py), events written through the API. Retries here start at 0.2 s
and double up to 1 s (support/hooks.py QUICK); the defaults are 5 s up to 1 h."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import pytest

from orderlog.domain import webhooks
from orderlog.settings import Settings
from support import hooks
from support.api import CUSTOMER
from support.faultproxy import FaultProxy
from support.live import KITCHEN_ROUND, create, http, kitchen_round, move
from support.metrics import samples
from support.receivers import SignedReceiver, until
from support.schemas import component, errors
from support.server import Workspace, running_server


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return hooks.quick(settings)


async def test_delivery_every_event_once_in_order_to_two_filtered_webhooks(
    fast: Settings, redis: Any, workspace: Workspace
) -> None:
    """Two webhooks with different filters each get exactly the events they asked for, each
    once, in stream order, signed (verified by the standardwebhooks library), with the live
    feed's event JSON as the body."""
    every, ready = SignedReceiver(), SignedReceiver()
    async with (
        running_server(every.app) as every_url,
        running_server(ready.app) as ready_url,
        running_server(fast) as base,
        http(base) as client,
    ):
        a = await hooks.add(client, workspace, f"{every_url}/hooks/all", label="all")
        b = await hooks.add(
            client,
            workspace,
            f"{ready_url}/ready",
            events=["order.status_changed"],
            statuses=["waiting_for_pickup", "cancelled"],
        )
        every.secrets.append(a["secret"])
        ready.secrets.append(b["secret"])
        ids = await create(client, workspace, 30)
        for i, oid in enumerate(ids):
            await move(client, workspace, oid, "preparing")
            await move(client, workspace, oid, "cancelled" if i % 5 == 0 else "waiting_for_pickup")
        truth = await hooks.stream(redis, workspace)
        assert len(truth) == 90
        wanted = [
            e
            for e in truth
            if e["event"] == "order.status_changed"
            and e["status"] in ("waiting_for_pickup", "cancelled")
        ]
        got_all = await every.wait_for(90)
        got_ready = await ready.wait_for(len(wanted))
        await asyncio.sleep(0.5)  # nothing more arrives
    assert [hooks.stream_id(e) for e in every.events] == [e["id"] for e in truth]
    assert [hooks.stream_id(e) for e in ready.events] == [e["id"] for e in wanted]
    assert len(set(every.ids())) == 90
    assert every.rejected == 0
    assert ready.rejected == 0
    first = got_all[0]
    assert first["type"] == "event"
    assert first["event"] == "order.created"
    assert first["order"]["id"] == ids[0]
    assert {e["order"]["status"] for e in got_ready} == {"waiting_for_pickup", "cancelled"}
    assert every.received[0].headers["webhook-id"].startswith("msg_")
    assert every.received[0].headers["content-type"] == "application/json"


async def test_delivery_kitchen_events_only_to_the_webhook_that_asked(
    fast: Settings, redis: Any, workspace: Workspace
) -> None:
    """A webhook naming every event gets the kitchen's rush marks and item ticks too, in stream
    order among the others, each saying what changed (``priority``; ``item`` and ``done``) and
    valid against the OpenAPI document's WebhookEvent; a webhook created without events gets
    only the default ones."""
    kitchen, plain = SignedReceiver(), SignedReceiver()
    every = {"events": list(webhooks.EVENTS)}
    async with hooks.delivering_each(fast, workspace, (kitchen, every), (plain, {})) as (
        client,
        (_, made),
    ):
        assert made["events"] == list(webhooks.DEFAULT_EVENTS)
        items = ["Latte", {"name": "Pie", "quantity": 2}]
        (oid,) = await create(client, workspace, 1, items=items)
        await kitchen_round(client, workspace, oid)
        truth = await hooks.stream(redis, workspace)
        await kitchen.wait_for(len(truth))
        await plain.wait_for(3)
        await asyncio.sleep(0.5)  # nothing more arrives
        doc = (await client.get("/openapi.json")).json()
    assert [e["event"] for e in truth] == ["order.created", *KITCHEN_ROUND]
    got = kitchen.events
    assert [hooks.stream_id(e) for e in got] == [e["id"] for e in truth]
    assert kitchen.rejected == 0
    members = [(e["event"], e.get("priority"), e.get("item"), e.get("done")) for e in got]
    assert members == [
        ("order.created", None, None, None),
        ("order.status_changed", None, None, None),
        ("order.priority_changed", "rush", None, None),
        ("order.item_done", None, 1, True),
        ("order.item_done", None, 0, True),
        ("order.item_done", None, 1, False),
        ("order.priority_changed", "normal", None, None),
        ("order.status_changed", None, None, None),
    ]
    ticks = [e for e in got if e["event"] == "order.item_done"]
    assert [[i["done"] for i in e["order"]["items"]] for e in ticks] == [
        [False, True],
        [True, True],
        [True, False],
    ]
    assert {e["previous_status"] for e in ticks} == {"preparing"}
    assert [e["order"]["priority"] for e in got] == ["normal"] * 2 + ["rush"] * 4 + ["normal"] * 2
    validator = component(doc, "/components/schemas/WebhookEvent")
    assert [errors(validator, e) for e in got] == [[]] * len(truth)
    wanted = [e["id"] for e in truth if e["event"] in webhooks.DEFAULT_EVENTS]
    assert [hooks.stream_id(e) for e in plain.events] == wanted
    assert [e["event"] for e in plain.events] == [
        "order.created",
        "order.status_changed",
        "order.status_changed",
    ]


async def test_delivery_receiver_down_then_back_gets_everything_in_order(
    fast: Settings, redis: Any, workspace: Workspace
) -> None:
    """The receiver is down (its server stopped: connections refused) for 6 s while 20 events
    are written; once it is back, every event arrives, once, in order. (The issue's 30 s outage,
    shortened: with 0.2-1 s retries 6 s already spans 7+ failed attempts of the head event.)"""
    receiver = SignedReceiver()
    async with running_server(fast) as base, http(base) as client:
        async with running_server(receiver.app) as url:
            port = int(url.rsplit(":", 1)[1])
            hook = await hooks.add(client, workspace, f"{url}/in")
            receiver.secrets.append(hook["secret"])
            await create(client, workspace, 2)
            await receiver.wait_for(2)
        down_at = time.monotonic()
        ids = await create(client, workspace, 20)
        await asyncio.sleep(6)
        failing = await hooks.get(client, workspace, hook["id"])
        assert failing["health"]["state"] == "failing"
        assert failing["health"]["undelivered"] >= 20
        log = await hooks.deliveries(client, workspace, hook["id"])
        assert log["deliveries"][0]["outcome"] == "retrying"
        assert log["deliveries"][0]["error"] == "connection refused"
        async with running_server(receiver.app, port=port):
            await receiver.wait_for(22, within=30)
            back = time.monotonic()
            await asyncio.sleep(0.3)
        healthy = await hooks.get(client, workspace, hook["id"])
    truth = await hooks.stream(redis, workspace)
    assert [hooks.stream_id(e) for e in receiver.events] == [e["id"] for e in truth]
    assert [e["order"]["id"] for e in receiver.events[2:]] == ids
    assert back - down_at >= 6
    assert healthy["health"]["state"] == "healthy"
    assert healthy["health"]["undelivered"] == 0
    assert healthy["health"]["failing_since"] is None


async def test_delivery_honours_retry_after_of_a_429(fast: Settings, workspace: Workspace) -> None:
    """A receiver answering 429 with Retry-After: 2 is not asked again before 2 s, then gets
    the event (the backoff alone would have retried after 0.2 s)."""
    receiver = SignedReceiver()
    receiver.plan.answers.append((429, {"Retry-After": "2"}, b"slow down"))
    settings = hooks.quick(fast, webhook_retry_max_interval=5.0)
    async with hooks.delivering(settings, workspace, receiver) as (client, (hook,)):
        await create(client, workspace, 1)
        await receiver.wait_for(1, within=15)
        log = await hooks.deliveries(client, workspace, hook["id"])
    (first, second) = receiver.attempts
    assert first[1] == 429
    assert second[1] == 204
    assert second[0] - first[0] >= 2.0
    outcomes = [d["outcome"] for d in log["deliveries"]]
    assert outcomes == ["delivered", "retrying"]
    assert log["deliveries"][1]["status_code"] == 429


async def test_delivery_slow_receiver_delays_neither_other_webhooks_nor_ingest(
    fast: Settings, workspace: Workspace
) -> None:
    """While one receiver holds its first request open, another webhook receives every event
    and every write is acknowledged: the slow one holds up only itself."""
    slow, quick = SignedReceiver(), SignedReceiver()
    slow.gate = asyncio.Event()
    async with hooks.delivering(fast, workspace, slow, quick) as (client, _):
        ids = await create(client, workspace, 10)
        for oid in ids:
            await move(client, workspace, oid, "completed")
        await quick.wait_for(20)
        assert slow.holding == 1  # its first delivery is still waiting for an answer
        assert slow.received == []
        slow.gate.set()
        await slow.wait_for(20)
    assert [e["cursor"] for e in slow.events] == [e["cursor"] for e in quick.events]


async def test_delivery_secret_rotation_signs_with_both_secrets(
    fast: Settings, workspace: Workspace
) -> None:
    """After a rotation each delivery carries two signatures: a receiver that only knows the
    old secret and one that only knows the new one both verify it (during the 24 h overlap)."""
    old_only, new_only = SignedReceiver(), SignedReceiver()
    async with (
        running_server(old_only.app) as old_url,
        running_server(new_only.app) as new_url,
        running_server(fast) as base,
        http(base) as client,
    ):
        hook = await hooks.add(client, workspace, old_url)
        old_only.secrets.append(hook["secret"])
        await create(client, workspace, 1)
        await old_only.wait_for(1)
        assert len(old_only.received[0].headers["webhook-signature"].split(" ")) == 1
        resp = await client.post(
            f"{workspace.base}/webhooks/{hook['id']}/rotate-secret", headers=workspace.auth("admin")
        )
        assert resp.status_code == 200, resp.text
        rotated = resp.json()
        assert rotated["secret"] != hook["secret"]
        assert rotated["secret"].startswith("whsec_")
        assert rotated["previous_secret_expires_at"] is not None
        await create(client, workspace, 1)
        await old_only.wait_for(2)
        new_only.secrets.append(rotated["secret"])
        await client.patch(
            f"{workspace.base}/webhooks/{hook['id']}",
            headers=workspace.auth("admin"),
            json={"url": new_url},
        )
        await create(client, workspace, 1)
        await new_only.wait_for(1)
    assert len(old_only.received[1].headers["webhook-signature"].split(" ")) == 2
    assert old_only.received[1].verified_with == [hook["secret"]]
    assert new_only.received[0].verified_with == [rotated["secret"]]
    assert old_only.rejected == 0
    assert new_only.rejected == 0


async def test_delivery_dead_letter_after_retry_window_then_manual_retry(
    fast: Settings, workspace: Workspace
) -> None:
    """An event refused (500) for longer than ORDERLOG_WEBHOOK_RETRY_FOR (1.5 s here) becomes
    a dead letter and the next event goes; the dead letter is listed with its error and, once
    retried by an admin, delivered and gone from the list."""
    receiver = SignedReceiver()
    receiver.plan.default = (500, {}, b"database locked")
    settings = hooks.quick(fast, webhook_retry_for=1.5)
    async with hooks.delivering(settings, workspace, receiver) as (client, (hook,)):
        (first,) = await create(client, workspace, 1)
        log: dict[str, Any] = {}

        async def dead() -> bool:
            nonlocal log
            log = await hooks.deliveries(client, workspace, hook["id"])
            return bool(log["dead_letters"])

        await _eventually(dead, within=15)
        receiver.plan.default = (204, {}, b"")
        (second,) = await create(client, workspace, 1)
        await receiver.wait_for(1)
        assert receiver.events[0]["order"]["id"] == second
        (letter,) = log["dead_letters"]
        assert letter["event"] == "order.created"
        assert letter["error"] == "HTTP 500: database locked"
        assert letter["attempts"] >= 3
        assert any(d["outcome"] == "dead" for d in log["deliveries"])
        resp = await client.post(
            f"{workspace.base}/webhooks/{hook['id']}/deliveries/{letter['delivery_id']}/retry",
            headers=workspace.auth("admin"),
        )
        assert resp.status_code == 202, resp.text
        assert resp.json()["queued"] == "dead"
        await receiver.wait_for(2)
        assert receiver.events[1]["order"]["id"] == first
        after = await hooks.deliveries(client, workspace, hook["id"])
    assert after["dead_letters"] == []
    assert after["deliveries"][0]["manual"] is True
    assert after["deliveries"][0]["outcome"] == "delivered"
    assert receiver.received[1].headers["webhook-id"] != receiver.received[0].headers["webhook-id"]


async def test_delivery_failing_webhook_disabled_then_reenabled_resumes(
    fast: Settings, workspace: Workspace
) -> None:
    """A webhook failing without a success for ORDERLOG_WEBHOOK_DISABLE_AFTER (1.5 s here) is
    disabled and says why; enabling it again delivers the events it had kept, in order."""
    receiver = SignedReceiver()
    receiver.plan.default = (503, {}, b"")
    settings = hooks.quick(fast, webhook_disable_after=1.5)
    async with hooks.delivering(settings, workspace, receiver) as (client, (hook,)):
        await create(client, workspace, 3)
        found: dict[str, Any] = {}

        async def disabled() -> bool:
            nonlocal found
            found = await hooks.get(client, workspace, hook["id"])
            return not found["enabled"]

        await _eventually(disabled, within=15)
        assert found["health"]["state"] == "disabled"
        assert "failing for" in found["disabled_reason"]
        assert "HTTP 503" in found["disabled_reason"]
        receiver.plan.default = (204, {}, b"")
        resp = await client.patch(
            f"{workspace.base}/webhooks/{hook['id']}",
            headers=workspace.auth("admin"),
            json={"enabled": True},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["disabled_reason"] is None
        await receiver.wait_for(3)
    assert [e["order"]["order_number"] for e in receiver.events] == [1, 2, 3]


async def test_delivery_410_gone_disables_at_once(fast: Settings, workspace: Workspace) -> None:
    """A receiver answering 410 Gone is not retried: the webhook is disabled (the Standard
    Webhooks specification asks senders to stop)."""
    receiver = SignedReceiver()
    receiver.plan.default = (410, {}, b"")
    async with hooks.delivering(fast, workspace, receiver) as (client, (hook,)):
        await create(client, workspace, 1)

        async def gone() -> bool:
            return not (await hooks.get(client, workspace, hook["id"]))["enabled"]

        await _eventually(gone, within=10)
        found = await hooks.get(client, workspace, hook["id"])
    assert found["disabled_reason"] == "the receiver answered 410: it is gone"
    assert len(receiver.attempts) == 1


async def _eventually(check: Any, within: float) -> None:
    """Await ``check()`` every 0.1 s until it is true (an API read: nothing to wait on)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 (polling the API: no event to wait on)
            await asyncio.sleep(0.1)


async def test_delivery_metrics_per_webhook(fast: Settings, workspace: Workspace) -> None:
    """/metrics counts each webhook's delivered events, failed attempts and retries, and shows
    its lag (0 once caught up)."""
    receiver = SignedReceiver()
    receiver.plan.answers += [(500, {}, b""), (500, {}, b"")]
    async with hooks.delivering(fast, workspace, receiver) as (client, (hook,)):
        await create(client, workspace, 3)
        await receiver.wait_for(3)
        await asyncio.sleep(0.6)  # an idle round sets the lag back to 0
        page = (await client.get("/metrics")).text
    found = samples(page)
    label = (("webhook", hook["id"]),)
    assert found[("orderlog_webhook_deliveries_total", label)] == 3
    assert found[("orderlog_webhook_failures_total", label)] == 2
    assert found[("orderlog_webhook_retries_total", label)] == 2
    assert found[("orderlog_webhook_lag_seconds", label)] == 0


async def test_delivery_redis_connection_reset_mid_delivery_loses_nothing(
    fast: Settings, redis_url: str, redis: Any, workspace: Workspace
) -> None:
    """The server's Redis connections are reset (TCP RST, refused for 1.5 s) while a delivery
    is in flight, and the receiver then refuses it (500), so the server must record a failure
    while Redis is away: once Redis is back the webhook goes on from what Redis holds pending,
    the refused event first, and every event arrives once, in order."""
    host, port = redis_url.removeprefix("redis://").split("/")[0].rsplit(":", 1)
    proxy = await FaultProxy(host, int(port)).start()
    receiver = SignedReceiver()
    receiver.gate = asyncio.Event()
    receiver.plan.answers.append((500, {}, b"not now"))
    try:
        through_proxy = dataclasses.replace(fast, redis_url=proxy.url)
        async with hooks.delivering(through_proxy, workspace, receiver) as (client, _):
            await create(client, workspace, 5)
            await until(lambda: receiver.holding == 1, receiver.changed, 10, "a held delivery")
            proxy.set_mode("reset")
            receiver.gate.set()  # the answer arrives while Redis is unreachable
            await asyncio.sleep(1.5)
            proxy.set_mode("pass")
            await _write_retrying(client, workspace, 5)
            truth = [e["id"] for e in await hooks.stream(redis, workspace)]

            def all_arrived() -> bool:
                return set(truth) <= {hooks.stream_id(e) for e in receiver.events}

            await until(all_arrived, receiver.changed, 30, "every event")
    finally:
        await proxy.stop()
    arrived = [hooks.stream_id(e) for e in receiver.events]
    assert arrived == truth
    assert receiver.attempts[0][1] == 500


async def _write_retrying(client: Any, ws: Workspace, n: int) -> None:
    """``n`` creates in one batch, retried with one Idempotency-Key while the server answers 503
    (its pool still meeting connections the reset broke), as a client is told to."""
    ops = [{"op": "create", "customer": CUSTOMER, "items": ["Latte"]}] * n
    headers = {**ws.auth(), "Idempotency-Key": "after-the-reset"}
    async with asyncio.timeout(10):
        while True:
            resp = await client.post(f"{ws.base}/batch", headers=headers, json={"operations": ops})
            if resp.status_code != 503:
                break
            await asyncio.sleep(0.1)
    assert resp.status_code == 200, resp.text
