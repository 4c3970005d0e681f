"""The event stream reader: pages and snapshots against a real Redis, and the bounds that decide
whether reading on after a position can be gap-free (pure)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from orderlog.domain import inputs
from orderlog.domain.model import DEFAULT_WORKFLOW
from orderlog.store.events import Bounds, EventStream, parse_id

ORDER = {"customer": {"user_id": 1, "username": "Alice"}, "items": ["Latte"]}


@pytest.mark.parametrize(
    ("bounds", "position", "problem"),
    [
        (Bounds(b"e", (5, 0), (9, 0)), (b"e", (5, 0)), None),
        (Bounds(b"e", (5, 0), (9, 0)), (b"e", (9, 0)), None),
        (Bounds(b"e", (5, 0), (9, 0)), (b"e", (4, 9)), "expired"),  # trimmed
        (Bounds(b"e", (5, 0), (9, 0), intact=True), (b"e", (0, 0)), None),  # never trimmed
        (Bounds(b"e", (5, 0), (9, 0)), (b"e", (9, 1)), "unknown_cursor"),
        (Bounds(b"e", (5, 0), (9, 0)), (b"f", (6, 0)), "epoch"),
        (Bounds(None, None, (0, 0), intact=True), (b"e", (0, 0)), "epoch"),  # the data was lost
        (Bounds(b"e", None, (0, 0), intact=True), (b"e", (0, 0)), None),  # empty, new
    ],
)
def test_events_bounds_decide_what_can_be_resumed(
    bounds: Bounds, position: tuple[bytes, tuple[int, int]], problem: str | None
) -> None:
    """Same epoch, not beyond the end, nothing after the position trimmed; otherwise a reason."""
    assert bounds.problem(*position) == problem


async def test_events_page_reads_entries_after_a_position_with_the_bounds(
    state: Any, workspace: Any
) -> None:
    """A page holds the entries after the position (exclusive), up to ``count``, each with its
    status and event tail, and the stream's bounds read with them."""
    stream = EventStream(state.redis, state.orders.keys)
    ids = []
    for _ in range(3):
        created = await state.orders.create(
            workspace.id, inputs.create_order(ORDER), DEFAULT_WORKFLOW
        )
        ids.append(created.id)
    bounds, entries = await stream.page(workspace.id, (0, 0))
    assert [e.status for e in entries] == [b"submitted"] * 3
    tails = [orjson.loads(b"{" + e.rest) for e in entries]
    assert [t["order"]["id"] for t in tails] == ids
    assert {t["event"] for t in tails} == {"order.created"}
    assert bounds.epoch is not None
    assert bounds.first == parse_id(entries[0].id)
    assert bounds.last == parse_id(entries[-1].id)
    assert bounds.problem(bounds.epoch, (0, 0)) is None

    _, first_two = await stream.page(workspace.id, (0, 0), count=2)
    assert first_two == entries[:2]
    _, rest = await stream.page(workspace.id, parse_id(entries[1].id))
    assert rest == entries[2:]


async def test_events_snapshot_reads_orders_in_statuses_by_number(
    state: Any, workspace: Any
) -> None:
    """A snapshot gives the orders in the statuses asked for, by order number, with the bounds
    whose last entry is the newest event; without statuses, the bounds alone."""
    stream = EventStream(state.redis, state.orders.keys)
    for _ in range(3):
        await state.orders.create(workspace.id, inputs.create_order(ORDER), DEFAULT_WORKFLOW)
    bounds, orders = await stream.snapshot(workspace.id, ["submitted"])
    assert [orjson.loads(o)["order_number"] for o in orders] == [1, 2, 3]
    _, entries = await stream.page(workspace.id, (0, 0))
    assert bounds.last == parse_id(entries[-1].id)
    assert (await stream.snapshot(workspace.id))[1] == []
    assert (await stream.snapshot(workspace.id, ["completed"]))[1] == []
