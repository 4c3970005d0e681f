"""The kitchen's writes besides a status change: an order's priority (on create, later through
POST /priority or a batch op) and item done marks (POST /items/{index}/done), with their
history entries, idempotency, scopes, and a recall clearing the marks."""

from __future__ import annotations

from typing import Any

import pytest

from support import screens
from support.api import CHEF, assert_error, new_order, set_status

WAITING = "waiting_for_preparation"


async def mark(
    client: Any, ws: Any, oid: str, index: Any, scope: str = "write", **body: Any
) -> Any:
    return await client.post(
        f"{ws.base}/orders/{oid}/items/{index}/done", headers=ws.auth(scope), json=body
    )


async def prioritise(client: Any, ws: Any, oid: str, **body: Any) -> Any:
    return await client.post(f"{ws.base}/orders/{oid}/priority", headers=ws.auth(), json=body)


async def history(client: Any, ws: Any, oid: str) -> list[dict[str, Any]]:
    got = await client.get(f"{ws.base}/orders/{oid}", headers=ws.auth("read"))
    return got.json()["history"]  # type: ignore[no-any-return]


@pytest.mark.cluster_too
async def test_priority_on_create_and_later_with_history(client: Any, workspace: Any) -> None:
    """An order is created normal unless it says rush; POST /priority changes it (a new
    version, a history entry with the actor), and re-sending the same priority changes nothing."""
    plain = (await new_order(client, workspace))["order"]
    assert plain["priority"] == "normal"
    rush = (await new_order(client, workspace, priority="rush"))["order"]
    assert rush["priority"] == "rush"
    resp = await prioritise(client, workspace, plain["id"], priority="rush", actor=CHEF, version=1)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["changed"] is True
    assert body["order"]["priority"] == "rush"
    assert body["order"]["version"] == 2
    last = (await history(client, workspace, plain["id"]))[-1]
    assert last["priority"] == "rush"
    assert last["status"] == last["previous_status"] == plain["status"]
    assert last["actor"]["username"] == "Carl"
    again = await prioritise(client, workspace, plain["id"], priority="rush")
    assert again.json()["changed"] is False
    assert again.json()["order"]["version"] == 2
    assert_error(
        await prioritise(client, workspace, plain["id"], priority="normal", version=1), 409
    )


async def test_priority_refused_when_wrong_or_closed(client: Any, workspace: Any) -> None:
    """An unknown priority is a 422 naming the field (on create and on the route); an order in a
    final status keeps its priority (409); an unknown order is a 404."""
    body = assert_error(
        await client.post(
            f"{workspace.base}/orders",
            headers=workspace.auth(),
            json={"customer": {"user_id": 1, "username": "a"}, "priority": "urgent"},
        ),
        422,
    )
    assert body["field"] == "priority"
    oid = (await new_order(client, workspace))["id"]
    assert assert_error(await prioritise(client, workspace, oid, priority=1), 422)["field"] == (
        "priority"
    )
    assert assert_error(await prioritise(client, workspace, oid), 422)["field"] == "priority"
    await set_status(client, workspace, oid, "cancelled")
    assert (
        "cancelled"
        in assert_error(await prioritise(client, workspace, oid, priority="rush"), 409)["message"]
    )
    assert_error(await prioritise(client, workspace, "0" * 24, priority="rush"), 404)


async def test_batch_priority_op_names_an_earlier_create(client: Any, workspace: Any) -> None:
    """A batch may create an order and make it rush by its ref, in one atomic step."""
    resp = await client.post(
        f"{workspace.base}/batch",
        headers=workspace.auth(),
        json={
            "operations": [
                {"op": "create", "ref": "a", "customer": {"user_id": 1, "username": "a"}},
                {"op": "priority", "order_ref": "a", "priority": "rush", "ref": 2},
            ]
        },
    )
    assert resp.status_code == 200, resp.text
    created, rushed = resp.json()["results"]
    assert rushed["ok"] is True
    assert rushed["ref"] == 2
    assert rushed["order"]["priority"] == "rush"
    assert rushed["order"]["version"] == created["order"]["version"] + 1


@pytest.mark.cluster_too
async def test_item_done_marks_one_item_with_history(client: Any, workspace: Any) -> None:
    """Marking item 1 done changes only that item (a new version, the /status reply shape, a
    history entry); marking it again changes nothing; marking it not done takes it back."""
    order = (await new_order(client, workspace, items=["Bagel", "Tea", "Cookie"]))["order"]
    assert [i["done"] for i in order["items"]] == [False, False, False]
    resp = await mark(client, workspace, order["id"], 1, done=True, actor=CHEF, version=1)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) >= {"id", "order", "changed"}
    assert body["changed"] is True
    assert body["order"]["version"] == 2
    assert [i["done"] for i in body["order"]["items"]] == [False, True, False]
    entry = (await history(client, workspace, order["id"]))[-1]
    assert (entry["item"], entry["done"], entry["version"]) == (1, True, 2)
    assert entry["actor"]["username"] == "Carl"
    again = (await mark(client, workspace, order["id"], 1, done=True)).json()
    assert (again["changed"], again["order"]["version"]) == (False, 2)
    back = (await mark(client, workspace, order["id"], 1, done=False)).json()
    assert (back["changed"], back["order"]["version"]) == (True, 3)
    assert [i["done"] for i in back["order"]["items"]] == [False, False, False]


async def test_item_done_keeps_every_other_byte_of_tricky_items(
    client: Any, workspace: Any
) -> None:
    """Names and notes holding quotes, braces, backslashes, '"done":true' and non-ASCII text
    are left exactly as they were when another item is marked (the script never decodes them)."""
    tricky = [
        {"name": 'Quote "done":true} {', "notes": 'back\\slash \\" {"done":false}'},
        {"name": "Café ☕ }{", "quantity": 2, "notes": "\\"},
        {"name": '{"done":true}', "notes": '"'},
    ]
    order = (await new_order(client, workspace, items=tricky))["order"]
    for index in (2, 0):
        resp = await mark(client, workspace, order["id"], index, done=True)
        assert resp.status_code == 200, resp.text
    got = resp.json()["order"]["items"]
    expected = [{"quantity": 1, **item, "done": i != 1} for i, item in enumerate(tricky)]
    assert got == expected


async def test_item_done_on_an_order_stored_without_marks(
    client: Any, workspace: Any, redis: Any
) -> None:
    """An order stored before items carried "done" (and before priorities) reads as normal and
    can be marked: the mark is added to the item."""
    order = await new_order(client, workspace, items=["Bagel", {"name": "Tea", "notes": "x"}])
    key = f"ol:{{{workspace.id}}}:o:{order['order_number']}"
    await redis.hset(
        key, "items", '[{"name":"Bagel","quantity":1},{"name":"Tea","quantity":1,"notes":"x"}]'
    )
    await redis.hdel(key, "pri")
    assert (await mark(client, workspace, order["id"], 0, done=False)).json()["changed"] is False
    resp = await mark(client, workspace, order["id"], 1, done=True)
    assert resp.status_code == 200, resp.text
    got = resp.json()["order"]
    assert got["priority"] == "normal"
    assert got["items"] == [
        {"name": "Bagel", "quantity": 1},
        {"name": "Tea", "quantity": 1, "notes": "x", "done": True},
    ]


async def test_item_done_refusals(client: Any, workspace: Any) -> None:
    """Past the last item is a 404; an index that is not a position or a body without a
    boolean "done" is a 422; a stale version is a 409; an order in a final status keeps its
    marks (409)."""
    oid = (await new_order(client, workspace, items=["Bagel", "Tea"]))["id"]
    assert (
        "Item 2" in assert_error(await mark(client, workspace, oid, 2, done=True), 404)["message"]
    )
    for index in ("-1", "x", "1.0", "100", "٣"):
        assert (
            assert_error(await mark(client, workspace, oid, index, done=True), 422)["field"]
            == "index"
        )
    assert assert_error(await mark(client, workspace, oid, 0), 422)["field"] == "done"
    assert assert_error(await mark(client, workspace, oid, 0, done="yes"), 422)["field"] == "done"
    assert (
        assert_error(await mark(client, workspace, oid, 0, done=True, extra=1), 422)["field"]
        == "extra"
    )
    assert_error(await mark(client, workspace, oid, 0, done=True, version=7), 409)
    await set_status(client, workspace, oid, "completed")
    assert (
        "completed"
        in assert_error(await mark(client, workspace, oid, 0, done=True), 409)["message"]
    )
    assert_error(await mark(client, workspace, "0" * 24, 0, done=True), 404)


async def test_item_done_with_an_idempotency_key_is_applied_once(
    client: Any, workspace: Any
) -> None:
    """A retried mark with its Idempotency-Key gets the first answer (changed, the same
    version) even after the order moved on; the same key with another body is a 422."""
    oid = (await new_order(client, workspace, items=["Bagel", "Tea"]))["id"]
    headers = {
        **workspace.auth(),
        "Idempotency-Key": "mark-1",
        "Content-Type": "application/json",
    }
    url = f"{workspace.base}/orders/{oid}/items/0/done"
    first = await client.post(url, headers=headers, json={"done": True, "version": 1})
    await mark(client, workspace, oid, 0, done=False)
    retry = await client.post(url, headers=headers, content=b'{"version":1, "done":true}')
    assert retry.status_code == 200, retry.text
    assert retry.json() == first.json()
    assert (await client.get(url.rsplit("/items", 1)[0], headers=workspace.auth())).json()["items"][
        0
    ]["done"] is False
    other = await client.post(url, headers=headers, json={"done": False})
    assert assert_error(other, 422)["field"] == "Idempotency-Key"


async def test_recall_clears_item_marks_and_passes_over_them(client: Any, workspace: Any) -> None:
    """A recall undoes the last status change even when items were marked after it, and the
    recalled ticket comes back with no item done."""
    oid = (await new_order(client, workspace, status=WAITING, items=["Bagel", "Tea"]))["id"]
    await set_status(client, workspace, oid, "preparing", actor=CHEF)
    await mark(client, workspace, oid, 0, done=True)
    await prioritise(client, workspace, oid, priority="rush")
    resp = await client.post(
        f"{workspace.base}/orders/{oid}/recall", headers=workspace.auth(), json={"version": 4}
    )
    assert resp.status_code == 200, resp.text
    order = resp.json()["order"]
    assert order["status"] == WAITING
    assert order["priority"] == "rush"
    assert [i["done"] for i in order["items"]] == [False, False]
    last = (await history(client, workspace, oid))[-1]
    assert (last["previous_status"], last["status"]) == ("preparing", WAITING)


async def test_recall_names_the_bump_and_other_stations_marks_do_not_stale_it(
    client: Any, workspace: Any
) -> None:
    """A recall naming the version its bump produced still undoes the bump after other
    stations marked items and changed the priority; a status change after it makes it a 409,
    and so does the recall repeated."""
    oid = (await new_order(client, workspace, status=WAITING, items=["Bagel", "Tea"]))["id"]
    bumped = (await set_status(client, workspace, oid, "preparing", actor=CHEF)).json()["order"]
    await mark(client, workspace, oid, 1, done=True)
    await prioritise(client, workspace, oid, priority="rush")
    url = f"{workspace.base}/orders/{oid}/recall"
    first = await client.post(url, headers=workspace.auth(), json={"version": bumped["version"]})
    assert first.status_code == 200, first.text
    assert first.json()["order"]["status"] == WAITING
    again = await client.post(url, headers=workspace.auth(), json={"version": bumped["version"]})
    assert_error(again, 409)
    moved = (await set_status(client, workspace, oid, "preparing")).json()["order"]
    await set_status(client, workspace, oid, "waiting_for_pickup")
    stale = await client.post(url, headers=workspace.auth(), json={"version": moved["version"]})
    assert "not " + str(moved["version"]) in assert_error(stale, 409)["message"]


async def test_kitchen_writes_need_a_key_that_may_change_orders(
    client: Any, workspace: Any
) -> None:
    """A read key and a screen not allowed to bump are refused (403); a screen allowed to bump
    may mark items and set the priority, like a write key."""
    oid = (await new_order(client, workspace, items=["Bagel"]))["id"]
    assert_error(await mark(client, workspace, oid, 0, scope="read", done=True), 403)
    viewer = await screens.paired(client, workspace, station="drinks")
    bumper = await screens.paired(client, workspace, can_bump=True)
    url = f"{workspace.base}/orders/{oid}"
    refused = await client.post(
        f"{url}/items/0/done", headers=screens.bearer(viewer["token"]), json={"done": True}
    )
    assert "may not change orders" in assert_error(refused, 403)["message"]
    for path, body in [("/items/0/done", {"done": True}), ("/priority", {"priority": "rush"})]:
        resp = await client.post(url + path, headers=screens.bearer(bumper["token"]), json=body)
        assert resp.status_code == 200, resp.text
    assert resp.json()["order"]["priority"] == "rush"
