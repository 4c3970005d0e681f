"""Statuses, workflows and participants: the pure core. No I/O here.

A workflow is a set of statuses and the transitions between them. The default one follows the
Hyra Order Logging API::

    submitted -> waiting_for_preparation -> preparing -> waiting_for_pickup -> handed_to
              -> completed
    (any of these may skip forward)
    preparing <-> finding_new_colleague -> waiting_for_preparation
    any non-terminal status -> cancelled;  nothing leaves completed or cancelled

Re-sending the current status is an idempotent no-op, decided by the store (it alone knows the
current status at the moment of the write), with one exception: a status with the ``handed_to``
role re-sent with another recipient records the new recipient (a history entry and an
``order.updated`` event), as a correction must not be dropped silently. ``Workflow.sources``
gives the store the statuses that may move to a target.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orderlog.errors import InvalidInput

SUBMITTED = "submitted"
WAITING = "waiting_for_preparation"
PREPARING = "preparing"
FINDING = "finding_new_colleague"
PICKUP = "waiting_for_pickup"
HANDED_TO = "handed_to"
COMPLETED = "completed"
CANCELLED = "cancelled"

# The role a status gives the actor (or the recipient) of the change that enters it.
ROLE_PREPARER = "preparer"
ROLE_HANDED_TO = "handed_to"
ROLE_CASHIER = "cashier"
ROLES = (ROLE_CASHIER, ROLE_PREPARER, ROLE_HANDED_TO)

# The largest integer a JavaScript number (a double) holds exactly: user ids beyond it go out as
# strings, so a browser's JSON.parse keeps every digit.
JS_SAFE_INTEGER = 2**53 - 1

# Roblox system actors, as the seed module numbers them.
SYSTEM_ACTORS = {1: "POS", 2: "Kiosk", 3: "Mobile Ordering", 4: "NPC"}

STATUS_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_STATUSES = 32


@dataclass(frozen=True, slots=True)
class Status:
    name: str
    label: str
    terminal: bool = False
    role: str | None = None  # ROLE_PREPARER or ROLE_HANDED_TO: who the change records

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "terminal": self.terminal}
        if self.role:
            out["role"] = self.role
        return out


@dataclass(frozen=True, slots=True)
class Workflow:
    """Statuses in board order, the allowed moves, and the statuses an order may start in."""

    statuses: tuple[Status, ...]
    transitions: Mapping[str, frozenset[str]]
    initial: frozenset[str]
    default_status: str
    custom: bool = False
    # How many times the workspace's workflow was changed when this one was read: a write
    # checked against it is refused by the store if it changed since (store/write.lua).
    version: int = field(default=0, compare=False)
    _by_name: Mapping[str, Status] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {s.name: s for s in self.statuses})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.statuses)

    @property
    def active(self) -> tuple[str, ...]:
        """Statuses an order can still leave: what a live board shows."""
        return tuple(s.name for s in self.statuses if not s.terminal)

    def status(self, name: str) -> Status:
        try:
            return self._by_name[name]
        except KeyError:
            raise InvalidInput(
                "status", f"unknown status {name!r}; expected one of {', '.join(self.names)}"
            ) from None

    def role_of(self, name: str) -> str | None:
        return self.status(name).role

    def allows(self, current: str, target: str) -> bool:
        return current == target or target in self.transitions.get(current, frozenset())

    def sources(self, target: str) -> frozenset[str]:
        """The statuses from which ``target`` may be entered (itself included: a no-op)."""
        self.status(target)
        return frozenset(s for s in self.names if self.allows(s, target))

    def check_initial(self, status: str) -> None:
        self.status(status)
        if status not in self.initial:
            raise InvalidInput(
                "status", f"an order cannot start as {status!r}; allowed: {sorted(self.initial)}"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "statuses": [s.to_json() for s in self.statuses],
            "transitions": {
                s.name: [t for t in self.names if t in self.transitions.get(s.name, ())]
                for s in self.statuses
            },
            "initial": [n for n in self.names if n in self.initial],
            "default_status": self.default_status,
            "custom": self.custom,
        }


def _default_workflow() -> Workflow:
    forward = [SUBMITTED, WAITING, PREPARING, PICKUP, HANDED_TO, COMPLETED]
    labels = {
        SUBMITTED: "Submitted",
        WAITING: "Waiting",
        PREPARING: "Preparing",
        FINDING: "Finding a new colleague",
        PICKUP: "Ready for pickup",
        HANDED_TO: "Handed over",
        COMPLETED: "Completed",
        CANCELLED: "Cancelled",
    }
    moves: dict[str, set[str]] = {name: set() for name in labels}
    for i, name in enumerate(forward):
        moves[name].update(forward[i + 1 :])
    moves[PREPARING].add(FINDING)
    moves[FINDING].update({PREPARING, WAITING})
    for name in moves:
        if name not in (COMPLETED, CANCELLED):
            moves[name].add(CANCELLED)
    order = [SUBMITTED, WAITING, PREPARING, FINDING, PICKUP, HANDED_TO, COMPLETED, CANCELLED]
    roles = {PREPARING: ROLE_PREPARER, HANDED_TO: ROLE_HANDED_TO}
    statuses = tuple(
        Status(n, labels[n], terminal=n in (COMPLETED, CANCELLED), role=roles.get(n)) for n in order
    )
    return Workflow(
        statuses=statuses,
        transitions={k: frozenset(v) for k, v in moves.items()},
        initial=frozenset(order),
        default_status=SUBMITTED,
    )


DEFAULT_WORKFLOW = _default_workflow()


def parse_workflow(data: Any) -> Workflow:
    """Validate a workflow sent to ``PUT /workflow``; raises InvalidInput naming the field."""
    if not isinstance(data, dict):
        raise InvalidInput("", "the workflow must be a JSON object")
    unknown = set(data) - {"statuses", "transitions", "initial", "default_status", "custom"}
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "unknown field")
    raw_statuses = data.get("statuses")
    if not isinstance(raw_statuses, list) or not raw_statuses:
        raise InvalidInput("statuses", "must be a non-empty array")
    if len(raw_statuses) > MAX_STATUSES:
        raise InvalidInput("statuses", f"at most {MAX_STATUSES} statuses")
    statuses: list[Status] = []
    for i, raw in enumerate(raw_statuses):
        where = f"statuses[{i}]"
        if isinstance(raw, str):
            raw = {"name": raw}
        if not isinstance(raw, dict):
            raise InvalidInput(where, "must be a status name or an object")
        name = raw.get("name")
        if not isinstance(name, str) or not STATUS_NAME.fullmatch(name):
            raise InvalidInput(f"{where}.name", "must match [a-z][a-z0-9_]{0,31}")
        if name in (s.name for s in statuses):
            raise InvalidInput(f"{where}.name", f"duplicate status {name!r}")
        label = raw.get("label", name.replace("_", " ").capitalize())
        if not isinstance(label, str) or not 0 < len(label) <= 64:
            raise InvalidInput(f"{where}.label", "must be a string of 1 to 64 characters")
        terminal = raw.get("terminal", False)
        if not isinstance(terminal, bool):
            raise InvalidInput(f"{where}.terminal", "must be true or false")
        role = raw.get(
            "role",
            DEFAULT_WORKFLOW._by_name[name].role if name in DEFAULT_WORKFLOW._by_name else None,
        )
        if role not in (None, ROLE_PREPARER, ROLE_HANDED_TO):
            raise InvalidInput(f"{where}.role", "must be null, 'preparer' or 'handed_to'")
        statuses.append(Status(name, label, terminal, role))
    names = [s.name for s in statuses]
    raw_moves = data.get("transitions")
    if not isinstance(raw_moves, dict):
        raise InvalidInput("transitions", "must be an object: status -> array of statuses")
    moves: dict[str, frozenset[str]] = {}
    for src, targets in raw_moves.items():
        if src not in names:
            raise InvalidInput(f"transitions.{src}", "unknown status")
        if not isinstance(targets, list) or any(t not in names for t in targets):
            raise InvalidInput(f"transitions.{src}", "must be an array of known statuses")
        moves[src] = frozenset(t for t in targets if t != src)
    for s in statuses:
        if s.terminal and moves.get(s.name):
            raise InvalidInput(f"transitions.{s.name}", "a terminal status cannot be left")
    if not any(s.terminal for s in statuses):
        raise InvalidInput("statuses", "at least one status must be terminal")
    initial = data.get("initial", names)
    if not isinstance(initial, list) or not initial or any(n not in names for n in initial):
        raise InvalidInput("initial", "must be a non-empty array of known statuses")
    default_status = data.get("default_status", initial[0])
    if not isinstance(default_status, str) or default_status not in initial:
        raise InvalidInput("default_status", "must be one of the initial statuses")
    return Workflow(
        statuses=tuple(statuses),
        transitions={n: moves.get(n, frozenset()) for n in names},
        initial=frozenset(initial),
        default_status=default_status,
        custom=True,
    )


@dataclass(frozen=True, slots=True)
class WorkflowChange:
    """What replacing a workflow does to the orders. ``removed``: the statuses orders can be in
    (the old workflow's active ones) that the new one lacks; ``moves``: where the request moves
    the orders of each (the others must have none). Orders in a removed final status are
    finished: they keep it."""

    removed: tuple[str, ...]
    moves: Mapping[str, str]


def plan_change(old: Workflow, new: Workflow, migrate: Any) -> WorkflowChange:
    """The change from ``old`` to ``new`` with a request's ``migrate`` ({removed status: status
    of the new workflow}, or None); raises InvalidInput naming the wrong entry."""
    removed = tuple(s.name for s in old.statuses if not s.terminal and s.name not in new.names)
    if migrate is None or migrate == []:  # ([]: Roblox's empty table)
        migrate = {}
    if not isinstance(migrate, dict):
        raise InvalidInput(
            "migrate", "must be an object: removed status -> status of the new workflow"
        )
    moves: dict[str, str] = {}
    for source, target in migrate.items():
        where = f"migrate.{source}"
        if source not in removed:
            if source in new.names:
                problem = "stays in the new workflow: its orders keep it"
            elif source in old.names:
                problem = "is a final status: its orders are finished and keep it"
            else:
                problem = "is not a status of the current workflow"
            raise InvalidInput(where, problem)
        if not isinstance(target, str) or target not in new.names:
            raise InvalidInput(
                where, f"must be a status of the new workflow: {', '.join(new.names)}"
            )
        moves[source] = target
    return WorkflowChange(removed, moves)


def tokens(texts: Iterable[str]) -> list[str]:
    """Lower-case words for the free-text index: usernames, display names, item names and
    notes."""
    seen: dict[str, None] = {}
    for text in texts:
        for word in re.findall(r"[^\W_]+", text.lower()):
            if len(word) <= 32:
                seen[word] = None
    return list(seen)


@dataclass(frozen=True, slots=True)
class Participant:
    """A customer or a staff member (a Roblox player), or a system actor (POS, Kiosk, ...)."""

    username: str
    user_id: int | str | None = None
    display_name: str | None = None
    system_id: int | None = None

    @classmethod
    def system(cls, system_id: int) -> Participant:
        name = SYSTEM_ACTORS[system_id]
        return cls(username=name, display_name=name, system_id=system_id)

    @property
    def index_id(self) -> str:
        """The id the staff and customer indexes know this participant by."""
        return f"sys:{self.system_id}" if self.system_id is not None else str(self.user_id)

    def to_json(self) -> dict[str, Any]:
        uid = self.user_id
        if isinstance(uid, int) and abs(uid) > JS_SAFE_INTEGER:
            uid = str(uid)
        out: dict[str, Any] = {
            "user_id": uid,
            "username": self.username,
            "display_name": self.display_name or self.username,
        }
        if self.system_id is not None:
            out["system_id"] = self.system_id
        return out

    def words(self) -> list[str]:
        return [self.username, self.display_name or ""]


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    quantity: int = 1
    notes: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "quantity": self.quantity}
        if self.notes:
            out["notes"] = self.notes
        return out


# -- commands: what a request asks the store to do (domain/inputs.py builds them) ----------------
Ref = str | int  # a batch op's ref, as the client sent it


def ref_key(ref: Ref | None) -> str | None:
    """What refs match by: their text without surrounding blanks (1 and "1" are one ref)."""
    return None if ref is None else str(ref).strip()


@dataclass(frozen=True, slots=True)
class CreateOrder:
    customer: Participant
    actor: Participant | None
    items: tuple[Item, ...]
    status: str | None
    metadata: dict[str, Any]
    ref: Ref | None = None


@dataclass(frozen=True, slots=True)
class ChangeStatus:
    order_id: str | None  # the order, by id ...
    order_ref: str | None  # ... or by the ref_key of a create earlier in the same batch
    status: str
    actor: Participant | None = None
    handed_to: Participant | None = None
    reason: str | None = None
    expected_version: int | None = None
    ref: Ref | None = None
    # A recall (domain/recall.py): leave only this status, whatever the workflow says, and keep
    # the order's participants (the change records no role).
    undo_of: str | None = None


Command = CreateOrder | ChangeStatus
