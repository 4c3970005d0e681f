"""A small, hand-checked order log for the search, CSV and stats tests."""

from __future__ import annotations

from typing import Any

from orderlog.domain import inputs
from orderlog.domain.model import DEFAULT_WORKFLOW

ALICE = {"user_id": 101, "username": "Alice", "display_name": "Ally"}
ERIN = {"user_id": 102, "username": "Erin"}
BOB = {"user_id": 7, "username": "Bob"}
CARL = {"user_id": 8, "username": "Chef_Carl"}
DANA = {"user_id": 9, "username": "Dana"}

# (customer, cashier, items, then the status changes as (status, extra fields))
ORDERS: list[tuple[Any, Any, list[Any], list[tuple[str, dict[str, Any]]]]] = [
    (
        ALICE,
        BOB,
        ["Latte"],
        [("preparing", {"actor": CARL}), ("waiting_for_pickup", {}), ("completed", {})],
    ),
    (ERIN, DANA, ["Muffin", "Latte"], [("cancelled", {})]),
    (
        ALICE,
        DANA,
        [{"name": "Iced Tea", "quantity": 2}],
        [("preparing", {"actor": DANA}), ("handed_to", {"actor": DANA, "handed_to": BOB})],
    ),
    (ERIN, BOB, ["Muffin"], []),
    (ALICE, 1, ["Latte"], [("waiting_for_preparation", {})]),  # 1 = the POS system actor
]


async def load(store: Any, workspace_id: str, orders: list[Any] = ORDERS) -> list[str]:
    """Write the orders (numbered from 1 in this order); return their ids."""
    ids = []
    for customer, cashier, items, changes in orders:
        command = inputs.create_order({"customer": customer, "actor": cashier, "items": items})
        result = await store.create(workspace_id, command, DEFAULT_WORKFLOW)
        for status, extra in changes:
            change = inputs.change_status({"status": status, **extra}, result.id)
            await store.change_status(workspace_id, change, DEFAULT_WORKFLOW)
        ids.append(result.id)
    return ids
