"""The stats report: pure figures against hand-computed ones, and GET /stats on a real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderlog.domain import inputs, stats
from orderlog.domain.model import DEFAULT_WORKFLOW
from support.searchdata import load

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")[:-6] + "Z"


def person(uid: int | None, name: str, system_id: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"user_id": uid, "username": name, "display_name": name}
    if system_id is not None:
        out["system_id"] = system_id
    return out


ANN = person(1001, "Ann")
BEN = person(1002, "Ben")
CAT = person(7, "Cat")  # staff
DAN = person(8, "Dan")  # staff
POS = person(None, "POS", system_id=1)


def order(
    n: int,
    created: float,
    steps: list[tuple[str, float, dict[str, Any] | None]],
    customer: dict[str, Any] = ANN,
    cashier: dict[str, Any] | None = CAT,
    handed_to: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An order as the store returns it: steps are (status, seconds after T0, actor)."""
    history = [{"status": "submitted", "at": at(created), "actor": cashier}]
    for status, t, actor in steps:
        entry = {"status": status, "at": at(t), "actor": actor}
        if status == "handed_to" and handed_to:
            entry["handed_to"] = handed_to
        history.append(entry)
    return {
        "id": f"{n:024x}",
        "order_number": n,
        "status": history[-1]["status"],
        "customer": customer,
        "cashier": cashier,
        "created_at": at(created),
        "updated_at": history[-1]["at"],
        "history": history,
        "items": [{"name": "Latte", "quantity": 1}],
    }


# Four orders with round figures (seconds after T0):
#   1: created 0, preparing by Dan at 20, ready at 60, completed at 100
#   2: created 30, preparing by Dan at 40, ready at 150, handed to Cat by Dan at 200, completed 330
#   3: created 3600, cancelled at 3610
#   4: created 3700 by POS, preparing by Cat at 3710, ready at 3730 (still open)
ORDERS = [
    order(
        1, 0, [("preparing", 20, DAN), ("waiting_for_pickup", 60, None), ("completed", 100, None)]
    ),
    order(
        2,
        30,
        [
            ("preparing", 40, DAN),
            ("waiting_for_pickup", 150, None),
            ("handed_to", 200, DAN),
            ("completed", 330, None),
        ],
        customer=BEN,
        handed_to=CAT,
    ),
    order(3, 3600, [("cancelled", 3610, None)]),
    order(
        4,
        3700,
        [("preparing", 3710, CAT), ("waiting_for_pickup", 3730, None)],
        customer=BEN,
        cashier=POS,
    ),
]
QUIET = stats.Rules(fast_seconds=1, burst_count=99, repeat_count=99)


def test_stats_counts_speed_and_cancel_rate() -> None:
    """Counts per status, median/p90 creation -> ready and -> completed, cancel rate."""
    out = stats.report(ORDERS, QUIET)
    assert out["orders"] == 4
    assert out["counts"]["completed"] == 2
    assert out["counts"]["cancelled"] == 1
    assert out["counts"]["waiting_for_pickup"] == 1
    assert out["counts"]["preparing"] == 0
    # ready after 60, 120 (150 - 30) and 30 (3730 - 3700) seconds
    assert out["created_to_ready_seconds"] == {"count": 3, "median": 60, "p90": 120}
    # completed after 100 and 300 (330 - 30) seconds
    assert out["created_to_completed_seconds"] == {"count": 2, "median": 200, "p90": 300}
    assert out["cancel_rate"] == 0.25


def test_stats_orders_per_hour() -> None:
    """Orders are counted in the UTC hour they were created."""
    out = stats.report(ORDERS, QUIET)
    assert out["orders_per_hour"] == [
        {"hour": "2026-11-20T09:00:00Z", "orders": 2},
        {"hour": "2026-11-20T10:00:00Z", "orders": 2},
    ]


def test_stats_leaderboard_per_staff_member() -> None:
    """Taken as cashier, prepared, handed over, and median preparation time per person."""
    board = {row["staff_id"]: row for row in stats.report(ORDERS, QUIET)["leaderboard"]}
    assert board["8"] == {
        "staff_id": "8",
        "username": "Dan",
        "taken": 0,
        "prepared": 2,
        "handed_over": 1,  # the actor of order 2's hand-over
        "median_preparation_seconds": 75,  # preparing 40 s (order 1) and 110 s (order 2)
    }
    assert board["7"] == {
        "staff_id": "7",
        "username": "Cat",
        "taken": 3,
        "prepared": 1,
        "handed_over": 1,  # the recipient of order 2
        "median_preparation_seconds": 20,
    }
    assert [row["staff_id"] for row in stats.report(ORDERS, QUIET)["leaderboard"]] == ["7", "8"]


def test_stats_system_actors_are_counted_apart_and_never_flagged() -> None:
    """POS, Kiosk and the like are listed under system_actors, not ranked among staff, and a
    kiosk taking an order every few seconds is no cashier burst."""
    out = stats.report(ORDERS, QUIET)
    (pos,) = out["system_actors"]
    assert pos["staff_id"] == "sys:1"
    assert pos["taken"] == 1
    kiosk = {"system_id": 2, "user_id": None, "username": "Kiosk", "display_name": "Kiosk"}
    rush = [order(n, n * 3, [], cashier=kiosk) for n in range(1, 21)]
    flagged = stats.report(rush, stats.Rules(burst_count=5, burst_seconds=60))
    assert flagged["abuse"]["cashier_bursts"] == []
    assert flagged["leaderboard"] == []
    assert flagged["system_actors"][0]["taken"] == 20


def test_stats_empty_range() -> None:
    """No orders: zero counts, no figures, no cancel rate."""
    out = stats.report([], QUIET)
    assert out["orders"] == 0
    assert out["cancel_rate"] is None
    assert out["created_to_ready_seconds"] == {"count": 0, "median": None, "p90": None}
    assert out["leaderboard"] == []


def test_stats_flags_customer_who_is_cashier_or_preparer() -> None:
    """An order whose customer took or prepared it is flagged, with the roles."""
    orders = [
        order(1, 0, [("preparing", 5, DAN)], customer=CAT),  # Cat rings up her own order
        order(2, 0, [("preparing", 5, ANN)], customer=ANN),  # Ann prepares her own order
        order(3, 0, [("preparing", 5, DAN)]),
    ]
    flags = stats.abuse(orders, QUIET)["customer_is_staff"]
    assert flags == [
        {"id": f"{1:024x}", "order_number": 1, "customer_id": "7", "roles": ["cashier"]},
        {"id": f"{2:024x}", "order_number": 2, "customer_id": "1001", "roles": ["preparer"]},
    ]


def test_stats_flags_impossibly_fast_completion() -> None:
    """Completed within the threshold after creation is flagged; at the threshold it is not."""
    orders = [
        order(1, 0, [("completed", 4, None)]),
        order(2, 0, [("completed", 10, None)]),
        order(3, 0, [("waiting_for_pickup", 2, None)]),
    ]
    flags = stats.abuse(orders, stats.Rules(fast_seconds=10))["completed_too_fast"]
    assert flags == [{"id": f"{1:024x}", "order_number": 1, "seconds": 4.0}]


def test_stats_flags_cashier_bursts() -> None:
    """Five orders by one cashier within a minute are one burst; slower ones are not."""
    fast = [order(n, n * 10, [], cashier=CAT) for n in range(1, 7)]  # 6 orders in 50 s
    slow = [order(n, n * 30, [], cashier=DAN) for n in range(10, 15)]  # 5 orders in 120 s
    rules = stats.Rules(burst_count=5, burst_seconds=60, repeat_count=99)
    (burst,) = stats.abuse(fast + slow, rules)["cashier_bursts"]
    assert burst["staff_id"] == "7"
    assert burst["username"] == "Cat"
    assert [o["order_number"] for o in burst["orders"]] == [1, 2, 3, 4, 5, 6]
    assert (burst["from"], burst["to"]) == (at(10), at(60))


def test_stats_flags_repeat_customers() -> None:
    """The same customer three times in ten minutes is flagged; twice is not."""
    orders = [
        order(1, 0, [], customer=ANN),
        order(2, 200, [], customer=ANN),
        order(3, 500, [], customer=ANN),
        order(4, 5000, [], customer=ANN),
        order(5, 0, [], customer=BEN),
        order(6, 100, [], customer=BEN),
    ]
    rules = stats.Rules(repeat_count=3, repeat_seconds=600, burst_count=99)
    (repeat,) = stats.abuse(orders, rules)["repeat_customers"]
    assert repeat["customer_id"] == "1001"
    assert [o["order_number"] for o in repeat["orders"]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([], []),
        ([0, 1, 2], [(0, 2)]),
        ([0, 1, 5, 6], [(0, 1), (2, 3)]),
        ([0, 2, 4, 6], [(0, 3)]),  # overlapping windows merge
        ([0, 10, 20], []),
    ],
)
def test_stats_bursts_windows(times: list[float], expected: list[tuple[int, int]]) -> None:
    """Windows of 2 within 3 seconds, merged when they overlap."""
    assert stats.bursts(times, 2, 3) == expected


@pytest.mark.cluster_too
async def test_stats_route_reports_the_stored_orders(
    client: Any, state: Any, workspace: Any
) -> None:
    """GET /stats reads the orders of the range and reports them."""
    await load(state.orders, workspace.id)
    resp = await client.get(f"{workspace.base}/stats", headers=workspace.auth("read"))
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["orders"] == 5
    assert out["counts"] == {
        "submitted": 1,
        "waiting_for_preparation": 1,
        "preparing": 0,
        "finding_new_colleague": 0,
        "waiting_for_pickup": 0,
        "handed_to": 1,
        "completed": 1,
        "cancelled": 1,
    }
    assert out["cancel_rate"] == 0.2
    board = {row["staff_id"]: row for row in out["leaderboard"]}
    assert (board["7"]["taken"], board["7"]["handed_over"]) == (2, 1)
    assert (board["9"]["taken"], board["9"]["prepared"], board["9"]["handed_over"]) == (2, 1, 1)
    assert board["8"]["prepared"] == 1
    assert "sys:1" not in board
    assert [(r["staff_id"], r["taken"]) for r in out["system_actors"]] == [("sys:1", 1)]
    # Order 1 went from creation to completed in milliseconds; Alice ordered 3 times at once.
    assert [f["order_number"] for f in out["abuse"]["completed_too_fast"]] == [1]
    (repeat,) = out["abuse"]["repeat_customers"]
    assert [o["order_number"] for o in repeat["orders"]] == [1, 3, 5]
    assert out["abuse"]["customer_is_staff"] == []
    assert out["range"]["truncated"] is False


async def test_stats_route_range_and_cap(
    client: Any, state: Any, workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """from/to select the orders; past the cap the newest are reported and truncated is set."""
    await load(state.orders, workspace.id)
    url = f"{workspace.base}/stats"
    future = {"from": "2099-01-01T00:00:00Z", "to": "2099-01-02T00:00:00Z"}
    resp = await client.get(url, params=future, headers=workspace.auth("read"))
    assert resp.json()["orders"] == 0
    assert resp.json()["range"]["from"] == "2099-01-01T00:00:00.000Z"
    monkeypatch.setattr("orderlog.http.search.STATS_MAX_ORDERS", 2)
    out = (await client.get(url, headers=workspace.auth("read"))).json()
    assert out["orders"] == 2
    assert out["range"]["truncated"] is True
    assert sum(out["counts"].values()) == 2


async def test_stats_route_rejects_bad_parameters(client: Any, workspace: Any) -> None:
    """Unknown parameters and bad times are 422 naming the parameter; a write key is 403."""
    url = f"{workspace.base}/stats"
    for query, field in [
        ("colour=red", "colour"),
        ("limit=5", "limit"),
        ("from=soon", "from"),
        ("to=x", "to"),
        ("status=baking", "status"),
    ]:
        resp = await client.get(f"{url}?{query}", headers=workspace.auth("read"))
        assert resp.status_code == 422
        assert resp.json()["field"] == field
    assert (await client.get(url, headers=workspace.auth("write"))).status_code == 403


async def test_stats_route_flags_self_service(client: Any, state: Any, workspace: Any) -> None:
    """A cashier ringing up their own order shows in the customer_is_staff flag."""
    me = {"user_id": 55, "username": "Sneaky"}
    command = inputs.create_order({"customer": me, "actor": me, "items": ["Latte"]})
    result = await state.orders.create(workspace.id, command, DEFAULT_WORKFLOW)
    out = (await client.get(f"{workspace.base}/stats", headers=workspace.auth("read"))).json()
    assert out["abuse"]["customer_is_staff"] == [
        {"id": result.id, "order_number": 1, "customer_id": "55", "roles": ["cashier"]}
    ]


async def test_stats_route_takes_the_search_filters(
    client: Any, state: Any, workspace: Any
) -> None:
    """ "What did Dana prepare, how fast?" is one request: the filters narrow the report."""
    await load(state.orders, workspace.id)
    resp = await client.get(
        f"{workspace.base}/stats",
        params={"staff": "DANA", "role": "preparer", "from": "2020-01-01"},
        headers=workspace.auth("read"),
    )
    out = resp.json()
    assert out["orders"] == 1
    assert out["counts"]["handed_to"] == 1
    board = {row["staff_id"]: row for row in out["leaderboard"]}
    assert board["9"]["prepared"] == 1
    assert board["9"]["median_preparation_seconds"] >= 0
    assert out["range"]["from"] == "2020-01-01T00:00:00.000Z"


def test_stats_durations_round_to_milliseconds() -> None:
    """Medians and p90s are whole milliseconds, without float noise (times are ms-precise)."""
    orders = [
        order(1, 0.001, [("preparing", 0.002, DAN), ("waiting_for_pickup", 0.005, DAN)]),
        order(2, 0.1, [("preparing", 0.2, DAN), ("waiting_for_pickup", 0.3, DAN)]),
        order(3, 1.0, [("preparing", 1.5, DAN), ("waiting_for_pickup", 2.0, DAN)]),
    ]
    assert stats.reached(orders[1], "waiting_for_pickup") != 0.2  # the noise rounding removes
    out = stats.report(orders, stats.Rules())
    ready = out["created_to_ready_seconds"]
    assert ready == {"count": 3, "median": 0.2, "p90": 1.0}
    (dan,) = (r for r in out["leaderboard"] if r["staff_id"] == "8")
    assert dan["median_preparation_seconds"] == 0.1
    for value in (ready["median"], ready["p90"], dan["median_preparation_seconds"]):
        assert len(repr(value).split(".")[1]) <= 3
