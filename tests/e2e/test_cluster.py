"""The whole store on a real three-master Redis Cluster (Redis 7, started by the suite).

This module overrides ``redis_url`` with the cluster's URL, so the conftest fixtures (``redis``,
``state``, ``client``, ``workspace``, ``server``) all run on the cluster. Tests of other modules
marked ``cluster_too`` run on this cluster as well (conftest.py parametrizes them).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import httpx
import pytest

from orderlog.app import build_state, create_app
from orderlog.keys import Keys
from orderlog.store.client import close_redis, make_redis, node_states, publish_command
from support.api import CUSTOMER, new_order
from support.cluster import Cluster, redis_7_binary, spread_workspaces
from support.live import create, events, http, move, quiet, recv, socket
from support.server import WithState, running_server


@pytest.fixture(scope="module")
def redis_url(cluster: Cluster) -> str:
    return cluster.url


def test_cluster_publishes_with_spublish(redis_url: str) -> None:
    """A cluster URL makes write.lua publish with SPUBLISH; a plain URL with PUBLISH."""
    assert publish_command(redis_url) == "SPUBLISH"
    assert publish_command("redis://127.0.0.1:6379") == "PUBLISH"
    assert publish_command(None) == "PUBLISH"


async def test_cluster_workspaces_on_every_master_write_and_read(
    client: httpx.AsyncClient, state: Any
) -> None:
    """Writes, status changes, reads and batches work for workspaces on each of three masters."""
    spread = await spread_workspaces(state)
    assert len(spread) == 3
    for ws in spread.values():
        created = await new_order(client, ws)
        oid = created["id"]
        moved = await client.post(
            f"{ws.base}/orders/{oid}/status", headers=ws.auth(), json={"status": "preparing"}
        )
        assert moved.status_code == 200, moved.text
        got = await client.get(f"{ws.base}/orders/{oid}", headers=ws.auth("read"))
        assert got.json()["status"] == "preparing"
        assert [h["status"] for h in got.json()["history"]] == ["submitted", "preparing"]
        batch = await client.post(
            f"{ws.base}/batch",
            headers=ws.auth(),
            json={"operations": [{"op": "create", "customer": CUSTOMER}] * 3},
        )
        assert [r["order_number"] for r in batch.json()["results"]] == [2, 3, 4]


async def test_cluster_events_stay_on_the_workspace_master(state: Any) -> None:
    """Each write's event lands in the stream on the master owning the workspace's slot, and an
    SSUBSCRIBEd connection to that master receives the SPUBLISHed wake-up."""
    spread = await spread_workspaces(state)
    keys = Keys()
    for name, ws in spread.items():
        host, port = name.rsplit(":", 1)
        node = make_redis(f"redis://{host}:{port}", timeout=5)
        pubsub = node.pubsub()
        await pubsub.execute_command("SSUBSCRIBE", keys.channel(ws.id))
        async with asyncio.timeout(5):
            first = await pubsub.parse_response(block=True)
        assert first[0] == b"ssubscribe"
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=WithState(create_app(state.settings), state)),
            base_url="http://t",
        )
        async with client:
            created = await new_order(client, ws)
        async with asyncio.timeout(5):
            message = await pubsub.parse_response(block=True)
        assert message[0] == b"smessage"
        stream_id = message[2].split(b"\n", 1)[0]
        assert await node.xlen(keys.events(ws.id)) == 1
        assert (await node.xrange(keys.events(ws.id)))[0][0] == stream_id
        assert created["order"]["workspace_id"] == ws.id
        await pubsub.aclose()
        await node.aclose()


async def test_cluster_readyz_reports_every_master(client: httpx.AsyncClient) -> None:
    """/readyz pings each master of the cluster."""
    resp = await client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ready", "redis": "ok"}


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
async def test_cluster_one_master_down_fails_only_its_workspaces(
    tmp_path_factory: pytest.TempPathFactory, fault: str
) -> None:
    """Stopping (or freezing, SIGSTOP) one master's process makes its workspaces answer 503
    within the Redis timeout; workspaces on the other masters keep working, and /readyz says
    which node is down."""
    own = Cluster(tmp_path_factory.mktemp("fault"), redis_7_binary()).start()
    try:
        from orderlog.settings import Settings

        settings = Settings(redis_url=own.url, redis_timeout=1.0, demo_workspace=False)
        redis = make_redis(own.url, timeout=settings.redis_timeout)
        state = build_state(settings, redis)
        spread = await spread_workspaces(state)
        victim_name = next(n for n in spread if not n.endswith(f":{own.nodes[0].port}"))
        victim = next(n for n in own.nodes if victim_name.endswith(f":{n.port}"))
        async with (
            running_server(settings) as base,
            httpx.AsyncClient(base_url=base, timeout=10) as http,
        ):
            for ws in spread.values():
                assert (await new_order(http, ws))["order_number"] == 1
            healthy = next(ws for name, ws in spread.items() if name != victim_name)
            live = socket(base, healthy)
            conn = await live.__aenter__()
            assert (await recv(conn))["type"] == "snapshot"
            assert victim.process is not None
            if fault == "stopped":
                victim.stop()
            else:
                victim.process.send_signal(signal.SIGSTOP)
            for _ in range(2):  # the second round runs after the client re-read the topology
                for name, ws in spread.items():
                    async with asyncio.timeout(settings.redis_timeout * 3):
                        resp = await http.post(
                            f"{ws.base}/orders", headers=ws.auth(), json={"customer": CUSTOMER}
                        )
                    if name == victim_name:
                        assert resp.status_code == 503, resp.text
                        assert resp.json()["statusCode"] == 503
                    else:
                        assert resp.status_code == 201, resp.text
            # the healthy workspace's live feed kept going: 2 rounds of creates, in order
            got = await events(conn, 2)
            assert [e["order"]["order_number"] for e in got] == [2, 3]
            await live.__aexit__(None, None, None)
            ready = await http.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["down"] == [victim_name]
        nodes = await node_states(redis)
        assert nodes[victim_name] == "down"
        assert list(nodes.values()).count("ok") == 2
        await close_redis(redis)
    finally:
        if fault == "frozen" and victim.process is not None:
            victim.process.send_signal(signal.SIGCONT)
        own.stop()


async def test_cluster_key_records_and_tickets_live_on_the_workspace_slot(state: Any) -> None:
    """API key records and tickets are kept in their workspace's slot, and still work."""
    from orderlog.auth import Principal, ticket_tag

    keys = Keys()
    for ws in (await spread_workspaces(state)).values():
        slot = state.redis.keyslot(keys.seq(ws.id))
        for record in await state.workspaces.list_keys(ws.id):
            assert state.redis.keyslot(keys.api_key(record["key_id"])) == slot
        principal = await state.auth.authenticate(ws.keys["read"])
        ticket = await state.workspaces.issue_ticket(principal)
        tag = ticket_tag(ticket)
        assert tag is not None
        assert state.redis.keyslot(keys.ticket(tag, "x")) == slot
        assert await state.auth.redeem_ticket(ticket) == principal
        assert await state.workspaces.redeem_ticket(ticket) is None  # single use
        assert isinstance(principal, Principal)


async def test_cluster_live_delivery_and_resume_on_every_master(server: str, state: Any) -> None:
    """For a workspace on each master: a socket gets the SPUBLISHed events, and a socket opened
    with the last cursor gets exactly what happened after it."""
    spread = await spread_workspaces(state)
    async with http(server) as client:
        for ws in spread.values():
            async with socket(server, ws) as conn:
                assert (await recv(conn))["type"] == "snapshot"
                (oid,) = await create(client, ws)
                (first,) = await events(conn, 1)
            await move(client, ws, oid, "preparing")
            await move(client, ws, oid, "waiting_for_pickup")
            async with socket(server, ws, cursor=first["cursor"]) as conn:
                replayed = await events(conn, 2)
                assert [e["order"]["status"] for e in replayed] == [
                    "preparing",
                    "waiting_for_pickup",
                ]
                await move(client, ws, oid, "completed")
                (live,) = await events(conn, 1)
                assert live["order"]["status"] == "completed"


async def test_cluster_master_back_resumes_its_live_feeds_without_gap(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A socket of a workspace whose master stops is told ``reconnecting``; once the master is
    back, writes to it succeed again and the socket receives them after ``live``, no gap."""
    from orderlog.settings import Settings

    own = Cluster(tmp_path_factory.mktemp("back"), redis_7_binary()).start()
    try:
        settings = Settings(redis_url=own.url, redis_timeout=1.0, demo_workspace=False)
        redis = make_redis(own.url, timeout=settings.redis_timeout)
        spread = await spread_workspaces(build_state(settings, redis))
        victim_name = next(n for n in spread if not n.endswith(f":{own.nodes[0].port}"))
        victim = next(n for n in own.nodes if victim_name.endswith(f":{n.port}"))
        ws = spread[victim_name]
        async with (
            running_server(settings) as base,
            httpx.AsyncClient(base_url=base, timeout=10) as client,
            socket(base, ws) as conn,
        ):
            assert (await recv(conn))["type"] == "snapshot"
            assert (await new_order(client, ws))["order_number"] == 1
            assert (await events(conn, 1))[0]["order"]["order_number"] == 1
            victim.stop()
            assert await recv(conn, 15) == {"type": "status", "state": "reconnecting"}
            await asyncio.to_thread(victim.restart)
            await asyncio.to_thread(own.wait_ok)
            async with asyncio.timeout(20):
                while True:  # the first tries may meet the client's stale view of the node
                    resp = await client.post(
                        f"{ws.base}/orders", headers=ws.auth(), json={"customer": CUSTOMER}
                    )
                    if resp.status_code == 201:
                        break
                    assert resp.status_code == 503, resp.text
                    await asyncio.sleep(0.2)
            frames: list[dict[str, Any]] = []
            live = {"type": "status", "state": "live"}
            async with asyncio.timeout(20):  # the event (caught up or live) and `live`, any order
                while live not in frames or not any(f["type"] == "event" for f in frames):
                    frames.append(await recv(conn, 20))
            (event,) = [f for f in frames if f.get("type") == "event"]
            assert event["order"]["order_number"] == resp.json()["order_number"]
            await quiet(conn)
        await close_redis(redis)
    finally:
        own.stop()


async def test_cluster_resharded_workspace_keeps_its_live_feed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Moving a workspace's slot to another master (Redis drops its SSUBSCRIBErs): the socket
    keeps receiving the workspace's events, without a gap, from the new master."""
    from orderlog.settings import Settings

    own = Cluster(tmp_path_factory.mktemp("reshard"), redis_7_binary()).start()
    try:
        settings = Settings(redis_url=own.url, demo_workspace=False)
        redis = make_redis(own.url)
        spread = await spread_workspaces(build_state(settings, redis))
        name, ws = next(iter(spread.items()))
        source = next(n for n in own.nodes if name.endswith(f":{n.port}"))
        target = next(n for n in own.nodes if n is not source)
        slot = redis.keyslot(Keys().seq(ws.id))
        async with (
            running_server(settings) as base,
            httpx.AsyncClient(base_url=base, timeout=10) as client,
            socket(base, ws) as conn,
        ):
            assert (await recv(conn))["type"] == "snapshot"
            (oid,) = await create(client, ws)
            assert len(await events(conn, 1)) == 1
            await asyncio.to_thread(own.move_slot, slot, source, target)
            # Redis 7 unsubscribed us on the old master: the feed says so, then goes live again
            assert await recv(conn) == {"type": "status", "state": "reconnecting"}
            await move(client, ws, oid, "preparing")
            await move(client, ws, oid, "waiting_for_pickup")
            got = await events(conn, 2)  # (caught up from the stream or live, once each)
            assert [e["order"]["status"] for e in got] == ["preparing", "waiting_for_pickup"]
            await move(client, ws, oid, "completed")  # no duplicate came before it
            assert [e["order"]["status"] for e in await events(conn, 1)] == ["completed"]
        with own._client(target) as direct:
            assert direct.exists(Keys().events(ws.id)) == 1
        await close_redis(redis)
    finally:
        own.stop()
