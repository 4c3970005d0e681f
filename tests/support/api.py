"""The ingest API as tests call it: sample participants, a new order, a status change, an error
body."""

from __future__ import annotations

from typing import Any

CUSTOMER = {"UserId": 3141592653, "Name": "Alice", "DisplayName": "Ally"}


CASHIER = {"UserId": 7, "Name": "Bob"}


CHEF = {"UserId": 8, "Name": "Carl"}


# A custom workflow: the default one without preparing and finding_new_colleague, with a baking
# step instead (what a PUT /workflow that removes statuses orders may be in looks like).
BAKERY = {
    "statuses": [
        "submitted",
        "waiting_for_preparation",
        "baking",
        "waiting_for_pickup",
        {"name": "completed", "terminal": True},
        {"name": "cancelled", "terminal": True},
    ],
    "transitions": {
        "submitted": ["waiting_for_preparation", "cancelled"],
        "waiting_for_preparation": ["baking", "cancelled"],
        "baking": ["waiting_for_pickup", "cancelled"],
        "waiting_for_pickup": ["completed", "cancelled"],
    },
}


def assert_error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["statusCode"] == status
    assert isinstance(body["error"], str)
    assert body["error"]
    assert isinstance(body["message"], str)
    assert body["message"]
    return body  # type: ignore[no-any-return]


async def new_order(client: Any, ws: Any, **extra: Any) -> dict[str, Any]:
    resp = await client.post(
        f"{ws.base}/orders",
        headers=ws.auth(),
        json={"customer": CUSTOMER, "actor": CASHIER, "items": ["Latte"], **extra},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def set_status(client: Any, ws: Any, order_id: str, status: str, **extra: Any) -> Any:
    return await client.post(
        f"{ws.base}/orders/{order_id}/status", headers=ws.auth(), json={"status": status, **extra}
    )
