"""User ids beyond 2^53 - 1 (what a JavaScript number holds exactly) come back as strings, in
every answer and live event; smaller ones stay numbers."""

from __future__ import annotations

from typing import Any

import pytest

from orderlog.domain.model import JS_SAFE_INTEGER

BIG = 2**53 + 1  # a double rounds it to 2^53: JSON.parse would show ...992


@pytest.mark.parametrize("sent", [BIG, str(BIG)])
async def test_user_ids_past_2_53_come_back_as_strings(
    client: Any, workspace: Any, redis: Any, sent: Any
) -> None:
    """An id past 2^53 - 1, sent as a number or a string, is a string in the create answer, the
    order, its history, the live event, search and stats; it still finds the order."""
    resp = await client.post(
        f"{workspace.base}/orders",
        headers=workspace.auth(),
        json={"customer": {"UserId": sent, "Name": "big"}, "actor": {"UserId": BIG, "Name": "c"}},
    )
    assert resp.status_code == 201, resp.text
    assert f'"user_id":"{BIG}"'.encode() in resp.content
    assert f'"user_id":{BIG}'.encode() not in resp.content
    oid = resp.json()["id"]
    got = await client.get(f"{workspace.base}/orders/{oid}", headers=workspace.auth("read"))
    order = got.json()
    assert order["customer"]["user_id"] == str(BIG)
    assert order["history"][0]["actor"]["user_id"] == str(BIG)
    (_, fields), *_ = await redis.xrevrange(f"ol:{{{workspace.id}}}:events", count=1)
    assert f'"user_id":"{BIG}"'.encode() in fields[b"f"]
    for params in ({"customer_id": str(BIG)}, {"staff_id": str(BIG)}):
        found = await client.get(
            f"{workspace.base}/orders", headers=workspace.auth("read"), params=params
        )
        assert [o["id"] for o in found.json()["orders"]] == [oid]
    stats = (await client.get(f"{workspace.base}/stats", headers=workspace.auth("read"))).json()
    assert stats["leaderboard"][0]["staff_id"] == str(BIG)


async def test_user_ids_up_to_2_53_stay_numbers(client: Any, workspace: Any) -> None:
    """2^53 - 1 and smaller ids are JSON numbers, as before (clients comparing numbers keep
    working)."""
    for uid in (JS_SAFE_INTEGER, 261):
        resp = await client.post(
            f"{workspace.base}/orders",
            headers=workspace.auth(),
            json={"customer": {"UserId": uid, "Name": "n"}},
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["order"]["customer"]["user_id"] == uid
