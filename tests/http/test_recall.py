"""Recall (undo the last status change within the window), security headers, staff-action scopes."""

from __future__ import annotations

from typing import Any

from support.api import assert_error, new_order, set_status

CHEF = {"UserId": 8, "Name": "Carl"}


async def recall(client: Any, ws: Any, order_id: str, scope: str = "write", **body: Any) -> Any:
    return await client.post(
        f"{ws.base}/orders/{order_id}/recall", headers=ws.auth(scope), json=body
    )


async def test_recall_undoes_a_move_the_workflow_forbids(client: Any, workspace: Any) -> None:
    """preparing -> waiting_for_pickup, recalled, is back in preparing with its preparer kept."""
    oid = (await new_order(client, workspace, status="waiting_for_preparation"))["id"]
    await set_status(client, workspace, oid, "preparing", actor=CHEF)
    await set_status(client, workspace, oid, "waiting_for_pickup")
    assert_error(await set_status(client, workspace, oid, "preparing"), 409)
    resp = await recall(client, workspace, oid, actor={"UserId": 9, "Name": "Dana"})
    assert resp.status_code == 200, resp.text
    order = resp.json()["order"]
    assert order["status"] == "preparing"
    assert order["preparer"]["username"] == "Carl"
    got = (await client.get(f"{workspace.base}/orders/{oid}", headers=workspace.auth())).json()
    last = got["history"][-1]
    assert last["status"] == "preparing"
    assert last["previous_status"] == "waiting_for_pickup"
    assert last["actor"]["username"] == "Dana"
    assert "recall" in last["reason"]


async def test_recall_brings_back_a_completed_order(client: Any, workspace: Any) -> None:
    """A mistaken bump to completed is undone (nothing else may leave completed)."""
    oid = (await new_order(client, workspace, status="waiting_for_pickup"))["id"]
    await set_status(client, workspace, oid, "completed")
    resp = await recall(client, workspace, oid)
    assert resp.status_code == 200, resp.text
    assert resp.json()["order"]["status"] == "waiting_for_pickup"


async def test_recall_refused_after_the_window(client: Any, workspace: Any, redis: Any) -> None:
    """Past recall_window_seconds the recall is a 409 and the order is unchanged."""
    oid = (await new_order(client, workspace, status="waiting_for_preparation"))["id"]
    await set_status(client, workspace, oid, "preparing")
    key = f"ol:{{{workspace.id}}}:o:1"
    raw = (await redis.hget(key, "h")).decode()
    await redis.hset(key, "h", raw.replace('"at":"20', '"at":"19'))  # a century ago
    assert_error(await recall(client, workspace, oid), 409)
    got = (await client.get(f"{workspace.base}/orders/{oid}", headers=workspace.auth())).json()
    assert got["status"] == "preparing"


async def test_recall_of_a_new_order_is_a_conflict(client: Any, workspace: Any) -> None:
    """An order with no status change has nothing to recall."""
    oid = (await new_order(client, workspace))["id"]
    body = assert_error(await recall(client, workspace, oid), 409)
    assert "no status change" in body["message"]


async def test_recall_needs_a_write_key(client: Any, workspace: Any) -> None:
    """A read key can neither recall nor change a status: the server refuses staff actions."""
    oid = (await new_order(client, workspace, status="waiting_for_preparation"))["id"]
    await set_status(client, workspace, oid, "preparing")
    assert_error(await recall(client, workspace, oid, scope="read"), 403)
    resp = await client.post(
        f"{workspace.base}/orders/{oid}/status",
        headers=workspace.auth("read"),
        json={"status": "cancelled"},
    )
    assert_error(resp, 403)
    got = (await client.get(f"{workspace.base}/orders/{oid}", headers=workspace.auth())).json()
    assert got["status"] == "preparing"


async def test_recall_rejects_unknown_fields(client: Any, workspace: Any) -> None:
    """The body is {} or {"actor": ...}; anything else is a 422."""
    oid = (await new_order(client, workspace, status="waiting_for_preparation"))["id"]
    assert_error(await recall(client, workspace, oid, status="completed"), 422)


async def test_security_headers_on_pages_and_api(client: Any) -> None:
    """Every response carries the CSP (no inline script), nosniff, no-referrer, no framing."""
    for path in ("/healthz", "/index.html"):
        resp = await client.get(path)
        csp = resp.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "no-referrer"
        assert resp.headers["x-frame-options"] == "DENY"


async def test_recall_with_version_undoes_once(client: Any, workspace: Any) -> None:
    """A recall naming the version it undoes succeeds once; repeated, it is a 409, not a redo."""
    oid = (await new_order(client, workspace, status="waiting_for_preparation"))["id"]
    bumped = (await set_status(client, workspace, oid, "preparing")).json()["order"]
    first = await recall(client, workspace, oid, version=bumped["version"])
    assert first.status_code == 200, first.text
    assert_error(await recall(client, workspace, oid, version=bumped["version"]), 409)
    got = (await client.get(f"{workspace.base}/orders/{oid}", headers=workspace.auth())).json()
    assert got["status"] == "waiting_for_preparation"
