"""Live delivery end to end: real uvicorn on port 0, real Redis, real websockets/httpx clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from conftest import Workspace

CUSTOMER = {"UserId": 3141592653, "Name": "Alice"}
CASHIER = {"UserId": 7, "Name": "Bob"}
KITCHEN = ("waiting_for_preparation", "preparing")


# -- helpers -----------------------------------------------------------------------------------
def live_url(base: str, ws: Workspace, **params: str) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return base.replace("http://", "ws://", 1) + f"{ws.base}/live{query}"


@contextlib.asynccontextmanager
async def socket(
    base: str, ws: Workspace, scope: str = "read", **params: str
) -> AsyncIterator[ClientConnection]:
    async with asyncio.timeout(10):
        conn = await connect(live_url(base, ws, **params), additional_headers=ws.auth(scope))
    try:
        yield conn
    finally:
        async with asyncio.timeout(10):
            await conn.close()


async def recv(conn: ClientConnection, within: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(within):
        return orjson.loads(await conn.recv())  # type: ignore[no-any-return]


async def events(conn: ClientConnection, n: int, within: float = 20) -> list[dict[str, Any]]:
    """The next ``n`` events (batches unpacked); fails on any other frame."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        while len(out) < n:
            frame = await recv(conn, within)
            if frame["type"] == "batch":
                out += frame["events"]
            elif frame["type"] == "event":
                out.append(frame)
            elif frame["type"] != "status":
                raise AssertionError(f"unexpected frame {frame}")
    assert len(out) == n, f"{len(out) - n} events too many"
    return out


async def quiet(conn: ClientConnection, seconds: float = 0.3) -> None:
    """Nothing more arrives (no duplicate, no stray event) within ``seconds``."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            frame = await conn.recv()
            raise AssertionError(f"unexpected frame {frame!r}")


def http(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=10)


async def create(client: httpx.AsyncClient, ws: Workspace, n: int = 1) -> list[str]:
    """``n`` new orders (batches of 100); their ids."""
    ids: list[str] = []
    while len(ids) < n:
        k = min(100, n - len(ids))
        ops = [{"op": "create", "customer": CUSTOMER, "actor": CASHIER, "items": ["Latte"]}] * k
        resp = await client.post(f"{ws.base}/batch", headers=ws.auth(), json={"operations": ops})
        assert resp.status_code == 200, resp.text
        ids += [r["id"] for r in resp.json()["results"]]
    return ids


async def move(client: httpx.AsyncClient, ws: Workspace, order_id: str, status: str) -> None:
    resp = await client.post(
        f"{ws.base}/orders/{order_id}/status", headers=ws.auth(), json={"status": status}
    )
    assert resp.status_code == 200, resp.text


def sid(cursor: str) -> tuple[int, int]:
    ms, seq = cursor.split(":")[1].split("-")
    return int(ms), int(seq)


def versions_increase(evs: list[dict[str, Any]]) -> dict[str, int]:
    """Every order's versions strictly increase; the last version of each."""
    last: dict[str, int] = {}
    for ev in evs:
        order = ev["order"]
        assert order["version"] > last.get(order["id"], 0), f"out of order: {order}"
        last[order["id"]] = order["version"]
    return last


# -- tests -------------------------------------------------------------------------------------
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
