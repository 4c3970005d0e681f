"""The access log: one line per request and per WebSocket session, route templates and key ids
only (never a key, never a query string), plain or JSON."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import orjson
import pytest
import websockets
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from orderlog.http.middleware import KEY_ID, Edge
from orderlog.ops.logging import JSONFormatter, log_config
from support.api import new_order
from support.server import running_server


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "orderlog.access"]


async def test_accesslog_one_line_per_request_with_template_and_key_id(
    client: Any, workspace: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A request logs method, route template, status, duration and key id; no key, no ids of the
    path, no query string."""
    caplog.set_level(logging.INFO, logger="orderlog.access")
    created = await new_order(client, workspace)
    await client.get(
        f"{workspace.base}/orders/{created['id']}?ticket=olt_secret",
        headers=workspace.auth("read"),
    )
    lines = access_lines(caplog)
    assert len(lines) == 2
    post, get = (r.getMessage() for r in lines)
    assert " POST /v1/workspaces/{workspace_id}/orders 201 " in post
    assert " GET /v1/workspaces/{workspace_id}/orders/{order_id} 200 " in get
    write_key_id = workspace.keys["write"].split("_")[1]
    assert post.endswith(f"key={write_key_id}")
    for line in (post, get):
        assert workspace.id not in line
        assert created["id"] not in line
        assert "olt_secret" not in line
        assert "olk_" not in line
    assert lines[0].access["status"] == 201  # type: ignore[attr-defined]


def test_accesslog_json_formatter_one_object_per_line() -> None:
    """With JSON on, an access line is one object with its fields; other lines carry message."""
    fmt = JSONFormatter()
    record = logging.LogRecord("orderlog.access", logging.INFO, "", 0, "x", (), None)
    record.access = {"method": "GET", "route": "/healthz", "status": 200, "key_id": None}
    data = orjson.loads(fmt.format(record))
    assert data["route"] == "/healthz"
    assert data["status"] == 200
    assert data["level"] == "info"
    other = logging.LogRecord("orderlog", logging.WARNING, "", 0, "hello %s", ("you",), None)
    assert orjson.loads(fmt.format(other))["message"] == "hello you"
    config = log_config(json=True)
    assert config["formatters"]["main"]["()"].endswith("JSONFormatter")
    assert config["loggers"]["uvicorn.access"]["handlers"] == []


async def test_accesslog_websocket_session_line_with_close_code(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A WebSocket session logs one line at its end, with its close code and key id."""
    caplog.set_level(logging.INFO, logger="orderlog.access")

    async def echo(ws: WebSocket) -> None:
        ws.scope[KEY_ID] = "abc123abc123"
        await ws.accept()
        await ws.send_text(await ws.receive_text())
        await ws.close(code=4001)

    app = Starlette(
        routes=[WebSocketRoute("/live/{workspace_id}", echo)],
        middleware=[Middleware(Edge)],
    )
    async with running_server(app, lifespan="off") as base:
        url = base.replace("http://", "ws://", 1)
        async with websockets.connect(f"{url}/live/w1?ticket=olt_x") as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
        for _ in range(500):  # the server logs once its handler has returned
            if access_lines(caplog):
                break
            await asyncio.sleep(0.01)
    (line,) = access_lines(caplog)
    text = line.getMessage()
    assert " WS /live/{workspace_id} 4001 " in text
    assert text.endswith("key=abc123abc123")
    assert "olt_x" not in text
    assert "w1" not in text


async def test_accesslog_off_by_setting(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    """ORDERLOG_ACCESS_LOG=0 silences the access lines (the metrics still count)."""
    caplog.set_level(logging.INFO, logger="orderlog.access")
    async with running_server(replace(settings, access_log=False)) as base:
        import httpx

        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/healthz")).status_code == 200
    assert access_lines(caplog) == []


async def test_accesslog_static_and_unknown_paths_show_the_real_path(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A static file and a path no route knows are logged with their own path (a template would
    be "/"), percent-encoded on one line, any key or ticket in it redacted."""
    caplog.set_level(logging.INFO, logger="orderlog.access")
    secret = "olk_0123456789ab_SECRETSECRET"
    requests = [
        ("/js/live.js", " GET /js/live.js 200 "),
        ("/no/such/page.html", " GET /no/such/page.html 404 "),
        (f"/v1/{secret}/x", " GET /v1/olk_0123456789ab_[redacted]/x 404 "),
        ("/olt_abc.def/key=hunter2", " GET /olt_[redacted]/key=[redacted] 404 "),
        ("/a%0Ab c\u00e9", " GET /a%0Ab%20c%C3%A9 404 "),
        ("/" + "x" * 500, " GET /" + "x" * 196 + "... 404 "),
    ]
    for path, _ in requests:
        await client.get(path)
    lines = [r.getMessage() for r in access_lines(caplog)]
    assert len(lines) == len(requests)
    for line, (_, expected) in zip(lines, requests, strict=True):
        assert expected in line, line
        assert "\n" not in line
        assert "SECRET" not in line
        assert "hunter2" not in line


@pytest.mark.parametrize(
    ("scope", "query", "status"),
    [(None, "", 401), ("write", "", 403), ("read", "?status=baking", 422)],
)
async def test_accesslog_refused_websocket_is_not_an_error(
    server: str,
    workspace: Any,
    caplog: pytest.LogCaptureFixture,
    scope: str | None,
    query: str,
    status: int,
) -> None:
    """A WebSocket refused before its handshake (401, 403, 422) logs one access line with its
    status and nothing at ERROR (uvicorn took a refusal for an app that never answered)."""
    caplog.set_level(logging.INFO)
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(caplog.handler)  # uvicorn's loggers do not propagate to the root
    try:
        headers = workspace.auth(scope) if scope else {"Authorization": "Bearer olk_x_y"}
        url = server.replace("http://", "ws://", 1) + f"{workspace.base}/live{query}"
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with asyncio.timeout(5):
                await websockets.connect(url, additional_headers=headers)
        assert refused.value.response.status_code == status
        for _ in range(500):  # the server logs once its handler has returned
            if access_lines(caplog):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # uvicorn's own line follows the handler's return
    finally:
        uvicorn_log.removeHandler(caplog.handler)
    (line,) = access_lines(caplog)
    assert f" WS /v1/workspaces/{{workspace_id}}/live {status} " in line.getMessage()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
