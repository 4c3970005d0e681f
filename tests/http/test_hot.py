"""The hot routes' short path (http/hot.py: the writes, the live socket) answers exactly what
the full Starlette stack answers: statuses, headers and bodies, errors and refusals included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from orderlog.app import create_app
from orderlog.http.hot import HotRoutes
from support.api import CASHIER, CUSTOMER
from support.live import live_url, recv, socket
from support.server import WithState, Workspace, running_server

# content-length varies with the ids in a body; both paths spend the same key's rate limit
BAD_KEY = {"Authorization": "Bearer olk_000000000000_nope"}
VARYING = {"date", "content-length", "x-ratelimit-remaining", "x-ratelimit-reset"}


@pytest.fixture
async def both(settings: Any, state: Any) -> AsyncIterator[tuple[Any, Any]]:
    """(the app as served, the same app without HotRoutes)."""
    hot, full = create_app(settings), create_app(settings)
    full.user_middleware = [m for m in full.user_middleware if m.cls is not HotRoutes]
    assert len(hot.user_middleware) == len(full.user_middleware) + 1
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=WithState(app, state), raise_app_exceptions=False),
            base_url="http://testserver",
            timeout=10,
        )
        for app in (hot, full)
    ]
    yield clients[0], clients[1]
    for c in clients:
        await c.aclose()


def shape(resp: httpx.Response, ids: list[str]) -> tuple[int, list[tuple[str, str]], Any]:
    """A response with what differs from one write to the next (ids, numbers, times) masked."""
    text = resp.text
    for i, one in enumerate(ids):
        text = text.replace(one, f"<id{i}>")
    body: Any = text
    if resp.headers.get("content-type") == "application/json":
        body = httpx.Response(200, content=text).json()
        _mask(body)
    headers = [(k, "*" if k in VARYING else v) for k, v in resp.headers.items()]
    return resp.status_code, headers, body


def _mask(value: Any) -> None:
    if isinstance(value, dict):
        for k in list(value):
            if k in (
                "order_number",
                "created_at",
                "updated_at",
                "status_since",
                "at",
                "version",
                "id",
            ):
                value[k] = "*"
            else:
                _mask(value[k])
    elif isinstance(value, list):
        for v in value:
            _mask(v)


async def test_hot_writes_answer_as_the_full_stack(
    both: tuple[Any, Any], workspace: Workspace
) -> None:
    """Creates, status changes and batches, accepted and refused for every reason a write is
    refused, get the same status, headers and body through either path."""
    hot, full = both
    order = {"customer": CUSTOMER, "actor": CASHIER, "items": ["Latte"]}
    made = {}
    for name, client in (("hot", hot), ("full", full)):
        resp = await client.post(f"{workspace.base}/orders", headers=workspace.auth(), json=order)
        assert resp.status_code == 201
        made[name] = resp.json()["id"]
    auth, base = workspace.auth(), workspace.base
    as_json = {**auth, "Content-Type": "application/json"}
    cases: list[tuple[str, dict[str, Any]]] = [
        ("/orders", {"json": order, "headers": auth}),
        ("/orders", {"json": order, "headers": {**auth, "Idempotency-Key": "same"}}),
        ("/orders", {"json": {**order, "items": []}, "headers": auth}),
        ("/orders", {"json": {**order, "bogus": 1}, "headers": auth}),
        ("/orders", {"content": b"{not json", "headers": as_json}),
        ("/orders", {"content": b"", "headers": as_json}),
        ("/orders", {"content": b"x", "headers": {**auth, "Content-Type": "text/plain"}}),
        ("/orders", {"content": b"x" * 2_000_000, "headers": as_json}),
        ("/orders", {"json": order}),
        ("/orders", {"json": order, "headers": {"Authorization": "Bearer olk_nope"}}),
        ("/orders", {"json": order, "headers": workspace.auth("read")}),
        ("/orders/{id}/status", {"json": {"status": "preparing"}, "headers": auth}),
        ("/orders/{id}/status", {"json": {"status": "preparing"}, "headers": auth}),
        ("/orders/{id}/status", {"json": {"status": "submitted"}, "headers": auth}),
        ("/orders/{id}/status", {"json": {"status": "no_such"}, "headers": auth}),
        (
            "/orders/0123456789abcdef01234567/status",
            {"json": {"status": "preparing"}, "headers": auth},
        ),
        ("/orders/not-an-id/status", {"json": {"status": "ready"}, "headers": auth}),
        (
            "/batch",
            {
                "json": {
                    "operations": [
                        {"op": "create", "ref": "a", **order},
                        {"op": "status", "order_ref": "a", "status": "preparing"},
                        {"op": "status", "id": "0123456789abcdef01234567", "status": "preparing"},
                    ]
                },
                "headers": auth,
            },
        ),
        ("/batch", {"json": {"operations": "no"}, "headers": auth}),
        ("/orders/", {"json": order, "headers": auth}),
        ("/nothing", {"json": order, "headers": auth}),
    ]
    statuses = []
    for path, kwargs in cases:
        answers = []
        for name, client in (("hot", hot), ("full", full)):
            url = base + path.replace("{id}", made[name])
            resp = await client.post(url, **kwargs)
            answers.append(shape(resp, [made[name]]))
        assert answers[0] == answers[1], (path, kwargs.get("json"), answers)
        statuses.append(answers[0][0])
    assert statuses[:11] == [201, 201, 201, 422, 400, 400, 415, 413, 401, 401, 403]
    assert statuses[11:] == [200, 200, 409, 422, 404, 422, 200, 422, 404, 404]
    for method in ("GET", "PUT", "DELETE"):
        for path in ("/orders", "/batch", f"/orders/{made['hot']}/status"):
            first, second = [
                shape(await c.request(method, base + path, headers=auth), [made["hot"]])
                for c in (hot, full)
            ]
            assert first == second, (method, path, first, second)


async def test_hot_unexpected_error_is_the_full_stacks_500(
    both: tuple[Any, Any], workspace: Workspace, state: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a write (an exception no handler maps) is the same 500 body either way."""

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(state.orders, "apply", broken)
    order = {"customer": CUSTOMER, "items": ["Latte"]}
    answers = [
        await c.post(f"{workspace.base}/orders", headers=workspace.auth(), json=order) for c in both
    ]
    assert [a.status_code for a in answers] == [500, 500]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["message"] == "Internal error; this is a bug in orderlog."


async def test_hot_live_socket_as_the_full_stack(
    settings: Any, state: Any, workspace: Workspace
) -> None:
    """The live WebSocket through the short path and through the full stack: the same refusals
    (status and body) for a bad key and for a key of the wrong scope, the same first frame for
    a reader, the same close for a reader whose first message is not JSON auth."""
    hot, full = create_app(settings), create_app(settings)
    full.user_middleware = [m for m in full.user_middleware if m.cls is not HotRoutes]
    seen = []
    for app in (hot, full):
        answers: list[Any] = []
        async with running_server(WithState(app, state), lifespan="off") as base:
            for headers in (BAD_KEY, workspace.auth("write")):
                with pytest.raises(InvalidStatus) as refused:
                    await connect(live_url(base, workspace), additional_headers=headers)
                answers.append((refused.value.response.status_code, refused.value.response.body))
            async with socket(base, workspace) as conn:
                first = await recv(conn)
                answers.append((first["type"], sorted(first)))
            async with asyncio.timeout(10):
                async with connect(live_url(base, workspace)) as conn:
                    await conn.send("hello")
                    with pytest.raises(ConnectionClosed) as closed:
                        await conn.recv()
            assert closed.value.rcvd is not None
            answers.append((closed.value.rcvd.code, closed.value.rcvd.reason))
        seen.append(answers)
    assert seen[0] == seen[1]
    assert [a[0] for a in seen[0]] == [401, 403, "snapshot", 4001]
