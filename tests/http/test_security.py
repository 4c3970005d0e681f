"""Abuse and security: tenant isolation over every route, no user input in a Redis pattern,
scopes and revocation, no raw key at rest or in logs, body limits, hostile payloads."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.routing import Route, WebSocketRoute
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from orderlog.app import build_state, create_app
from orderlog.keys import Keys
from orderlog.ops.serving import uvicorn_options
from orderlog.settings import Settings
from orderlog.store.client import make_redis
from orderlog.store.embedded import EmbeddedRedis, free_port
from support.api import CASHIER, CUSTOMER, assert_error
from support.server import WithState, Workspace, running_server

SRC = Path(__file__).resolve().parents[2] / "src" / "orderlog"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def http_routes(settings: Settings) -> list[tuple[str, str]]:
    """(method, path template) of every HTTP route of the app that names a workspace."""
    out = []
    for route in create_app(settings).routes:
        if isinstance(route, Route) and "{workspace_id}" in route.path:
            out += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return out


def fill(template: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        return urllib.parse.quote(values.get(match.group(1), "1"), safe="")

    return re.sub(r"\{(\w+)(?::\w+)?\}", one, template)


def order_body() -> dict[str, Any]:
    return {"customer": CUSTOMER, "actor": CASHIER, "items": ["Latte"]}


async def snapshot(client: Any, ws: Workspace, oid: str) -> tuple[Any, ...]:
    admin = ws.auth("admin")
    order = (await client.get(f"{ws.base}/orders/{oid}", headers=admin)).json()
    keys = (await client.get(f"{ws.base}/keys", headers=admin)).json()
    flow = (await client.get(f"{ws.base}/workflow", headers=admin)).json()
    meta = (await client.get(ws.base, headers=admin)).json()
    return order, keys, flow, meta


async def test_security_tenant_isolation_every_route(
    client: Any, state: Any, workspace: Workspace, settings: Settings
) -> None:
    """Every key of workspace A against every route of workspace B (the app's routes, iterated):
    401/403 each, nothing of B in any body, and B unchanged."""
    other_id, other_keys = await state.workspaces.create_workspace("Other cafe")
    b = Workspace(other_id, other_keys)
    created = await client.post(f"{b.base}/orders", headers=b.auth(), json=order_body())
    b_order = created.json()["id"]
    b_key = (await client.get(f"{b.base}/keys", headers=b.auth("admin"))).json()["keys"][0]
    before = await snapshot(client, b, b_order)
    values = {
        "workspace_id": b.id,
        "order_id": b_order,
        "number": "1",
        "key_id": b_key["key_id"],
    }
    routes = http_routes(settings)
    secrets_of_b = [b_order, b_key["key_id"], "Other cafe", *b.keys.values()]
    tried = leaks = 0
    statuses: dict[int, int] = {}
    for method, template in routes:
        url = fill(template, values)
        for scope in ("read", "write", "admin"):
            kwargs: dict[str, Any] = {"headers": workspace.auth(scope)}
            if method in WRITE_METHODS:
                kwargs["json"] = order_body() | {"status": "cancelled", "scope": "admin"}
            resp = await client.request(method, url, **kwargs)
            tried += 1
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            leaks += any(s in resp.text for s in secrets_of_b)
            assert resp.status_code in (401, 403), (method, url, scope, resp.text)
    after = await snapshot(client, b, b_order)
    print(
        f"\ntenant isolation: {len(routes)} routes x 3 keys of A against B = {tried} requests, "
        f"statuses {statuses}, cross-workspace reads {leaks} (WebSocket routes: "
        "test_security_tenant_isolation_live)"
    )
    assert leaks == 0
    assert before == after
    assert len(routes) >= 10


OUTCOMES_REFUSED = {("status", 401), ("status", 403), ("close", 4001), ("close", 4003)}


async def live_attempt(
    url: str, headers: dict[str, str], first: str | None, foreign: str
) -> tuple[str, int, int]:
    """Open a live socket: ("status", HTTP status) if refused at the handshake, ("close", code)
    if closed after it, with how many frames came before (``foreign``: the other workspace)."""
    frames = 0
    try:
        async with asyncio.timeout(10):
            conn = await connect(url, additional_headers=headers)
            if first is not None:
                await conn.send(orjson.dumps({"type": "auth", "token": first}).decode())
            async for _frame in conn:
                frames += 1  # any frame at all to a refused caller counts (none should come)
    except InvalidStatus as exc:
        return "status", exc.response.status_code, frames
    except ConnectionClosed as exc:
        return "close", exc.rcvd.code if exc.rcvd else 0, frames
    return "open", 0, frames


async def test_security_tenant_isolation_live(
    settings: Settings, state: Any, workspace: Workspace
) -> None:
    """Every WebSocket route of B, opened with each key of A (header, first message, A's
    ticket): refused every time, and no frame of B is ever sent."""
    other_id, other_keys = await state.workspaces.create_workspace("Other cafe")
    b = Workspace(other_id, other_keys)
    ws_routes = [r.path for r in create_app(settings).routes if isinstance(r, WebSocketRoute)]
    refused, frames = 0, 0
    async with running_server(settings) as base, httpx.AsyncClient(base_url=base) as http:
        ticket = await http.post(f"{workspace.base}/tickets", headers=workspace.auth("read"))
        assert ticket.status_code == 201
        for template in ws_routes:
            url = base.replace("http://", "ws://", 1) + fill(template, {"workspace_id": b.id})
            attempts: list[tuple[str, dict[str, str], str | None]] = [
                (url, workspace.auth(scope), None) for scope in ("read", "write", "admin")
            ]
            attempts.append((f"{url}?ticket={ticket.json()['ticket']}", {}, None))
            attempts.append((url, {}, workspace.keys["read"]))  # first-message auth
            for target, headers, first in attempts:
                outcome, code, got = await live_attempt(target, headers, first, b.id)
                frames += got
                assert (outcome, code) in OUTCOMES_REFUSED, (target, outcome, code)
                refused += 1
    print(
        f"\ntenant isolation, live: {len(ws_routes)} WebSocket route(s) x 5 credentials of A "
        f"against B: refused {refused}, frames of B received {frames}"
    )
    assert refused == 5 * len(ws_routes)
    assert frames == 0


HOSTILE_IDS = ["*", "a*", "[ab]", "?", "{x}", "ol:*", "x}:live", "a b", "é", "x" * 65, "..", "\\*"]


async def test_security_hostile_workspace_ids_never_reach_redis(
    client: Any, workspace: Workspace, settings: Settings, redis: Any
) -> None:
    """Glob characters, hash-tag braces and oversized ids in the path: 4xx on every route, and no
    Redis key ever carries them."""
    routes = http_routes(settings)
    before = {k async for k in redis.scan_iter(count=1000)}
    bad = 0
    for ident in HOSTILE_IDS:
        for method, template in routes:
            url = fill(template, {"workspace_id": ident})
            resp = await client.request(
                method,
                url,
                headers=workspace.auth("admin"),
                json=order_body() if method in WRITE_METHODS else None,
            )
            bad += resp.status_code >= 500
            assert 400 <= resp.status_code < 500, (method, url, resp.text)
    after = {k async for k in redis.scan_iter(count=1000)}
    new = after - before
    assert bad == 0
    assert not [k for k in new if any(i.encode() in k for i in HOSTILE_IDS if len(i) > 2)]
    for ident in HOSTILE_IDS:
        with pytest.raises(ValueError, match="workspace id"):
            Keys().ws(ident)


# A Redis command that takes a glob pattern, as orderlog's Python or Lua would spell it.
PATTERN_USE = re.compile(
    r"\.(psubscribe|punsubscribe|scan_iter|[hsz]scan_iter)\("
    r"|\.(scan|[hsz]scan)\(.*\*"
    r"|\.keys\(\s*[^)\s]"  # redis.keys(pattern); dict.keys() takes nothing
    r"|[(,]\s*match\s*="  # scan(..., match=...)
    r"|(call|pcall|execute_command)\(\s*[\"'](psubscribe|punsubscribe|keys|[hsz]?scan)[\"']",
    re.IGNORECASE,
)


def test_security_no_user_input_in_a_redis_pattern() -> None:
    """No source file issues PSUBSCRIBE, KEYS or SCAN ... MATCH: every key is named exactly
    (keys.py), never found through a pattern that user input could widen."""
    offenders = []
    for path in sorted(SRC.rglob("*")):
        if path.suffix not in (".py", ".lua"):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("--")[0] if path.suffix == ".lua" else line.split("#")[0]
            if PATTERN_USE.search(code):
                offenders.append(f"{path.relative_to(SRC)}:{n}: {line.strip()}")
    assert offenders == []


# Routes a read key may call although they are not GETs: a ticket is how a browser with a read
# key opens a live connection.
READ_SCOPE_POSTS = {"create_ticket"}
# Routes only a read (or admin) key may use: search, export, stats and every live transport.
READ_SCOPE = {"search_orders", "export_orders_csv", "stats", "event_stream", "poll_events"}
ADMIN_ONLY = {"patch_settings", "put_workflow", "delete_workflow", "list_keys", "create_key"}
ADMIN_ONLY |= {"revoke_key"}


async def test_security_scopes(client: Any, workspace: Workspace, settings: Settings) -> None:
    """A read key cannot write or administer; a write key cannot search, export, read stats,
    subscribe (SSE, long-poll, tickets) or administer; each refusal is a 403."""
    created = await client.post(
        f"{workspace.base}/orders", headers=workspace.auth(), json=order_body()
    )
    values = {"workspace_id": workspace.id, "order_id": created.json()["id"], "key_id": "0" * 12}
    refused: dict[str, list[str]] = {"read": [], "write": []}
    for route in create_app(settings).routes:
        if not isinstance(route, Route) or "{workspace_id}" not in route.path:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            url = fill(route.path, values)
            body = order_body() if method in WRITE_METHODS else None
            denied_to = set()
            if method in WRITE_METHODS and route.name not in READ_SCOPE_POSTS:
                denied_to.add("read")
            if route.name in READ_SCOPE | READ_SCOPE_POSTS | ADMIN_ONLY:
                denied_to.add("write")
            if route.name in ADMIN_ONLY:
                denied_to.add("read")
            for scope in sorted(denied_to):
                resp = await client.request(method, url, headers=workspace.auth(scope), json=body)
                assert resp.status_code == 403, (scope, method, url, resp.text)
                refused[scope].append(route.name)
    print(
        f"\nscopes: a read key refused on {sorted(set(refused['read']))}; "
        f"a write key refused on {sorted(set(refused['write']))}"
    )
    assert {"create_order", "change_status", "batch"} <= set(refused["read"])
    assert set(refused["write"]) >= READ_SCOPE | READ_SCOPE_POSTS
    assert set(refused["read"]) & set(refused["write"]) >= ADMIN_ONLY


async def test_security_revocation_reaches_every_process_within_a_second(
    settings: Settings, redis: Any, workspace: Workspace
) -> None:
    """A key revoked in one process stops working in another (its own cache) within a second."""
    apps = [WithState(create_app(settings), build_state(settings, redis)) for _ in range(2)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://t") for a in apps
    ]
    try:
        url = f"{workspace.base}/workflow"
        assert (await clients[1].get(url, headers=workspace.auth("read"))).status_code == 200
        keys = await clients[0].get(f"{workspace.base}/keys", headers=workspace.auth("admin"))
        read_id = next(k["key_id"] for k in keys.json()["keys"] if k["scope"] == "read")
        revoked = await clients[0].delete(
            f"{workspace.base}/keys/{read_id}", headers=workspace.auth("admin")
        )
        assert revoked.status_code == 200
        start = time.monotonic()
        assert (await clients[0].get(url, headers=workspace.auth("read"))).status_code == 401
        for _ in range(250):  # poll the other process for up to 5 s
            if (await clients[1].get(url, headers=workspace.auth("read"))).status_code == 401:
                break
            await asyncio.sleep(0.02)
        took = time.monotonic() - start
    finally:
        for c in clients:
            await c.aclose()
    print(f"\nrevocation: refused at once by the revoking process, by another after {took:.2f} s")
    assert took <= 1.5  # the 1 s cache, plus one request on a busy machine


async def test_security_no_raw_key_at_rest_or_in_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After writes, reads, admin calls, bad keys and tickets, neither the Redis AOF directory
    nor any log line holds a raw key or ticket (only ids and SHA-256 digests are kept)."""
    caplog.set_level(logging.DEBUG)
    server = EmbeddedRedis(tmp_path / "redis", port=free_port(), appendfsync="always")
    url = await asyncio.to_thread(server.start)
    raw: list[str] = []
    try:
        settings = Settings(redis_url=url, data_dir=tmp_path / "d", demo_workspace=False)
        redis = make_redis(url, timeout=5)
        st = build_state(settings, redis)
        ws_id, keys = await st.workspaces.create_workspace("Secret cafe")
        ws = Workspace(ws_id, keys)
        raw += keys.values()
        async with (
            running_server(settings, log_level="debug", access_log=True, log_config=None) as base,
            httpx.AsyncClient(base_url=base, timeout=10) as http,
        ):
            for scope in ("read", "write", "admin"):
                made = await http.post(
                    f"{ws.base}/keys", headers=ws.auth("admin"), json={"scope": scope}
                )
                raw.append(made.json()["key"])
            for key in raw:
                h = {"Authorization": f"Bearer {key}"}
                await http.post(f"{ws.base}/orders", headers=h, json=order_body())
                await http.get(f"{ws.base}/workflow", headers=h)
                await http.post(
                    f"{ws.base}/orders",
                    headers=h | {"Idempotency-Key": "k1"},
                    json=order_body(),
                )
            # A key that is almost right, and a malformed one, end up in no log either.
            for key in (raw[0][:-1] + "x", raw[1] + "junk"):
                resp = await http.get(f"{ws.base}/workflow", headers={"Authorization": key})
                assert resp.status_code == 401
                raw.append(key)
            # Tickets used where they travel in the URL (?ticket=), so the access log sees them.
            live = base.replace("http://", "ws://", 1) + f"{ws.base}/live"
            for use in ("ws", "poll", "sse"):
                made = await http.post(f"{ws.base}/tickets", headers=ws.auth("read"))
                ticket = made.json()["ticket"]
                raw.append(ticket)
                if use == "ws":
                    async with asyncio.timeout(10), connect(f"{live}?ticket={ticket}") as conn:
                        assert orjson.loads(await conn.recv())["type"] == "snapshot"
                elif use == "poll":
                    got = await http.get(f"{ws.base}/events", params={"ticket": ticket})
                    assert got.status_code == 200, got.text
                else:
                    url = f"{ws.base}/events/stream"
                    async with http.stream("GET", url, params={"ticket": ticket}) as stream:
                        assert stream.status_code == 200
                        async for _ in stream.aiter_bytes():
                            break
            revoke = await http.delete(
                f"{ws.base}/keys/{raw[3].split('_')[1]}", headers=ws.auth("admin")
            )
            assert revoke.status_code == 200
        await redis.aclose()
    finally:
        await asyncio.to_thread(server.stop)  # SIGTERM: the AOF is complete on disk
    files = [p for p in (tmp_path / "redis").rglob("*") if p.is_file()]
    blobs = {p.name: p.read_bytes() for p in files}
    assert any(n.endswith(".aof") for n in blobs), blobs.keys()
    # The server's log records (the test's own clients, httpx and websockets, log URLs too).
    client_side = ("httpx", "httpcore", "websockets.client", "hpack")
    server_records = [r for r in caplog.records if not r.name.startswith(client_side)]
    log_text = "\n".join(f"{r.name} {r.getMessage()}" for r in server_records)
    hits = [(name, k[:12]) for name, blob in blobs.items() for k in raw if k.encode() in blob]
    hits += [("log", k[:12]) for k in raw if k in log_text]
    for r in server_records:
        if any(k in r.getMessage() for k in raw):
            print("LEAK", r.name, r.getMessage())
    # The secret half alone, too (olk_<id>_<secret>, olt_<secret>; a secret may hold '_').
    secret_parts = [k.split("_", 2)[2] if k.startswith("olk_") else k.split(".")[-1] for k in raw]
    assert min(map(len, secret_parts)) >= 24
    hits += [(name, "secret") for name, b in blobs.items() for s in secret_parts if s.encode() in b]
    print(
        f"\nsecrets at rest: {len(raw)} raw keys/tickets, {len(files)} Redis files "
        f"({sum(map(len, blobs.values()))} bytes), {len(server_records)} server log records: "
        f"hits {hits}"
    )
    assert len(server_records) > len(raw)  # the access log did record the requests
    # The grep works: each key's public id is in the AOF (its record), the key itself never.
    aof = b"".join(blobs.values())
    assert all(k.split("_")[1].encode() in aof for k in raw[:6])
    assert hits == []


# -- body limits and hostile payloads ----------------------------------------------------------


async def test_security_body_one_byte_over_64k_is_413(client: Any, workspace: Workspace) -> None:
    """A body of exactly 64 KiB is read (and judged on content); 64 KiB + 1 is a 413."""
    limit = 65_536
    pad = b'{"customer": {"UserId": 1, "Name": "a"}, "items": ["x"], "metadata": {"p": "'
    for size, expected in ((limit, 422), (limit + 1, 413)):
        body = pad + b"y" * (size - len(pad) - 3) + b'"}}'
        assert len(body) == size
        resp = await client.post(
            f"{workspace.base}/orders",
            content=body,
            headers=workspace.auth() | {"Content-Type": "application/json"},
        )
        assert_error(resp, expected)


async def test_security_chunked_10mib_body_is_cut_off(settings: Settings, redis: Any) -> None:
    """A 10 MiB chunked body: the app reads no more than 64 KiB + one chunk, answers 413 and the
    server closes the connection instead of draining the rest."""
    st = build_state(settings, redis)
    ws_id, keys = await st.workspaces.create_workspace("Chunk cafe")
    read_by_app = 0
    before_last = 0  # what the app had read before the message it stopped at
    inner = create_app(settings)

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            nonlocal read_by_app, before_last
            message = await receive()
            before_last = read_by_app
            read_by_app += len(message.get("body", b""))
            return message

        await inner(scope, counted if scope["type"] == "http" else receive, send)

    total, chunk = 10 * 1024 * 1024, 16 * 1024
    async with running_server(counting, **uvicorn_options(settings)) as base:
        port = int(base.rsplit(":", 1)[1])

        def push() -> tuple[int, bytes, float]:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(
                f"POST /v1/workspaces/{ws_id}/orders HTTP/1.1\r\nHost: t\r\n"
                f"Authorization: Bearer {keys['write']}\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n".encode()
            )
            sent, start = 0, time.monotonic()
            piece = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
            try:
                while sent < total:
                    sock.sendall(piece)
                    sent += chunk
            except OSError:
                pass
            took = time.monotonic() - start
            answer = b""
            try:
                while data := sock.recv(65536):
                    answer += data
            except OSError:
                pass
            sock.close()
            return sent, answer, took

        sent, answer, took = await asyncio.to_thread(push)
    print(
        f"\nchunked 10 MiB body: the app read {read_by_app} bytes; the client pushed "
        f"{sent} bytes (socket buffers) before the close after {took:.2f} s"
    )
    # The server answers 413 and closes. A client still pushing then gets a reset, which may
    # discard the 413 from its receive buffer before it reads it (a TCP race, more likely on a
    # loaded machine); what must hold is that the app stopped reading past the limit.
    assert answer.startswith(b"HTTP/1.1 413") or answer == b"", answer[:200]
    # The app stops at the first body message that crosses the limit; how much one message
    # holds is the server's choice (more on a loaded machine), so bound what came before it.
    assert before_last <= 65_536
    assert read_by_app < total // 8


def hostile_payloads() -> list[tuple[str, bytes]]:
    deep = b"[" * 10_000 + b"]" * 10_000
    deep_obj = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    return [
        ("not an object", b"[1, 2, 3]"),
        ("a string", b'"order"'),
        ("null", b"null"),
        ("customer a number", b'{"customer": 5, "items": ["x"]}'),
        ("items an object", b'{"customer": {"UserId": 1, "Name": "a"}, "items": {"a": 1}}'),
        ("items of numbers", b'{"customer": {"UserId": 1, "Name": "a"}, "items": [1, 2]}'),
        ("user id a float", b'{"customer": {"UserId": 1.5, "Name": "a"}, "items": ["x"]}'),
        ("user id negative", b'{"customer": {"UserId": -1, "Name": "a"}, "items": ["x"]}'),
        ("user id 2**64", b'{"customer": {"UserId": 18446744073709551616, "Name": "a"}}'),
        ("huge int 400 digits", b'{"customer": {"UserId": ' + b"9" * 400 + b', "Name": "a"}}'),
        ("huge float", b'{"customer": {"UserId": 1e400, "Name": "a"}, "items": ["x"]}'),
        ("NaN", b'{"customer": {"UserId": NaN, "Name": "a"}, "items": ["x"]}'),
        (
            "quantity huge",
            b'{"customer": {"UserId": 1, "Name": "a"}, '
            b'"items": [{"name": "x", "quantity": 99999999999999999999}]}',
        ),
        ("deep array 10000", deep),
        ("deep object 10000", deep_obj),
        (
            "deep metadata",
            b'{"customer": {"UserId": 1, "Name": "a"}, "items": ["x"], '
            b'"metadata": ' + b'{"a":' * 500 + b"1" + b"}" * 500 + b"}",
        ),
        ("invalid utf-8", b'{"customer": {"UserId": 1, "Name": "\xff\xfe"}, "items": ["x"]}'),
        ("lone surrogate", b'{"customer": {"UserId": 1, "Name": "\\ud800"}, "items": ["x"]}'),
        ("NUL in name", b'{"customer": {"UserId": 1, "Name": "a\\u0000b"}, "items": ["x"]}'),
        ("raw NUL byte", b'{"customer": {"UserId": 1, "Name": "a\x00b"}, "items": ["x"]}'),
        ("NUL in item", b'{"customer": {"UserId": 1, "Name": "a"}, "items": ["x\\u0000"]}'),
        (
            "10000 items",
            b'{"customer": {"UserId": 1, "Name": "a"}, "items": ['
            + b",".join([b'"x"'] * 10_000)
            + b"]}",
        ),
        ("name 10000 chars", b'{"customer": {"UserId": 1, "Name": "' + b"a" * 10_000 + b'"}}'),
        (
            "actor a superscript digit",
            '{"customer": {"UserId": 1, "Name": "a"}, "actor": "²"}'.encode(),
        ),  # str.isdigit() is true, int() raises: was a 500
        ("user id with leading zero", b'{"customer": {"UserId": "007", "Name": "a"}}'),
        ("user id with newline", b'{"customer": {"UserId": "abc\\n", "Name": "a"}}'),
        ("name with edge control", b'{"customer": {"UserId": 1, "Name": "abc\\u001f"}}'),
        ("unknown field", b'{"customer": {"UserId": 1, "Name": "a"}, "items": ["x"], "z": 1}'),
        ("status wrong type", b'{"customer": {"UserId": 1, "Name": "a"}, "status": ["x"]}'),
        ("status unknown", b'{"customer": {"UserId": 1, "Name": "a"}, "status": "flying"}'),
        ("duplicate keys", b'{"customer": 1, "customer": {"UserId": 1, "Name": "a"}}'),
        ("trailing garbage", b'{"customer": {"UserId": 1, "Name": "a"}} xyz'),
        ("empty", b""),
        ("whitespace", b"   \n"),
        ("BOM", b'\xef\xbb\xbf{"customer": {"UserId": 1, "Name": "a"}, "items": ["x"]}'),
        ("control chars in key", b'{"cust\x01omer": 1}'),
        ("prototype keys", b'{"__proto__": {"x": 1}, "constructor": 1}'),
        (
            "unicode username",
            '{"customer": {"UserId": 1, "Name": "Ålice😀"}, "items": ["x"]}'.encode(),
        ),
        (
            "RTL override",
            '{"customer": {"UserId": 1, "Name": "a\u202eb"}, "items": ["x"]}'.encode(),
        ),
        (
            "zero-width username",
            '{"customer": {"UserId": 1, "Name": "\u200b"}, "items": ["x"]}'.encode(),
        ),
    ]


@pytest.mark.parametrize(("name", "body"), hostile_payloads(), ids=lambda v: str(v)[:24])
async def test_security_hostile_payload_is_a_clear_4xx(
    client: Any, workspace: Workspace, name: str, body: bytes
) -> None:
    """Each hostile create body gets a 4xx JSON error (or, if it is valid after all, a 201 whose
    order reads back): never a 500."""
    for path in ("/orders", "/batch"):
        payload = body
        if path == "/batch" and body.startswith(b"{"):
            payload = b'{"operations": [' + body[:-1] + b', "op": "create"}]}'
        resp = await client.post(
            f"{workspace.base}{path}",
            content=payload,
            headers=workspace.auth() | {"Content-Type": "application/json"},
        )
        assert resp.status_code != 500, (name, path, resp.text)
        if resp.status_code == 201:
            oid = resp.json()["id"]
            got = await client.get(f"{workspace.base}/orders/{oid}", headers=workspace.auth())
            assert got.status_code == 200
            continue
        if path == "/batch" and resp.status_code == 200:
            continue  # per-operation results: each carries its own status
        body_json = assert_error(resp, resp.status_code)
        assert 400 <= resp.status_code < 500, (name, path, resp.text)
        assert body_json["message"]


async def test_security_flooding_websocket_client_is_closed_1008(
    server: str, workspace: Workspace
) -> None:
    """A client sending 1,000 messages a second is closed with 1008 (the hub allows 30 per 10 s),
    after a bounded number of messages; printed: how many and how fast."""
    url = server.replace("http://", "ws://", 1) + f"{workspace.base}/live"
    sent = 0
    async with asyncio.timeout(10):
        conn = await connect(url, additional_headers=workspace.auth("read"))
        assert orjson.loads(await conn.recv())["type"] == "snapshot"
        start = time.monotonic()
        try:
            while True:
                await conn.send('{"type":"noise"}')
                sent += 1
                await asyncio.sleep(0.001)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
    took = time.monotonic() - start
    print(f"\nflood at ~1,000 msg/s: closed {code} after {sent} messages, {took * 1000:.0f} ms")
    assert code == 1008
    assert sent < 100
