"""Commands -> the flat ARGV of write.lua. Pure.

The legend both sides read: the names below are the only place ARGV positions are spelled.
scripts.py renders them into the Lua source (``{{ARGV_HEAD}}``, ``{{ARGV_CREATE}}``,
``{{ARGV_CHANGE}}``, ``{{ARGV_OPEN}}``, ``{{ARGV_PRIORITY}}``, ``{{ARGV_ITEM}}``, ``{{OPW}}``), so
write.lua names
every position it reads (``ARGV[H.maxlen]``, ``ARGV[o + C.customer]``). ARGV is the request's
HEAD fields, then OPW fields per op: field 0 of an op is its kind ('c' create, 's' status
change, 'p' priority, 'i' item done mark).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from orderlog.domain.model import (
    ChangeStatus,
    Command,
    CreateOrder,
    MarkItem,
    Participant,
    SetPriority,
    Workflow,
    ref_key,
    tokens,
)
from orderlog.errors import InvalidInput

# The request: ARGV[1..] in this order.
HEAD = (
    "workspace",  # the workspace id (it goes into every order's JSON)
    "order_prefix",  # keys.order_prefix: + order number = the order's hash
    "index_prefix",  # keys.index_prefix: + an INDEX_SUFFIXES suffix = an index
    "maxlen",  # the event stream's MAXLEN (approximate)
    "idem_hash",  # the request's hash under its Idempotency-Key ('' = no key)
    "idem_ttl",  # seconds the idempotent answer is kept
    "publish",  # PUBLISH, or SPUBLISH on a cluster
    "ops",  # how many ops follow
    "rate_interval",  # the caller's rate limit: emission interval in us (0 = none) ...
    "rate_burst",  # ... and burst
    "confirm",  # '1': a replayed answer rewrites its record, so a WAIT after it covers the write
    "workflow_version",  # the version of the workflow the ops were checked against
)
# A participant is three fields: its JSON, the id the indexes know it by, its lower-case name.
CREATE = (
    "kind",
    "id",  # the new order's id
    "status",  # its first status
    "customer",
    "customer_id",
    "customer_name",
    "actor",  # the cashier (may be empty)
    "actor_id",
    "actor_name",
    "items",  # the items' JSON
    "item_names",  # lower-case item names, SEP-joined (the item index)
    "words",  # lower-case words for the free-text index, SEP-joined
    "metadata",  # the metadata's JSON
    "priority",  # normal or rush
)
CHANGE = (
    "kind",
    "id",  # the order's id ('' when it is named by ref_op)
    "status",  # the target status
    "ref_op",  # ... or the number of an earlier create op of this request
    "sources",  # the statuses the target may be entered from, SEP-joined
    "role",  # the role the target gives its actor ('' none, preparer, handed_to)
    "actor",
    "actor_id",
    "actor_name",
    "handed_to",  # the recipient of a handed_to change (another one for an order already
    # handed_to is a change of its own, not a no-op: write.lua's change())
    "handed_to_id",
    "handed_to_name",
    "reason",  # the reason's JSON string ('' none)
    "version",  # the version the order must be at ('' any)
    "words",
    "clear_done",  # '1': clear the items' done marks (a recall)
)
# The ops that change an open order but not its status start alike: the order (by id or ref_op,
# as in a status change), the statuses it may be in (the workflow's active ones), the actor's
# JSON and the version it must be at.
OPEN = ("kind", "id", "ref_op", "sources", "actor", "version")
PRIORITY = (*OPEN, "priority")  # normal or rush
ITEM = (*OPEN, "index", "done")  # the item's position (from 0); '1' done, '0' not done
OPW = 16  # fields per op: the longest op's
assert max(map(len, (CREATE, CHANGE, PRIORITY, ITEM))) <= OPW
SEP = "\x1f"  # never inside a field: domain/inputs.py rejects control characters
_HEAD_NAMES = frozenset(HEAD)
_NAMES: dict[tuple[str, ...], frozenset[str]] = {
    names: frozenset(names) for names in (CREATE, CHANGE, PRIORITY, ITEM)
}
_PADDING = {n: [""] * (OPW - n) for n in range(OPW + 1)}  # empty fields after an op's own


def lua_positions(names: tuple[str, ...], base: int = 0) -> str:
    """A Lua table literal ``{name = position, ...}`` (positions from ``base``)."""
    return "{" + ", ".join(f"{n} = {base + i}" for i, n in enumerate(names)) + "}"


def request(op_fields: list[str], **head: Any) -> list[Any]:
    """The whole ARGV: ``head`` by HEAD's names, then the ops' fields (from ``encode``)."""
    if head.keys() != _HEAD_NAMES:
        raise TypeError(f"write.lua's head needs exactly {HEAD}, not {sorted(head)}")
    return [*(head[n] for n in HEAD), *op_fields]


def _op(names: tuple[str, ...], **fields: str) -> list[str]:
    assert fields.keys() == _NAMES[names], set(fields) ^ set(names)
    return [fields[n] for n in names] + _PADDING[len(names)]


def _participant(p: Participant | None, role: str) -> dict[str, str]:
    if p is None:
        return {role: "", f"{role}_id": "", f"{role}_name": ""}
    return {
        role: orjson.dumps(p.to_json()).decode(),
        f"{role}_id": p.index_id,
        f"{role}_name": p.username.lower(),
    }


def encode_create(cmd: CreateOrder, order_id: str, workflow: Workflow, where: str) -> list[str]:
    status = cmd.status or workflow.default_status
    try:
        workflow.check_initial(status)
    except InvalidInput as exc:
        raise InvalidInput(_at(where, "status"), exc.problem) from None
    words = [
        *cmd.customer.words(),
        *(cmd.actor.words() if cmd.actor else []),
        *(i.name for i in cmd.items),
        *(i.notes for i in cmd.items if i.notes),  # "oat milk" finds the orders noting it
    ]
    return _op(
        CREATE,
        kind="c",
        id=order_id,
        status=status,
        **_participant(cmd.customer, "customer"),
        **_participant(cmd.actor, "actor"),
        items=orjson.dumps([i.to_json() for i in cmd.items]).decode(),
        item_names=SEP.join(dict.fromkeys(i.name.lower() for i in cmd.items)),
        words=SEP.join(tokens(words)),
        metadata=orjson.dumps(cmd.metadata).decode(),
        priority=cmd.priority,
    )


def encode_change(
    cmd: ChangeStatus, workflow: Workflow, refs: dict[str, int], where: str
) -> list[str]:
    try:
        sources = workflow.sources(cmd.status)
    except InvalidInput as exc:
        raise InvalidInput(_at(where, "status"), exc.problem) from None
    role = workflow.role_of(cmd.status) or ""
    if cmd.undo_of is not None:
        sources, role = frozenset({cmd.undo_of}), ""
    words = [
        *(cmd.actor.words() if cmd.actor else []),
        *(cmd.handed_to.words() if cmd.handed_to else []),
    ]
    return _op(
        CHANGE,
        kind="s",
        id=cmd.order_id or "",
        status=cmd.status,
        ref_op=str(refs[cmd.order_ref]) if cmd.order_ref is not None else "",
        sources=SEP.join(sorted(sources)),
        role=role,
        **_participant(cmd.actor, "actor"),
        **_participant(cmd.handed_to, "handed_to"),
        reason=orjson.dumps(cmd.reason).decode() if cmd.reason else "",
        version="" if cmd.expected_version is None else str(cmd.expected_version),
        words=SEP.join(tokens(words)),
        clear_done="1" if cmd.undo_of is not None else "",
    )


def _open_order(
    cmd: SetPriority | MarkItem, workflow: Workflow, refs: dict[str, int]
) -> dict[str, str]:
    """The fields every op on an open order shares."""
    return {
        "id": cmd.order_id or "",
        "ref_op": str(refs[cmd.order_ref]) if cmd.order_ref is not None else "",
        "sources": SEP.join(workflow.active),
        "actor": orjson.dumps(cmd.actor.to_json()).decode() if cmd.actor else "",
        "version": "" if cmd.expected_version is None else str(cmd.expected_version),
    }


def encode_priority(cmd: SetPriority, workflow: Workflow, refs: dict[str, int]) -> list[str]:
    return _op(PRIORITY, kind="p", priority=cmd.priority, **_open_order(cmd, workflow, refs))


def encode_item(cmd: MarkItem, workflow: Workflow, refs: dict[str, int]) -> list[str]:
    return _op(
        ITEM,
        kind="i",
        index=str(cmd.index),
        done="1" if cmd.done else "0",
        **_open_order(cmd, workflow, refs),
    )


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def encode(
    commands: list[Command], workflow: Workflow, new_id: Callable[[], str], *, batch: bool
) -> list[str]:
    """All ops of a request; in a batch, errors name fields as ``operations[i].…``."""
    fields: list[str] = []
    refs: dict[str, int] = {}
    for i, cmd in enumerate(commands):
        where = f"operations[{i}]" if batch else ""
        if isinstance(cmd, CreateOrder):
            fields += encode_create(cmd, new_id(), workflow, where)
        elif isinstance(cmd, ChangeStatus):
            fields += encode_change(cmd, workflow, refs, where)
        elif isinstance(cmd, SetPriority):
            fields += encode_priority(cmd, workflow, refs)
        else:
            fields += encode_item(cmd, workflow, refs)
        key = ref_key(cmd.ref)
        if key is not None:
            refs[key] = i + 1  # write.lua numbers ops from 1
    return fields
