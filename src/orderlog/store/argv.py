"""Commands -> the flat ARGV fields of write.lua (OPW per op). Pure."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from orderlog.domain.inputs import ChangeStatus, Command, CreateOrder
from orderlog.domain.model import Participant, Workflow, tokens
from orderlog.errors import InvalidInput

OPW = 16  # fields per op; write.lua has the same constant
SEP = "\x1f"  # never inside a field: inputs.py rejects control characters


def _participant(p: Participant | None) -> list[str]:
    if p is None:
        return ["", "", ""]
    return [orjson.dumps(p.to_json()).decode(), p.index_id, p.username.lower()]


def _pad(fields: list[str]) -> list[str]:
    assert len(fields) <= OPW
    return fields + [""] * (OPW - len(fields))


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
    ]
    return _pad(
        [
            "c",
            order_id,
            status,
            *_participant(cmd.customer),
            *_participant(cmd.actor),
            orjson.dumps([i.to_json() for i in cmd.items]).decode(),
            SEP.join(dict.fromkeys(i.name.lower() for i in cmd.items)),
            SEP.join(tokens(words)),
            orjson.dumps(cmd.metadata).decode(),
        ]
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
    return _pad(
        [
            "s",
            cmd.order_id or "",
            cmd.status,
            str(refs[cmd.order_ref]) if cmd.order_ref is not None else "",
            SEP.join(sorted(sources)),
            role,
            *_participant(cmd.actor),
            *_participant(cmd.handed_to),
            orjson.dumps(cmd.reason).decode() if cmd.reason else "",
            "" if cmd.expected_version is None else str(cmd.expected_version),
            SEP.join(tokens(words)),
        ]
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
        else:
            fields += encode_change(cmd, workflow, refs, where)
        if cmd.ref is not None:
            refs[cmd.ref] = i + 1  # write.lua numbers ops from 1
    return fields
