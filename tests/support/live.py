"""Live clients for tests: a WebSocket on a workspace, its frames with timeouts, HTTP writes that
make events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from support.api import CASHIER, CUSTOMER
from support.server import Workspace


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


async def events(
    conn: ClientConnection,
    n: int,
    within: float = 20,
    states: list[str] | None = None,
    at_least: int = 0,
) -> list[dict[str, Any]]:
    """The next ``n`` events (batches unpacked; status frames' states go to ``states``);
    fails on any other frame. ``at_least``: return after that many frames of any kind."""
    out: list[dict[str, Any]] = []
    frames = 0
    async with asyncio.timeout(within):
        while len(out) < n or frames < at_least:
            frames += 1
            frame = await recv(conn, within)
            if frame["type"] == "batch":
                out += frame["events"]
            elif frame["type"] == "event":
                out.append(frame)
            elif frame["type"] == "status" and states is not None:
                states.append(frame["state"])
            elif frame["type"] != "status":
                raise AssertionError(f"unexpected frame {frame}")
    assert at_least or len(out) == n, f"{len(out) - n} events too many"
    return out


async def quiet(conn: ClientConnection, seconds: float = 0.3) -> None:
    """Nothing but status frames arrives (no duplicate, no stray event) within ``seconds``."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                frame = orjson.loads(await conn.recv())
                if frame["type"] != "status":
                    raise AssertionError(f"unexpected frame {frame!r}")


async def close_of(conn: ClientConnection, within: float = 20) -> tuple[int, str]:
    """Read until the server closes the socket: its close code and reason."""
    try:
        async with asyncio.timeout(within):
            while True:
                await conn.recv()
    except ConnectionClosed as exc:
        close = exc.rcvd
    assert close is not None, "closed without a close frame"
    return close.code, close.reason


def http(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=10)


async def create(client: httpx.AsyncClient, ws: Workspace, n: int = 1, **extra: Any) -> list[str]:
    """``n`` new orders (batches of 100); their ids."""
    ids: list[str] = []
    op = {"op": "create", "customer": CUSTOMER, "actor": CASHIER, "items": ["Latte"], **extra}
    while len(ids) < n:
        ops = [op] * min(100, n - len(ids))
        resp = await client.post(f"{ws.base}/batch", headers=ws.auth(), json={"operations": ops})
        assert resp.status_code == 200, resp.text
        ids += [r["id"] for r in resp.json()["results"]]
    return ids


async def move(client: httpx.AsyncClient, ws: Workspace, order_id: str, status: str) -> None:
    resp = await client.post(
        f"{ws.base}/orders/{order_id}/status", headers=ws.auth(), json={"status": status}
    )
    assert resp.status_code == 200, resp.text


async def prioritise(
    client: httpx.AsyncClient, ws: Workspace, order_id: str, priority: str
) -> None:
    resp = await client.post(
        f"{ws.base}/orders/{order_id}/priority", headers=ws.auth(), json={"priority": priority}
    )
    assert resp.status_code == 200, resp.text


async def mark(
    client: httpx.AsyncClient, ws: Workspace, order_id: str, index: int, done: bool = True
) -> None:
    """Tick (or untick) item ``index`` of an order done, as a kitchen does."""
    resp = await client.post(
        f"{ws.base}/orders/{order_id}/items/{index}/done", headers=ws.auth(), json={"done": done}
    )
    assert resp.status_code == 200, resp.text


# The events kitchen_round writes, in order.
KITCHEN_ROUND = (
    "order.status_changed",
    "order.priority_changed",
    "order.item_done",
    "order.item_done",
    "order.item_done",
    "order.priority_changed",
    "order.status_changed",
)


async def kitchen_round(client: httpx.AsyncClient, ws: Workspace, order_id: str) -> None:
    """An order (of two items or more) through a kitchen: preparing, marked rush, item 1 then
    item 0 ticked done, item 1 unticked, back to normal, waiting for pickup (KITCHEN_ROUND)."""
    await move(client, ws, order_id, "preparing")
    await prioritise(client, ws, order_id, "rush")
    await mark(client, ws, order_id, 1)
    await mark(client, ws, order_id, 0)
    await mark(client, ws, order_id, 1, done=False)
    await prioritise(client, ws, order_id, "normal")
    await move(client, ws, order_id, "waiting_for_pickup")


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


async def sse_frames(lines: AsyncIterator[str], n: int) -> list[tuple[str | None, dict[str, Any]]]:
    """The next ``n`` SSE messages as (id, data); comments and ``retry:`` are skipped."""
    out: list[tuple[str | None, dict[str, Any]]] = []
    ident: str | None = None
    async with asyncio.timeout(10):
        async for line in lines:
            if line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("data: "):
                out.append((ident, orjson.loads(line[6:])))
                ident = None
                if len(out) == n:
                    break
    return out
