"""Roblox Studio's test players (user ids 0, -1, -2...) over raw HTTP, as numbers or strings."""

from __future__ import annotations

from typing import Any

import pytest


async def create(client: Any, ws: Any, customer: dict[str, Any]) -> Any:
    return await client.post(
        f"{ws.base}/orders",
        headers=ws.auth(),
        json={"customer": customer, "actor": {"UserId": -2, "Name": "Player2"}, "items": ["Tea"]},
    )


@pytest.mark.parametrize("uid", [0, -1, "-1", -(2**63 - 1)])
async def test_studio_user_id_at_or_below_zero_is_accepted(
    client: Any, workspace: Any, uid: Any
) -> None:
    """A numeric user id <= 0 (a Studio test player) creates the order, kept as its string id."""
    resp = await create(client, workspace, {"UserId": uid, "Name": "Player1"})
    assert resp.status_code == 201, resp.text
    order = resp.json()["order"]
    assert order["customer"]["user_id"] == str(uid)
    assert order["cashier"]["user_id"] == "-2"


async def test_studio_user_id_number_and_string_are_one_user(client: Any, workspace: Any) -> None:
    """{"UserId": -1} and {"UserId": "-1"} are the same customer to search."""
    for uid in (-1, "-1", 5):
        resp = await create(client, workspace, {"UserId": uid, "Name": "Player1"})
        assert resp.status_code == 201, resp.text
    found = await client.get(
        f"{workspace.base}/orders", headers=workspace.auth("read"), params={"customer_id": "-1"}
    )
    assert found.status_code == 200, found.text
    assert [o["order_number"] for o in found.json()["orders"]] == [2, 1]


@pytest.mark.parametrize("uid", [-(2**63), 2**63, True, -1.5])
async def test_studio_user_id_out_of_range_is_422(client: Any, workspace: Any, uid: Any) -> None:
    """Numbers outside int64 (or not integers) are still refused, naming the field."""
    resp = await create(client, workspace, {"UserId": uid, "Name": "Player1"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "customer.user_id"
