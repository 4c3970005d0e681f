"""The ingest API through HTTP (in-process app): lifecycle, batch, idempotency, errors, auth."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from support.api import CASHIER, CHEF, CUSTOMER, assert_error, new_order, set_status


@pytest.mark.cluster_too
async def test_api_seed_lifecycle_end_to_end(client: Any, workspace: Any) -> None:
    """createOrder, setPreparing, setReprepare, setReadyForPickup, setComplete over HTTP."""
    created = await new_order(client, workspace, status="waiting_for_preparation")
    assert created["error"] is None
    assert created["order_number"] == 1
    oid = created["id"]
    assert created["order"]["customer"]["user_id"] == 3141592653
    for status, extra in [
        ("preparing", {"actor": CHEF}),
        ("finding_new_colleague", {}),
        ("preparing", {"actor": CHEF}),
        ("waiting_for_pickup", {}),
        ("completed", {}),
    ]:
        resp = await set_status(client, workspace, oid, status, **extra)
        assert resp.status_code == 200, resp.text
        assert resp.json()["order"]["status"] == status
    got = await client.get(f"{workspace.base}/orders/{oid}", headers=workspace.auth("read"))
    assert got.status_code == 200
    order = got.json()
    assert order["preparer"]["username"] == "Carl"
    assert len(order["history"]) == 6
    by_number = await client.get(
        f"{workspace.base}/orders/by-number/1", headers=workspace.auth("read")
    )
    assert by_number.json()["id"] == oid


async def test_api_cancel_from_any_active_status(client: Any, workspace: Any) -> None:
    """setCancelled works from an active status, and nothing leaves cancelled."""
    oid = (await new_order(client, workspace))["id"]
    assert (await set_status(client, workspace, oid, "cancelled")).status_code == 200
    body = assert_error(await set_status(client, workspace, oid, "preparing"), 409)
    assert "cancelled" in body["message"]
    assert "preparing" in body["message"]


async def test_api_system_actor_and_item_objects(client: Any, workspace: Any) -> None:
    """A system actor id (2 = Kiosk) and item objects with quantity and notes are accepted."""
    resp = await client.post(
        f"{workspace.base}/orders",
        headers=workspace.auth(),
        json={
            "customer": {"user_id": "42", "username": "zed"},
            "actor": 2,
            "items": [{"name": "Tea", "quantity": 3, "notes": "no sugar"}],
            "metadata": [],
        },
    )
    assert resp.status_code == 201, resp.text
    order = resp.json()["order"]
    assert order["cashier"] == {
        "user_id": None,
        "username": "Kiosk",
        "display_name": "Kiosk",
        "system_id": 2,
    }
    assert order["customer"]["user_id"] == 42
    assert order["items"] == [{"name": "Tea", "quantity": 3, "notes": "no sugar"}]
    assert order["metadata"] == {}


async def test_api_handed_to_records_recipient(client: Any, workspace: Any) -> None:
    """handed_to stores the recipient, and the actor as the one who handed over."""
    oid = (await new_order(client, workspace))["id"]
    resp = await set_status(client, workspace, oid, "handed_to", actor=CASHIER, handed_to=CUSTOMER)
    order = resp.json()["order"]
    assert order["handed_to"]["username"] == "Alice"
    assert order["handed_by"]["username"] == "Bob"


async def test_api_handed_to_another_recipient_is_a_change(
    client: Any, workspace: Any, redis: Any
) -> None:
    """Re-sending handed_to with another recipient records it (a new version, a history entry,
    an order.updated event); the same recipient, or none, is still a no-op."""
    oid = (await new_order(client, workspace))["id"]
    dana = {"UserId": 9, "Name": "Dana"}
    first = await set_status(client, workspace, oid, "handed_to", actor=CASHIER, handed_to=CUSTOMER)
    assert first.json()["changed"] is True
    for again in ({"handed_to": CUSTOMER}, {}, {"handed_to": []}):
        same = await set_status(client, workspace, oid, "handed_to", **again)
        assert same.status_code == 200, same.text
        assert same.json()["changed"] is False
        assert same.json()["order"]["version"] == 2
    resp = await set_status(client, workspace, oid, "handed_to", actor=CHEF, handed_to=dana)
    assert resp.status_code == 200, resp.text
    assert resp.json()["changed"] is True
    order = resp.json()["order"]
    assert order["version"] == 3
    assert order["handed_to"]["username"] == "Dana"
    assert order["handed_by"]["username"] == "Carl"
    got = await client.get(f"{workspace.base}/orders/{oid}", headers=workspace.auth("read"))
    last = got.json()["history"][-1]
    assert (last["status"], last["previous_status"], last["version"]) == (
        "handed_to",
        "handed_to",
        3,
    )
    assert last["handed_to"]["username"] == "Dana"
    (_, fields), *_ = await redis.xrevrange(f"ol:{{{workspace.id}}}:events", count=1)
    assert b'"event":"order.updated","previous_status":"handed_to"' in fields[b"f"]
    found = await client.get(
        f"{workspace.base}/orders",
        headers=workspace.auth("read"),
        params={"staff_id": "9", "role": "handed_to"},
    )
    assert [o["id"] for o in found.json()["orders"]] == [oid]
    recalled = await client.post(
        f"{workspace.base}/orders/{oid}/recall", headers=workspace.auth(), json={}
    )
    assert "no status change" in assert_error(recalled, 409)["message"]


@pytest.mark.cluster_too
async def test_api_batch_applies_in_order_with_refs(client: Any, workspace: Any) -> None:
    """A batch creates and moves orders in order; a status op may name an earlier create's ref."""
    ops = [
        {"op": "create", "ref": "a", "customer": CUSTOMER, "actor": CASHIER, "items": ["Mocha"]},
        {"op": "status", "ref": "b", "order_ref": "a", "status": "preparing", "actor": CHEF},
        {"op": "status", "ref": "c", "order_ref": "a", "status": "submitted"},
        {"op": "status", "ref": "d", "order_ref": "a", "status": "waiting_for_pickup"},
    ]
    resp = await client.post(
        f"{workspace.base}/batch", headers=workspace.auth(), json={"operations": ops}
    )
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["ref"] for r in results] == ["a", "b", "c", "d"]
    assert [r["ok"] for r in results] == [True, True, False, True]
    assert results[0]["statusCode"] == 201
    assert results[2]["statusCode"] == 409
    assert results[3]["order"]["status"] == "waiting_for_pickup"
    assert results[3]["order"]["version"] == 3


async def test_api_batch_echoes_refs_as_sent(client: Any, workspace: Any) -> None:
    """Each result carries its op's ref exactly as sent (an integer stays an integer, blanks
    stay), status ops included; an op without a ref gets null."""
    ops = [
        {"op": "create", "ref": 7, "customer": CUSTOMER},
        {"op": "create", "ref": " till-2 ", "customer": CUSTOMER},
        {"op": "status", "ref": 8, "order_ref": 7, "status": "preparing"},
        {"op": "status", "ref": "9", "order_ref": "till-2", "status": "cancelled"},
        {"op": "status", "order_ref": "7", "status": "waiting_for_pickup"},
    ]
    resp = await client.post(
        f"{workspace.base}/batch", headers=workspace.auth(), json={"operations": ops}
    )
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["ref"] for r in results] == [7, " till-2 ", 8, "9", None]
    assert all(r["ok"] for r in results), results
    assert results[4]["order"]["version"] == 3
    for bad in (1.5, True, {"a": 1}, "", "x" * 65):
        body = assert_error(
            await client.post(
                f"{workspace.base}/batch",
                headers=workspace.auth(),
                json={"operations": [{"op": "create", "ref": bad, "customer": CUSTOMER}]},
            ),
            422,
        )
        assert body["field"] == "operations[0].ref"


async def test_api_batch_failures_per_op_and_whole(client: Any, workspace: Any, redis: Any) -> None:
    """A 404 or 409 fails only its op (the ops after it still commit); a 422 in any op refuses
    the whole batch and writes nothing."""
    oid = (await new_order(client, workspace))["id"]
    ops = [
        {"op": "status", "ref": "gone", "id": "f" * 24, "status": "preparing"},
        {"op": "status", "ref": "stale", "id": oid, "status": "preparing", "version": 5},
        {"op": "status", "ref": "move", "id": oid, "status": "preparing"},
        {"op": "status", "ref": "back", "id": oid, "status": "submitted"},
        {"op": "create", "ref": "new", "customer": CUSTOMER},
    ]
    resp = await client.post(
        f"{workspace.base}/batch", headers=workspace.auth(), json={"operations": ops}
    )
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [(r["ref"], r["ok"], r["statusCode"]) for r in results] == [
        ("gone", False, 404),
        ("stale", False, 409),
        ("move", True, 200),
        ("back", False, 409),
        ("new", True, 201),
    ]
    for failed in results[:2]:
        assert failed["error"]
        assert failed["message"]
    events = await redis.xlen(f"ol:{{{workspace.id}}}:events")
    ops = [
        {"op": "create", "customer": CUSTOMER},
        {"op": "status", "id": oid, "status": "baking"},
    ]
    body = assert_error(
        await client.post(
            f"{workspace.base}/batch", headers=workspace.auth(), json={"operations": ops}
        ),
        422,
    )
    assert body["field"] == "operations[1].status"
    assert await redis.xlen(f"ol:{{{workspace.id}}}:events") == events
    assert int(await redis.get(f"ol:{{{workspace.id}}}:seq")) == 2


async def test_api_batch_limits_and_bad_refs(client: Any, workspace: Any) -> None:
    """More than 100 ops, or a ref to no earlier create, is a 422 naming the field."""
    op = {"op": "create", "customer": CUSTOMER}
    body = assert_error(
        await client.post(
            f"{workspace.base}/batch", headers=workspace.auth(), json={"operations": [op] * 101}
        ),
        422,
    )
    assert body["field"] == "operations"
    body = assert_error(
        await client.post(
            f"{workspace.base}/batch",
            headers=workspace.auth(),
            json={"operations": [{"op": "status", "order_ref": "x", "status": "preparing"}]},
        ),
        422,
    )
    assert body["field"] == "operations[0].order_ref"
    ops = [
        {"op": "create", "ref": "a", "customer": CUSTOMER},
        {"op": "status", "ref": "b", "order_ref": "a", "status": "preparing"},
        {"op": "status", "order_ref": "b", "status": "completed"},
    ]
    body = assert_error(
        await client.post(
            f"{workspace.base}/batch", headers=workspace.auth(), json={"operations": ops}
        ),
        422,
    )
    assert body["field"] == "operations[2].order_ref"


@pytest.mark.cluster_too
async def test_api_idempotency_key_replays_and_rejects_other_body(
    client: Any, workspace: Any
) -> None:
    """A retried POST with the same Idempotency-Key creates one order; another body is 422."""
    headers = workspace.auth() | {"Idempotency-Key": "retry-1"}
    body = {"customer": CUSTOMER, "items": ["Latte"]}
    results = await asyncio.gather(
        *(client.post(f"{workspace.base}/orders", headers=headers, json=body) for _ in range(5))
    )
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1
    other = await client.post(
        f"{workspace.base}/orders", headers=headers, json={"customer": CUSTOMER, "items": ["Tea"]}
    )
    assert_error(other, 422)
    nxt = await new_order(client, workspace)
    assert nxt["order_number"] == 2


async def test_api_idempotency_compares_the_parsed_body(client: Any, workspace: Any) -> None:
    """The same JSON re-serialised (key order at any depth, whitespace, escapes) under the same
    Idempotency-Key replays the first answer; another value is still a 422."""
    url = f"{workspace.base}/orders"
    headers = workspace.auth() | {"Idempotency-Key": "till-7", "Content-Type": "application/json"}
    first = await client.post(
        url,
        headers=headers,
        content=b'{"customer":{"UserId":261,"Name":"shedletsky"},"items":[{"name":"Tea","quantity":2}]}',
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        url,
        headers=headers,
        content=b'{ "items" : [ { "quantity" : 2 , "name" : "T\\u0065a" } ],\n'
        b'  "customer" : { "Name" : "shedletsky" , "UserId" : 261 } }',
    )
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    other = await client.post(
        url,
        headers=headers,
        content=b'{"items":[{"quantity":3,"name":"Tea"}],"customer":{"Name":"shedletsky","UserId":261}}',
    )
    assert "Idempotency-Key" in assert_error(other, 422)["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "customer"),
        ({"customer": {"username": "x"}}, "customer.user_id"),
        ({"customer": {"user_id": 2**63, "username": "x"}}, "customer.user_id"),
        ({"customer": {"user_id": True, "username": "x"}}, "customer.user_id"),
        ({"customer": {"user_id": 1, "username": ""}}, "customer.username"),
        ({"customer": {"user_id": 1, "username": "a\u0000b"}}, "customer.username"),
        ({"customer": CUSTOMER, "actor": 9}, "actor"),
        ({"customer": CUSTOMER, "items": "Latte"}, "items"),
        ({"customer": CUSTOMER, "items": [{"quantity": 2}]}, "items[0].name"),
        ({"customer": CUSTOMER, "items": ["x"] * 101}, "items"),
        ({"customer": CUSTOMER, "status": "baking"}, "status"),
        ({"customer": CUSTOMER, "metadata": {"x": "y" * 5000}}, "metadata"),
        ({"customer": CUSTOMER, "colour": "red"}, "colour"),
        ([1, 2], ""),
    ],
)
async def test_api_invalid_create_is_422_naming_field(
    client: Any, workspace: Any, body: Any, field: str
) -> None:
    """Each validation failure is a 422 whose body names the field."""
    resp = await client.post(f"{workspace.base}/orders", headers=workspace.auth(), json=body)
    assert assert_error(resp, 422)["field"] == field


async def test_api_malformed_json_is_400(client: Any, workspace: Any) -> None:
    """A body that is not JSON is a 400."""
    resp = await client.post(
        f"{workspace.base}/orders",
        content=b"{nope",
        headers=workspace.auth() | {"Content-Type": "application/json"},
    )
    assert_error(resp, 400)


async def test_api_wrong_content_type_is_415(client: Any, workspace: Any) -> None:
    """A form body is a 415."""
    resp = await client.post(
        f"{workspace.base}/orders",
        content=b"customer=x",
        headers=workspace.auth() | {"Content-Type": "text/plain"},
    )
    assert_error(resp, 415)


async def test_api_large_body_is_413(client: Any, workspace: Any) -> None:
    """A body over 64 KiB is a 413, with or without Content-Length."""
    big = b'{"customer": "' + b"x" * 70_000 + b'"}'
    resp = await client.post(
        f"{workspace.base}/orders",
        content=big,
        headers=workspace.auth() | {"Content-Type": "application/json"},
    )
    assert_error(resp, 413)

    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 8192

    resp = await client.post(
        f"{workspace.base}/orders",
        content=chunks(),
        headers=workspace.auth() | {"Content-Type": "application/json"},
    )
    assert_error(resp, 413)


async def test_api_unknown_order_and_route_are_404(client: Any, workspace: Any) -> None:
    """An unknown order id, order number or route is a JSON 404."""
    assert_error(
        await client.get(f"{workspace.base}/orders/{'0' * 24}", headers=workspace.auth("read")), 404
    )
    assert_error(
        await client.get(f"{workspace.base}/orders/by-number/5", headers=workspace.auth("read")),
        404,
    )
    assert_error(await set_status(client, workspace, "f" * 24, "preparing"), 404)
    assert_error(await client.get("/v1/nothing-here"), 404)


async def test_api_bad_order_id_is_422(client: Any, workspace: Any) -> None:
    """An order id that is not 24 hex digits is a 422."""
    assert_error(await client.get(f"{workspace.base}/orders/xyz", headers=workspace.auth()), 422)


async def test_api_auth_missing_unknown_foreign_and_scope(
    client: Any, workspace: Any, state: Any
) -> None:
    """No key 401, an unknown key 401, another workspace's key 403, a read key writing 403."""
    url = f"{workspace.base}/orders"
    body = {"customer": CUSTOMER}
    assert_error(await client.post(url, json=body), 401)
    assert_error(
        await client.post(
            url, json=body, headers={"Authorization": "Bearer olk_000000000000_nope"}
        ),
        401,
    )
    _other_id, other_keys = await state.workspaces.create_workspace("Other")
    assert_error(
        await client.post(
            url, json=body, headers={"Authorization": f"Bearer {other_keys['write']}"}
        ),
        403,
    )
    assert_error(await client.post(url, json=body, headers=workspace.auth("read")), 403)
    assert (await client.post(url, json=body, headers=workspace.auth("admin"))).status_code == 201


@pytest.mark.cluster_too
async def test_api_revoked_key_stops_working(client: Any, workspace: Any) -> None:
    """A key revoked through the admin API is refused (401) right after."""
    created = await client.post(
        f"{workspace.base}/keys",
        headers=workspace.auth("admin"),
        json={"scope": "write", "label": "till 2"},
    )
    assert created.status_code == 201
    key = created.json()["key"]
    url = f"{workspace.base}/orders"
    hdr = {"Authorization": f"Bearer {key}"}
    assert (await client.post(url, json={"customer": CUSTOMER}, headers=hdr)).status_code == 201
    revoke = await client.delete(
        f"{workspace.base}/keys/{created.json()['key_id']}", headers=workspace.auth("admin")
    )
    assert revoke.status_code == 200
    assert_error(await client.post(url, json={"customer": CUSTOMER}, headers=hdr), 401)


async def test_api_store_down_is_503_with_retry_after(settings: Any, workspace: Any) -> None:
    """With Redis unreachable a write answers 503 with Retry-After, never 500."""
    import httpx

    from orderlog.app import build_state, create_app
    from orderlog.store.client import make_redis
    from orderlog.store.embedded import free_port
    from support.server import WithState

    dead = make_redis(f"redis://127.0.0.1:{free_port()}", timeout=0.5)
    st = build_state(settings, dead)
    app = WithState(create_app(settings), st)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        resp = await c.post(
            f"{workspace.base}/orders", headers=workspace.auth(), json={"customer": CUSTOMER}
        )
        assert_error(resp, 503)
        assert resp.headers["retry-after"] == "1"
        assert_error(await c.get("/readyz"), 503)
        assert (await c.get("/healthz")).status_code == 200
    await dead.aclose()


@pytest.mark.cluster_too
async def test_api_custom_workflow_validated_and_applied(client: Any, workspace: Any) -> None:
    """An admin sets a workflow with an extra status; transitions follow it; bad ones are 422."""
    wf = {
        "statuses": [
            "submitted",
            "baking",
            {"name": "done", "terminal": True},
            {"name": "cancelled", "terminal": True},
        ],
        "transitions": {"submitted": ["baking", "cancelled"], "baking": ["done", "cancelled"]},
    }
    resp = await client.put(f"{workspace.base}/workflow", headers=workspace.auth("admin"), json=wf)
    assert resp.status_code == 200, resp.text
    assert resp.json()["custom"] is True
    assert_error(
        await client.put(f"{workspace.base}/workflow", headers=workspace.auth(), json=wf), 403
    )
    bad = await client.put(
        f"{workspace.base}/workflow",
        headers=workspace.auth("admin"),
        json={**wf, "transitions": {"done": ["baking"]}},
    )
    assert assert_error(bad, 422)["field"] == "transitions.done"
    oid = (await new_order(client, workspace))["id"]
    assert_error(await set_status(client, workspace, oid, "done"), 409)
    assert (await set_status(client, workspace, oid, "baking")).status_code == 200
    assert_error(await set_status(client, workspace, oid, "preparing"), 422)
    got = await client.get(f"{workspace.base}/workflow", headers=workspace.auth("read"))
    assert [s["name"] for s in got.json()["statuses"]] == [
        "submitted",
        "baking",
        "done",
        "cancelled",
    ]


async def test_api_client_leaving_mid_body_is_not_a_500(
    settings: Any, state: Any, workspace: Any
) -> None:
    """A client that disconnects before its body is complete gets a 4xx, never a 500."""
    from orderlog.app import create_app
    from support.server import WithState

    app = WithState(create_app(settings), state)
    messages = iter(
        [
            {"type": "http.request", "body": b'{"customer": ', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", workspace.auth()["Authorization"].encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{workspace.base}/orders",
        "raw_path": b"",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "root_path": "",
    }
    async with asyncio.timeout(5):
        await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400


@pytest.mark.parametrize("display", ["", "   ", None])
async def test_api_empty_display_name_is_absent(
    client: Any, workspace: Any, display: str | None
) -> None:
    """DisplayName "" (or blanks) is taken as no display name, as null is: the username shows."""
    resp = await client.post(
        f"{workspace.base}/orders",
        headers=workspace.auth(),
        json={"customer": {"UserId": 261, "Name": "shedletsky", "DisplayName": display}},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["order"]["customer"]["display_name"] == "shedletsky"


@pytest.mark.parametrize("uid", [261.5, -0.25, 1e-3])
async def test_api_fractional_user_id_is_not_a_whole_number(
    client: Any, workspace: Any, uid: Any
) -> None:
    """A user id with a fraction is a 422 saying a whole number is expected."""
    resp = await client.post(
        f"{workspace.base}/orders",
        headers=workspace.auth(),
        json={"customer": {"UserId": uid, "Name": "shedletsky"}},
    )
    body = assert_error(resp, 422)
    assert body["field"] == "customer.user_id"
    assert "whole number" in body["message"]


async def test_api_recall_accepts_roblox_empty_table(client: Any, workspace: Any) -> None:
    """POST /recall with [] (Roblox's empty table) is an empty body, as {} is."""
    oid = (await new_order(client, workspace, status="waiting_for_preparation"))["id"]
    assert (await set_status(client, workspace, oid, "preparing")).status_code == 200
    resp = await client.post(
        f"{workspace.base}/orders/{oid}/recall",
        headers=workspace.auth() | {"Content-Type": "application/json"},
        content=b"[]",
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["order"]["status"] == "waiting_for_preparation"
