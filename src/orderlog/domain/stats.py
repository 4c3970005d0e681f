"""The stats report: pure functions over order dicts (each with its ``history``). No I/O.

Definitions (docs/search.md repeats them for owners):

- time in a stage: from the history entry that entered a status to the next entry; the current
  status of an order is still open and not counted;
- creation -> ready / completed: from ``created_at`` to the first entry into ``waiting_for_pickup``
  / ``completed``; median (the middle value, or the mean of the two middle ones) and p90
  (nearest rank: the smallest value with at least 90% of values at or below it);
- cancel rate: orders now cancelled / orders in the range;
- leaderboard, per staff member (by user id): orders taken as cashier, orders prepared (they
  entered a preparer status, e.g. ``preparing``, as actor), orders handed over (recipient or actor
  of a ``handed_to`` change), and their median preparation time (from entering the preparer
  status to the order's next status). System actors (POS, Kiosk, ...: ``sys:N``) are not staff:
  they are counted the same way in ``system_actors``, never ranked, and never flagged for bursts
  (a kiosk taking an order every few seconds is doing its job).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from orderlog.domain.model import (
    CANCELLED,
    COMPLETED,
    DEFAULT_WORKFLOW,
    PICKUP,
    ROLE_HANDED_TO,
    ROLE_PREPARER,
    Workflow,
)
from orderlog.domain.workspace import DEFAULTS

DEFAULT_DAYS = 7

Order = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rules:
    """Abuse thresholds (the defaults are the workspace settings' defaults)."""

    fast_seconds: float = DEFAULTS["abuse_fast_seconds"]
    burst_count: int = DEFAULTS["abuse_burst_count"]
    burst_seconds: float = DEFAULTS["abuse_burst_seconds"]
    repeat_count: int = DEFAULTS["abuse_repeat_count"]
    repeat_seconds: float = DEFAULTS["abuse_repeat_seconds"]

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> Rules:
        """The thresholds of a workspace's settings (domain/workspace.py)."""
        return cls(
            fast_seconds=settings["abuse_fast_seconds"],
            burst_count=settings["abuse_burst_count"],
            burst_seconds=settings["abuse_burst_seconds"],
            repeat_count=settings["abuse_repeat_count"],
            repeat_seconds=settings["abuse_repeat_seconds"],
        )


def window(start: int | None, end: int | None, now_ms: int | None = None) -> tuple[int, int]:
    """The report's [from, to) in ms: to defaults to now, from to DEFAULT_DAYS before to."""
    if end is None:
        end = now_ms if now_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
    if start is None:
        start = end - DEFAULT_DAYS * 86_400_000
    return start, end


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def seconds(at: str) -> float:
    """An ISO 8601 time from the store -> epoch seconds."""
    return datetime.fromisoformat(at).timestamp()


def who(participant: dict[str, Any] | None) -> str | None:
    """A participant's id as the indexes know it (``sys:N`` for system actors)."""
    if not participant:
        return None
    if participant.get("system_id") is not None:
        return f"sys:{participant['system_id']}"
    uid = participant.get("user_id")
    return None if uid is None else str(uid)


def stages(order: Order) -> list[tuple[str, float, float | None, dict[str, Any]]]:
    """(status, entered, left or None, history entry) for each history entry, in order."""
    history = order["history"]
    times = [seconds(e["at"]) for e in history]
    return [
        (e["status"], times[i], times[i + 1] if i + 1 < len(times) else None, e)
        for i, e in enumerate(history)
    ]


def stage_seconds(order: Order) -> dict[str, float]:
    """Seconds spent in each status (summed when entered twice); the current one is open."""
    out: dict[str, float] = defaultdict(float)
    for status, entered, left, _ in stages(order):
        if left is not None:
            out[status] += left - entered
    return dict(out)


def reached(order: Order, status: str) -> float | None:
    """Seconds from creation to the first entry into ``status``, or None."""
    for name, entered, _, _ in stages(order):
        if name == status:
            return entered - seconds(order["created_at"])
    return None


def summary(values: Iterable[float]) -> dict[str, Any]:
    """Count, median and p90 of durations in seconds, rounded to milliseconds: the store's
    times have millisecond precision, and the float arithmetic of subtracting them would
    otherwise show as noise (0.004000186920166016)."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "median": None, "p90": None}
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return {
        "count": len(ordered),
        "median": round(statistics.median(ordered), 3),
        "p90": round(p90, 3),
    }


def _ref(order: Order) -> dict[str, Any]:
    return {"id": order["id"], "order_number": order["order_number"]}


def is_system(ident: str) -> bool:
    return ident.startswith("sys:")


def leaderboard(orders: list[Order], workflow: Workflow = DEFAULT_WORKFLOW) -> list[dict[str, Any]]:
    """Every participant who took, prepared or handed over an order, system actors included,
    most active first (``report`` splits staff from system actors)."""
    preparer = {s.name for s in workflow.statuses if s.role == ROLE_PREPARER}
    handing = {s.name for s in workflow.statuses if s.role == ROLE_HANDED_TO}
    names: dict[str, str] = {}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    prep_times: dict[str, list[float]] = defaultdict(list)

    def seen(p: dict[str, Any] | None) -> str | None:
        ident = who(p)
        if ident is not None and p is not None:
            names[ident] = p.get("username", "")
        return ident

    for order in orders:
        cashier = seen(order.get("cashier"))
        if cashier:
            counts[cashier]["taken"] += 1
        prepared: set[str] = set()
        handed: set[str] = set()
        for status, entered, left, entry in stages(order):
            if status in preparer:
                actor = seen(entry.get("actor"))
                if actor:
                    prepared.add(actor)
                    if left is not None:
                        prep_times[actor].append(left - entered)
            if status in handing:
                handed.update(
                    i for i in (seen(entry.get("actor")), seen(entry.get("handed_to"))) if i
                )
        for ident in prepared:
            counts[ident]["prepared"] += 1
        for ident in handed:
            counts[ident]["handed_over"] += 1
    board = [
        {
            "staff_id": ident,
            "username": names[ident],
            "taken": c["taken"],
            "prepared": c["prepared"],
            "handed_over": c["handed_over"],
            "median_preparation_seconds": summary(prep_times[ident])["median"],
        }
        for ident, c in counts.items()
    ]
    board.sort(key=lambda r: (-(r["taken"] + r["prepared"] + r["handed_over"]), r["staff_id"]))
    return board


def bursts(times: list[float], count: int, within: float) -> list[tuple[int, int]]:
    """Index ranges [i, j] of sorted ``times`` where ``count`` or more fall within ``within``
    seconds; overlapping windows merge into one burst."""
    out: list[tuple[int, int]] = []
    i = 0
    for j, t in enumerate(times):
        while t - times[i] > within:
            i += 1
        if j - i + 1 >= count:
            if out and i <= out[-1][1]:
                out[-1] = (out[-1][0], j)
            else:
                out.append((i, j))
    return out


def _grouped_bursts(
    orders: list[Order], field: str, count: int, within: float, label: str
) -> list[dict[str, Any]]:
    by: dict[str, list[Order]] = defaultdict(list)
    for order in orders:
        ident = who(order.get(field))
        if ident is not None and not is_system(ident):
            by[ident].append(order)
    out = []
    for ident, mine in by.items():
        mine.sort(key=lambda o: (seconds(o["created_at"]), o["order_number"]))
        times = [seconds(o["created_at"]) for o in mine]
        for i, j in bursts(times, count, within):
            out.append(
                {
                    label: ident,
                    "username": mine[j][field].get("username", ""),
                    "from": mine[i]["created_at"],
                    "to": mine[j]["created_at"],
                    "orders": [_ref(o) for o in mine[i : j + 1]],
                }
            )
    out.sort(key=lambda b: (b["from"], b[label]))
    return out


def abuse(
    orders: list[Order], rules: Rules, workflow: Workflow = DEFAULT_WORKFLOW
) -> dict[str, Any]:
    preparer = {s.name for s in workflow.statuses if s.role == ROLE_PREPARER}
    self_served = []
    too_fast = []
    for order in orders:
        customer = who(order.get("customer"))
        roles = []
        if customer is not None and who(order.get("cashier")) == customer:
            roles.append("cashier")
        if customer is not None and any(
            status in preparer and who(entry.get("actor")) == customer
            for status, _, _, entry in stages(order)
        ):
            roles.append("preparer")
        if roles:
            self_served.append(_ref(order) | {"customer_id": customer, "roles": roles})
        done = reached(order, COMPLETED)
        if done is not None and done < rules.fast_seconds:
            too_fast.append(_ref(order) | {"seconds": round(done, 3)})
    return {
        "customer_is_staff": self_served,
        "completed_too_fast": too_fast,
        "cashier_bursts": _grouped_bursts(
            orders, "cashier", rules.burst_count, rules.burst_seconds, "staff_id"
        ),
        "repeat_customers": _grouped_bursts(
            orders, "customer", rules.repeat_count, rules.repeat_seconds, "customer_id"
        ),
    }


def report(
    orders: list[Order], rules: Rules, workflow: Workflow = DEFAULT_WORKFLOW
) -> dict[str, Any]:
    """The whole report over ``orders`` (created in the range asked for)."""
    per_hour = Counter(o["created_at"][:13] + ":00:00Z" for o in orders)
    counts = Counter(o["status"] for o in orders)
    ready = [t for t in (reached(o, PICKUP) for o in orders) if t is not None]
    done = [t for t in (reached(o, COMPLETED) for o in orders) if t is not None]
    board = leaderboard(orders, workflow)
    return {
        "orders": len(orders),
        "counts": {
            s: counts[s] for s in (*workflow.names, *sorted(set(counts) - set(workflow.names)))
        },
        "orders_per_hour": [{"hour": h, "orders": per_hour[h]} for h in sorted(per_hour)],
        "created_to_ready_seconds": summary(ready),
        "created_to_completed_seconds": summary(done),
        "cancel_rate": counts[CANCELLED] / len(orders) if orders else None,
        "leaderboard": [row for row in board if not is_system(row["staff_id"])],
        "system_actors": [row for row in board if is_system(row["staff_id"])],
        "abuse": abuse(orders, rules, workflow),
        "rules": asdict(rules),
    }
