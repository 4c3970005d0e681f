"""Changing a workspace's workflow while orders are in it: refused when it would strand them,
or moving them in the same atomic step (history, events, a workflow.changed event)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from orderlog.app import build_state, create_app
from support.api import BAKERY, assert_error, new_order, set_status
from support.server import WithState, Workspace

KITCHEN = "waiting_for_preparation"


async def orders_in(client: Any, ws: Workspace, n: int, *statuses: str) -> list[str]:
    """``n`` orders moved through ``statuses``; their ids."""
    ids = []
    for _ in range(n):
        oid = (await new_order(client, ws))["id"]
        for status in statuses:
            assert (await set_status(client, ws, oid, status)).status_code == 200
        ids.append(oid)
    return ids


async def put(client: Any, ws: Workspace, body: dict[str, Any]) -> httpx.Response:
    return await client.put(f"{ws.base}/workflow", headers=ws.auth("admin"), json=body)


@pytest.mark.cluster_too
async def test_workflow_removing_statuses_orders_are_in_is_refused(
    client: Any, workspace: Workspace
) -> None:
    """A workflow that removes statuses orders are in is a 409 naming each and its count; the
    workflow stays as it was. Orders in a removed final status keep it (no refusal)."""
    await orders_in(client, workspace, 2, KITCHEN, "preparing")
    await orders_in(client, workspace, 1, KITCHEN, "preparing", "finding_new_colleague")
    refused = await put(client, workspace, BAKERY)
    message = assert_error(refused, 409)["message"]
    assert "preparing (2 orders)" in message
    assert "finding_new_colleague (1 order)" in message
    assert '"migrate"' in message
    got = await client.get(f"{workspace.base}/workflow", headers=workspace.auth("read"))
    assert got.json()["custom"] is False
    assert "preparing" in [s["name"] for s in got.json()["statuses"]]


@pytest.mark.cluster_too
async def test_workflow_migrate_moves_the_orders_with_history_and_events(
    client: Any, workspace: Workspace
) -> None:
    """With "migrate", the orders of removed statuses move in the same step: a history entry
    ("workflow changed") and an order.status_changed event each, then one workflow.changed
    event; they can move on, be cancelled and be searched by their new status."""
    url = f"{workspace.base}/events"
    read = workspace.auth("read")
    preparing = await orders_in(client, workspace, 2, KITCHEN, "preparing")
    (finding,) = await orders_in(
        client, workspace, 1, KITCHEN, "preparing", "finding_new_colleague"
    )
    start = (await client.get(url, headers=read)).json()["cursor"]
    migrate = {"preparing": "baking", "finding_new_colleague": KITCHEN}
    done = await put(client, workspace, {**BAKERY, "migrate": migrate})
    assert done.status_code == 200, done.text
    assert [s["name"] for s in done.json()["statuses"]][2] == "baking"

    for oid, status, previous in [
        (preparing[0], "baking", "preparing"),
        (finding, KITCHEN, "finding_new_colleague"),
    ]:
        order = (await client.get(f"{workspace.base}/orders/{oid}", headers=read)).json()
        assert order["status"] == status
        last = order["history"][-1]
        assert last["status"] == status
        assert last["previous_status"] == previous
        assert last["reason"] == "workflow changed"
        assert last["version"] == order["version"]
    got = (await client.get(url, params={"after": start}, headers=read)).json()
    kinds = [(e["event"], (e.get("order") or {}).get("status")) for e in got["events"]]
    assert sorted(kinds[:3]) == [
        ("order.status_changed", "baking"),
        ("order.status_changed", "baking"),
        ("order.status_changed", KITCHEN),
    ]
    assert kinds[3] == ("workflow.changed", None)
    assert [s["name"] for s in got["events"][3]["workflow"]["statuses"]][2] == "baking"

    assert (
        await set_status(client, workspace, preparing[0], "waiting_for_pickup")
    ).status_code == 200
    assert (await set_status(client, workspace, preparing[1], "cancelled")).status_code == 200
    assert (await set_status(client, workspace, finding, "baking")).status_code == 200
    found = await client.get(f"{workspace.base}/orders", params={"status": "baking"}, headers=read)
    assert [o["id"] for o in found.json()["orders"]] == [finding]
    assert_error(await set_status(client, workspace, finding, "preparing"), 422)


async def test_workflow_migrate_is_checked(client: Any, workspace: Workspace) -> None:
    """ "migrate" names removed active statuses and statuses of the new workflow; anything else
    is a 422 naming the entry, and nothing changes. DELETE /workflow (back to the default) is
    refused the same way and takes {"migrate": ...} too."""
    await orders_in(client, workspace, 1, KITCHEN, "preparing")
    cases = {
        "submitted": "baking",  # stays in the new workflow
        "completed": "baking",  # a final status: its orders are finished
        "nonsense": "baking",
    }
    for source, target in cases.items():
        resp = await put(client, workspace, {**BAKERY, "migrate": {source: target}})
        assert assert_error(resp, 422)["field"] == f"migrate.{source}"
    resp = await put(client, workspace, {**BAKERY, "migrate": {"preparing": "preparing"}})
    assert assert_error(resp, 422)["field"] == "migrate.preparing"
    assert (
        await put(client, workspace, {**BAKERY, "migrate": {"preparing": "baking"}})
    ).status_code == 200
    (oid,) = await orders_in(client, workspace, 1, KITCHEN)
    assert (await set_status(client, workspace, oid, "baking")).status_code == 200
    admin = workspace.auth("admin")
    assert_error(await client.delete(f"{workspace.base}/workflow", headers=admin), 409)
    back = await client.request(
        "DELETE",
        f"{workspace.base}/workflow",
        headers=admin,
        json={"migrate": {"baking": "preparing"}},
    )
    assert back.status_code == 200, back.text
    assert back.json()["custom"] is False
    order = (await client.get(f"{workspace.base}/orders/{oid}", headers=admin)).json()
    assert order["status"] == "preparing"


async def test_workflow_change_reaches_writes_checked_in_another_process(
    settings: Any, redis: Any, client: Any, workspace: Workspace
) -> None:
    """A process that still has the old workflow cached cannot move an order into a status the
    change removed: the store refuses a write checked against another workflow version, and
    the write is checked again against the new one (422 here: the status is gone)."""
    other = build_state(settings, redis)  # another process: its own workflow cache
    transport = httpx.ASGITransport(app=WithState(create_app(settings), other))
    async with httpx.AsyncClient(transport=transport, base_url="http://other") as there:
        (oid,) = await orders_in(there, workspace, 1, KITCHEN)  # caches the default workflow
        moved = await put(client, workspace, {**BAKERY, "migrate": {}})
        assert moved.status_code == 200, moved.text
        resp = await set_status(there, workspace, oid, "preparing")
        assert assert_error(resp, 422)["field"] == "status"
        assert (await set_status(there, workspace, oid, "baking")).status_code == 200
    await other.hub.close()
