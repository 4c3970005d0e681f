"""Request bodies -> commands. Pure: every failure is an InvalidInput naming its field.

Accepts what Roblox's ``HttpService:JSONEncode`` produces: ``[]`` where an object is optional (an
empty Lua table), participants as ``{"UserId", "Name", "DisplayName"}``, user ids as numbers or
strings (Roblox ids are int64).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from orderlog.domain.model import (
    NORMAL,
    PRIORITIES,
    SYSTEM_ACTORS,
    ChangeStatus,
    Command,
    CreateOrder,
    Item,
    MarkItem,
    Participant,
    Ref,
    SetPriority,
    ref_key,
)
from orderlog.errors import BadRequest, InvalidInput

MAX_ITEMS = 100
MAX_QUANTITY = 10_000
MAX_NAME = 100
MAX_NOTES = 500
MAX_USERNAME = 50
MAX_METADATA = 4096
MAX_BATCH = 100
MAX_REF = 64
INT64_MAX = 2**63 - 1

STRING_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
ORDER_ID = re.compile(r"^[0-9a-f]{24}$")
# C0 controls (NUL included) and DEL; \t and \n are allowed only in free text (notes, reason).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
CONTROL_STRICT = re.compile(r"[\x00-\x1f\x7f]")


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None


def canonical_json(data: Any) -> bytes:
    """One spelling of a parsed JSON value: keys sorted at every level, no whitespace, one
    escaping of each string (orjson's). Two bodies that parse alike get the same bytes."""
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # nested deeper than orjson writes (a body parses up to 1,024 levels)
        raise InvalidInput("", "is nested too deeply") from None


def _object(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput(where, "must be a JSON object")
    return data


def _only(data: dict[str, Any], allowed: set[str], where: str) -> None:
    for name in data:
        if name not in allowed:
            raise InvalidInput(_join(where, name), "unknown field")


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def text(value: Any, where: str, limit: int, *, free: bool = False, empty: bool = False) -> str:
    # Length and control characters are judged before stripping, as the OpenAPI document states
    # them (maxLength, pattern): str.strip() would also drop \x1c-\x1f at the edges.
    if not isinstance(value, str):
        raise InvalidInput(where, "must be a string")
    if len(value) > limit:
        raise InvalidInput(where, f"must be at most {limit} characters")
    if (CONTROL if free else CONTROL_STRICT).search(value):
        raise InvalidInput(where, "must not contain control characters")
    value = value.strip()
    if not value and not empty:
        raise InvalidInput(where, "must not be empty")
    return str(value)


def user_id(value: Any, where: str) -> int | str:
    if isinstance(value, bool):
        raise InvalidInput(where, "must be a number or a string")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidInput(where, "must be a whole number")
        value = int(value)
    if isinstance(value, int):
        if not -INT64_MAX <= value <= INT64_MAX:
            raise InvalidInput(where, "must be a 64-bit integer")
        if value <= 0:
            # Roblox Studio's test players have ids 0, -1, -2...: the same user as the string
            # id "-1", so both spellings index and search alike.
            return str(value)
        return value
    if isinstance(value, str):
        if value.isdigit() and value.isascii():
            if value.startswith("0"):
                raise InvalidInput(where, "a numeric id must not start with 0")
            return user_id(int(value), where)
        if STRING_ID.fullmatch(value):
            return value
        raise InvalidInput(where, "must be a number or 1-64 letters, digits, '_', '.', '@', '-'")
    raise InvalidInput(where, "must be a number or a string")


def participant(data: Any, where: str, *, system: bool = False) -> Participant:
    """``{"user_id", "username", "display_name"?}`` or Roblox's ``{"UserId", "Name", ...}``;
    with ``system``, also a system actor id (1 POS, 2 Kiosk, 3 Mobile Ordering, 4 NPC)."""
    if system and isinstance(data, (int, str)) and not isinstance(data, bool):
        ident = data
        if isinstance(ident, str) and ident in ("1", "2", "3", "4"):
            ident = int(ident)  # (not int() on any isdigit() string: int("²") raises)
        if ident in SYSTEM_ACTORS:
            return Participant.system(int(ident))
        raise InvalidInput(where, f"a system actor id must be one of {sorted(SYSTEM_ACTORS)}")
    data = _object(data, where)
    if "UserId" in data or "Name" in data:
        mapping = {"UserId": "user_id", "Name": "username", "DisplayName": "display_name"}
        _only(data, set(mapping), where)
        data = {mapping[k]: v for k, v in data.items()}
    else:
        _only(data, {"user_id", "username", "display_name"}, where)
    if "user_id" not in data:
        raise InvalidInput(_join(where, "user_id"), "is required")
    if "username" not in data:
        raise InvalidInput(_join(where, "username"), "is required")
    uid = user_id(data["user_id"], _join(where, "user_id"))
    name = text(data["username"], _join(where, "username"), MAX_USERNAME)
    display = data.get("display_name")
    if display is not None:
        # "" (or blanks) is no display name, as null is: the username stands in for it
        display = text(display, _join(where, "display_name"), MAX_USERNAME, empty=True)
    return Participant(username=name, user_id=uid, display_name=display or None)


def _optional_participant(data: Any, where: str, *, system: bool = False) -> Participant | None:
    if data is None or data == [] or data == {}:
        return None
    return participant(data, where, system=system)


def item(data: Any, where: str) -> Item:
    if isinstance(data, str):
        return Item(text(data, where, MAX_NAME))
    data = _object(data, where)
    _only(data, {"name", "quantity", "notes"}, where)
    if "name" not in data:
        raise InvalidInput(_join(where, "name"), "is required")
    name = text(data["name"], _join(where, "name"), MAX_NAME)
    quantity = data.get("quantity", 1)
    if isinstance(quantity, float) and quantity.is_integer():
        quantity = int(quantity)
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidInput(_join(where, "quantity"), "must be an integer")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(_join(where, "quantity"), f"must be between 1 and {MAX_QUANTITY}")
    notes = data.get("notes")
    if notes is not None:
        notes = text(notes, _join(where, "notes"), MAX_NOTES, free=True, empty=True) or None
    return Item(name, quantity, notes)


def items(data: Any, where: str) -> tuple[Item, ...]:
    if data is None or data == {}:
        return ()
    if not isinstance(data, list):
        raise InvalidInput(where, "must be an array")
    if len(data) > MAX_ITEMS:
        raise InvalidInput(where, f"at most {MAX_ITEMS} items")
    return tuple(item(entry, f"{where}[{i}]") for i, entry in enumerate(data))


def metadata(data: Any, where: str) -> dict[str, Any]:
    if data is None or data == []:
        return {}
    data = _object(data, where)
    try:
        size = len(orjson.dumps(data))
    except TypeError:  # nesting deeper than orjson serialises
        raise InvalidInput(where, "is nested too deeply") from None
    if size > MAX_METADATA:
        raise InvalidInput(where, f"must encode to at most {MAX_METADATA} bytes")
    return dict(data)


def _status_name(data: Any, where: str) -> str:
    return text(data, where, 32)


def _ref(value: Any, where: str) -> Ref | None:
    """A batch op's ``ref`` (or ``order_ref``): a string or an integer, kept as sent (a result
    echoes it unchanged); refs match by ``ref_key``."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if len(str(value)) > MAX_REF:
            raise InvalidInput(where, f"must be at most {MAX_REF} characters")
        return value
    if not isinstance(value, str):
        raise InvalidInput(where, "must be a string or an integer")
    text(value, where, MAX_REF)
    return value


def order_id(value: Any, where: str = "id") -> str:
    if not isinstance(value, str) or not ORDER_ID.fullmatch(value):
        raise InvalidInput(where, "must be an order id: 24 lower-case hex digits")
    return value


CREATE_FIELDS = {"customer", "actor", "items", "status", "metadata", "priority"}
STATUS_FIELDS = {"status", "actor", "handed_to", "reason", "version"}
PRIORITY_FIELDS = {"priority", "actor", "version"}
ITEM_FIELDS = {"done", "actor", "version"}


def priority(value: Any, where: str, *, optional: bool = False) -> str:
    """``"normal"`` or ``"rush"``; with ``optional``, null (or absent) is normal."""
    if value is None and optional:
        return NORMAL
    if not isinstance(value, str) or value not in PRIORITIES:
        raise InvalidInput(where, f"must be one of {', '.join(PRIORITIES)}")
    return value


def create_order(data: Any, where: str = "", *, extra: frozenset[str] = frozenset()) -> CreateOrder:
    data = _object(data, where)
    _only(data, CREATE_FIELDS | extra if extra else CREATE_FIELDS, where)
    if "customer" not in data:
        raise InvalidInput(_join(where, "customer"), "is required")
    status = data.get("status")
    return CreateOrder(
        customer=participant(data["customer"], _join(where, "customer")),
        actor=_optional_participant(data.get("actor"), _join(where, "actor"), system=True),
        items=items(data.get("items"), _join(where, "items")),
        status=None if status is None else _status_name(status, _join(where, "status")),
        metadata=metadata(data.get("metadata"), _join(where, "metadata")),
        ref=_ref(data.get("ref"), _join(where, "ref")) if "ref" in extra else None,
        priority=priority(data.get("priority"), _join(where, "priority"), optional=True),
    )


def _target(data: dict[str, Any], order: str | None, where: str) -> tuple[str | None, str | None]:
    """The order a command names: ``order`` (from the path), else (a batch op) its ``id`` or
    the ``order_ref`` of an earlier create: (order id, order ref key)."""
    if order is not None:
        return order, None
    if data.get("id") is not None:
        return order_id(data["id"], _join(where, "id")), None
    if data.get("order_ref") is not None:
        return None, ref_key(_ref(data["order_ref"], _join(where, "order_ref")))
    raise InvalidInput(_join(where, "id"), "is required (or order_ref)")


def change_status(
    data: Any, order: str | None, where: str = "", *, extra: frozenset[str] = frozenset()
) -> ChangeStatus:
    data = _object(data, where)
    _only(data, STATUS_FIELDS | extra, where)
    if "status" not in data:
        raise InvalidInput(_join(where, "status"), "is required")
    version = _version(data.get("version"), _join(where, "version"))
    reason = data.get("reason")
    order, order_ref = _target(data, order, where)
    return ChangeStatus(
        order_id=order,
        order_ref=order_ref,
        status=_status_name(data["status"], _join(where, "status")),
        actor=_optional_participant(data.get("actor"), _join(where, "actor"), system=True),
        handed_to=_optional_participant(data.get("handed_to"), _join(where, "handed_to")),
        reason=None
        if reason is None
        else text(reason, _join(where, "reason"), MAX_NOTES, free=True),
        expected_version=version,
        ref=_ref(data.get("ref"), _join(where, "ref")) if "ref" in extra else None,
    )


def set_priority(
    data: Any, order: str | None, where: str = "", *, extra: frozenset[str] = frozenset()
) -> SetPriority:
    """The body of ``POST /orders/{id}/priority`` (``{"priority", "actor"?, "version"?}``), or
    a batch's ``priority`` op (``order`` None: it names its order by ``id`` or ``order_ref``)."""
    data = _object(data, where)
    _only(data, PRIORITY_FIELDS | extra, where)
    if "priority" not in data:
        raise InvalidInput(_join(where, "priority"), "is required")
    version = _version(data.get("version"), _join(where, "version"))
    order, order_ref = _target(data, order, where)
    return SetPriority(
        order_id=order,
        order_ref=order_ref,
        priority=priority(data["priority"], _join(where, "priority")),
        actor=_optional_participant(data.get("actor"), _join(where, "actor"), system=True),
        expected_version=version,
        ref=_ref(data.get("ref"), _join(where, "ref")) if "ref" in extra else None,
    )


def item_index(raw: Any) -> int:
    """An item's position in its order (from 0), as a path gives it."""
    text_value = str(raw)
    if not (text_value.isascii() and text_value.isdigit()) or len(text_value) > 3:
        raise InvalidInput("index", f"must be an item's position: 0 to {MAX_ITEMS - 1}")
    index = int(text_value)
    if index >= MAX_ITEMS:
        raise InvalidInput("index", f"must be an item's position: 0 to {MAX_ITEMS - 1}")
    return index


def mark_item(data: Any, order: str, index: int) -> MarkItem:
    """The body of ``POST /orders/{id}/items/{index}/done``: ``{"done", "actor"?,
    "version"?}``."""
    if data == []:
        data = {}
    data = _object(data, "")
    _only(data, ITEM_FIELDS, "")
    done = data.get("done")
    if not isinstance(done, bool):
        raise InvalidInput("done", "is required: true or false")
    return MarkItem(
        order_id=order,
        index=index,
        done=done,
        actor=_optional_participant(data.get("actor"), "actor", system=True),
        expected_version=_version(data.get("version"), "version"),
    )


def batch(data: Any) -> list[Command]:
    data = _object(data, "")
    _only(data, {"operations"}, "")
    ops = data.get("operations")
    if not isinstance(ops, list) or not ops:
        raise InvalidInput("operations", "must be a non-empty array")
    if len(ops) > MAX_BATCH:
        raise InvalidInput("operations", f"at most {MAX_BATCH} operations")
    commands: list[Command] = []
    refs: set[str] = set()
    created: set[str] = set()  # refs of creates: what a later status op may name
    for i, raw in enumerate(ops):
        where = f"operations[{i}]"
        raw = _object(raw, where)
        kind = raw.get("op")
        body = {k: v for k, v in raw.items() if k != "op"}
        command: Command
        if kind == "create":
            command = create_order(body, where, extra=frozenset({"ref"}))
        elif kind in ("status", "priority"):
            names = frozenset({"ref", "id", "order_ref"})
            if kind == "status":
                command = change_status(body, None, where, extra=names)
            else:
                command = set_priority(body, None, where, extra=names)
            if command.order_ref is not None and command.order_ref not in created:
                raise InvalidInput(f"{where}.order_ref", "names no create earlier in this batch")
        else:
            raise InvalidInput(f"{where}.op", "must be 'create', 'status' or 'priority'")
        key = ref_key(command.ref)
        if key is not None:
            if key in refs:
                raise InvalidInput(f"{where}.ref", "is used twice in this batch")
            refs.add(key)
            if isinstance(command, CreateOrder):
                created.add(key)
        commands.append(command)
    return commands


def recall(data: Any) -> tuple[Participant | None, int | None]:
    """The body of ``POST /orders/{id}/recall``: ``{"actor"?, "version"?}`` (``[]`` for none)."""
    if data == []:
        data = {}
    data = _object(data, "")
    _only(data, {"actor", "version"}, "")
    return (
        _optional_participant(data.get("actor"), "actor", system=True),
        _version(data.get("version"), "version"),
    )


def _version(value: Any, where: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidInput(where, "must be an integer")
    return value
