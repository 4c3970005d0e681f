"""Recall: undo an order's last status change within the workspace's recall window. Pure.

A kitchen display's "recall" brings back a ticket bumped by mistake. It is not a normal
transition: the default workflow has no ``waiting_for_pickup -> preparing`` and nothing leaves
``completed``, yet undoing exactly that within a minute is what a cook needs. So a recall is its
own command, allowed only when

- the order's last status change (its history's last entry other than item done marks and
  priority changes, which a recall passes over) is not its creation,
- made at most ``recall_window_seconds`` ago (a workspace setting),
- and nothing changed since but marks: a caller's ``version`` may be the version the change
  being undone produced or any later one reached by marks alone (a bump's recall stays valid
  when another station marks its items), and the write carries the version read here, so a
  change racing the recall makes it a 409 instead of undoing the wrong thing.

(The window is measured with the server process's clock against the history's time, which
Redis's clock wrote; on one host, or with NTP, they agree to well under a second.)

The write goes through the same Lua script as any change (history, indexes, event) with the
workflow check replaced by "the order is still in the status being undone", and keeps the order's
participants: the recall is recorded in the history with its actor and a reason. It also clears
the items' done marks: a recalled ticket comes back to the kitchen to be checked whole again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderlog.domain.model import ChangeStatus, Participant
from orderlog.errors import Conflict


def is_mark(entry: dict[str, Any]) -> bool:
    """Whether a history entry records an item done mark or a priority change (not a status
    change)."""
    return "item" in entry or "priority" in entry


def recall_command(
    order: dict[str, Any],
    now: datetime,
    window_seconds: int,
    actor: Participant | None = None,
    version: int | None = None,
) -> ChangeStatus:
    """The change that undoes ``order``'s last status change (``order`` has its history).

    ``version``, if given, is the order's version the caller means to undo: the version the
    status change produced, or a later one that only marks and priority changes followed. A
    retried or double-tapped recall then fails instead of undoing the recall itself.

    Raises:
        Conflict: nothing to recall, the window has passed, or a status change came after
            ``version``.
    """
    history = [e for e in order.get("history") or () if not is_mark(e)]
    last = history[-1] if history else None
    current_version = int(order["version"])
    if version is not None and version != current_version:
        since = last.get("version") if last else None
        if not isinstance(since, int) or not since <= version <= current_version:
            raise Conflict(
                f"Order {order['order_number']} is at version {current_version}, not {version}."
            )
    if last is None or last.get("previous_status") is None:
        raise Conflict(f"Order {order['order_number']} has no status change to recall.")
    at = datetime.fromisoformat(last["at"])
    age = (now - at).total_seconds()
    if age > window_seconds:
        raise Conflict(
            f"Order {order['order_number']} changed {age:.0f} s ago; it can be recalled "
            f"for {window_seconds} s only."
        )
    current, previous = last["status"], last["previous_status"]
    if current == previous:  # a new recipient (order.updated): no status to go back to
        raise Conflict(
            f"Order {order['order_number']}'s last change kept its status {current!r}; "
            "there is no status change to recall."
        )
    return ChangeStatus(
        order_id=order["id"],
        order_ref=None,
        status=previous,
        actor=actor,
        reason=f"recall: undo of {previous} -> {current}",
        expected_version=current_version,
        undo_of=current,
    )
