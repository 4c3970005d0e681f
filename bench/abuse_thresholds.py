"""What the staff page's abuse flags say about the demo cafe's traffic: the evidence behind the
default burst and repeat thresholds (domain/workspace.py).

    python -m bench.abuse_thresholds [--minutes 120] [--seeds 5]

The demo cafe (orderlog.demo.Cafe, pure and seeded) runs on a virtual clock at several order
rates; its orders are built as the store returns them (participants as stored, a history entry
per status change, a time for each) and the stats report (domain/stats.py) is computed over
them with the old defaults and the current ones. Printed: per rate, the most orders one cashier
took in any sliding 60 s and 300 s window (the median over the seeds, and the range), the
most orders one customer placed in 600 s, and how many cashiers each rule set flags.

The demo's default rate is 6 orders a minute; a rush is taken as up to three times that (18 a
minute: 3 cashiers each ringing an order every 12 s or so, about what a person at a Roblox till
manages). A farming cashier (a script or a friend spamming orders for promotion points) is
modelled by one cashier ringing an order every 5 s for 5 minutes on top of the rush.
"""

from __future__ import annotations

import argparse
import random
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

from orderlog.demo import Cafe
from orderlog.domain import inputs, stats

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
OLD = stats.Rules(fast_seconds=10, burst_count=5, burst_seconds=60, repeat_count=3)
RATES = (6, 9, 12, 18, 30)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")[:-6] + "Z"


def stored(participant: Any) -> dict[str, Any] | None:
    if participant is None:
        return None
    return inputs.participant(participant, "p", system=True).to_json()


def simulate(rate: float, minutes: float, seed: int) -> list[dict[str, Any]]:
    """The demo cafe for ``minutes`` at ``rate`` orders a minute, as stored orders."""
    cafe = Cafe(random.Random(seed), rate=rate)
    orders: dict[int, dict[str, Any]] = {}
    now = 0.0
    while now < minutes * 60:
        for action in list(cafe.due(now)):
            order = _apply(orders, action, now)
            cafe.done(action, now, {"order": order} if order else None)
        now = max(now + 0.01, cafe.next_at())
    return list(orders.values())


def _apply(orders: dict[int, dict[str, Any]], action: Any, now: float) -> dict[str, Any] | None:
    body = action.body
    if action.kind == "create":
        actor = stored(body["actor"])
        order = {
            "id": f"{action.order:024x}",
            "order_number": len(orders) + 1,
            "status": body["status"],
            "customer": stored(body["customer"]),
            "cashier": actor,
            "created_at": at(now),
            "updated_at": at(now),
            "items": body["items"],
            "history": [{"status": body["status"], "at": at(now), "actor": actor}],
        }
        orders[action.order] = order
        return order
    order = orders.get(action.order)
    if order is None or order["status"] in ("completed", "cancelled"):
        return None
    entry = {"status": body["status"], "at": at(now), "actor": stored(body.get("actor"))}
    if body.get("handed_to"):
        entry["handed_to"] = stored(body["handed_to"])
    order["history"].append(entry)
    order["status"] = body["status"]
    order["updated_at"] = at(now)
    return order


def farming(orders: list[dict[str, Any]], start: float = 1800) -> list[dict[str, Any]]:
    """``orders`` plus one cashier ringing an order every 5 s for 5 minutes."""
    cheat = stored({"UserId": 99, "Name": "FarmingFrank"})
    extra = []
    for i in range(60):
        t = start + 5 * i
        customer = stored({"UserId": 1000 + i, "Name": f"Alt{i}"})
        extra.append(
            {
                "id": f"{10**6 + i:024x}",
                "order_number": 10**6 + i,
                "status": "submitted",
                "customer": customer,
                "cashier": cheat,
                "created_at": at(t),
                "updated_at": at(t),
                "items": [{"name": "Latte", "quantity": 1}],
                "history": [{"status": "submitted", "at": at(t), "actor": cheat}],
            }
        )
    return orders + extra


def densest(orders: list[dict[str, Any]], field: str, window: float) -> int:
    """The most orders one non-system participant in ``field`` has within ``window`` seconds."""
    times: dict[str, list[float]] = {}
    for order in orders:
        ident = stats.who(order.get(field))
        if ident is not None and not stats.is_system(ident):
            times.setdefault(ident, []).append(stats.seconds(order["created_at"]))
    best = 0
    for series in times.values():
        series.sort()
        i = 0
        for j, t in enumerate(series):
            while t - series[i] > window:
                i += 1
            best = max(best, j - i + 1)
    return best


def flagged(orders: list[dict[str, Any]], rules: stats.Rules) -> tuple[int, int]:
    """(cashiers flagged for a burst, customers flagged as repeats)."""
    abuse = stats.abuse(orders, rules)
    return (
        len({b["staff_id"] for b in abuse["cashier_bursts"]}),
        len({b["customer_id"] for b in abuse["repeat_customers"]}),
    )


def spread(values: list[int]) -> str:
    return f"{statistics.median(values):g} ({min(values)}-{max(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=120)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    new = stats.Rules.of({f"abuse_{k}": v for k, v in _defaults().items()})
    print(f"demo cafe, {args.minutes:g} min per run, {args.seeds} seeds; medians (range)")
    print(f"old rules: {OLD}\nnew rules: {new}\n")
    head = ("orders/min", "max/cashier 60s", "max/cashier 300s", "max/customer 600s",
            "flagged old", "flagged new", "farmer flagged new")  # fmt: skip
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for rate in RATES:
        runs = [simulate(rate, args.minutes, seed) for seed in range(1, args.seeds + 1)]
        old = [flagged(r, OLD) for r in runs]
        now = [flagged(r, new) for r in runs]
        farmer = [flagged(farming(r), new)[0] - flagged(r, new)[0] for r in runs]
        row = (
            f"{rate}",
            spread([densest(r, "cashier", 60) for r in runs]),
            spread([densest(r, "cashier", 300) for r in runs]),
            spread([densest(r, "customer", 600) for r in runs]),
            f"{spread([b for b, _ in old])} cashiers, {spread([c for _, c in old])} customers",
            f"{spread([b for b, _ in now])} cashiers, {spread([c for _, c in now])} customers",
            f"{sum(farmer)}/{len(farmer)} runs",
        )
        print(" | ".join(row))


def _defaults() -> dict[str, int]:
    from orderlog.domain.workspace import DEFAULTS

    return {k.removeprefix("abuse_"): v for k, v in DEFAULTS.items() if k.startswith("abuse_")}


if __name__ == "__main__":
    main()
