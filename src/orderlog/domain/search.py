"""Search queries: query-string parameters -> a ``Query``; opaque page cursors. Pure, no I/O.

A query is an AND of filter groups, each an OR of indexes (``status=a,b`` is one group of two).
An index is named as ``keys.Keys.index`` takes it: ``("role_id", "preparer", "7")``. The store
walks the most selective group newest-first and checks the others by membership
(``store/search.lua``). Every bad parameter is an ``InvalidInput`` naming it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from orderlog.domain.inputs import CONTROL_STRICT, MAX_NAME, MAX_USERNAME, user_id
from orderlog.domain.model import ROLES, tokens
from orderlog.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_WORDS = 8  # words of q: each is one more membership check per candidate
MAX_STATUSES = 32
# Name, item and word filters match by prefix: the index names widened through a vocabulary
# (keys.VOCABULARIES), and the query parameter each comes from (for an error's `field`).
PREFIX_KINDS = {
    "customer": "customer",
    "staff": "staff",
    "role": "staff",
    "item": "item",
    "token": "token",
}
PREFIX_FIELDS = {
    "customer": "customer",
    "staff": "staff",
    "role": "staff",
    "item": "item",
    "token": "q",
}
MAX_PREFIX_VALUES = 100  # values one prefix may stand for (each is one more index to walk)

Index = tuple[str, ...]  # (index name, *parts) for keys.Keys.index
Group = tuple[Index, ...]  # any of these indexes

FILTERS = (
    "status",
    "customer_id",
    "customer",
    "staff_id",
    "staff",
    "role",
    "number",
    "item",
    "from",
    "to",
    "q",
)
PAGING = ("limit", "cursor")


@dataclass(frozen=True, slots=True)
class Query:
    groups: tuple[Group, ...]  # every group must match
    number: int | None = None
    from_ms: int | None = None  # created at or after (inclusive)
    to_ms: int | None = None  # created before (exclusive)
    limit: int = DEFAULT_LIMIT
    before: int | None = None  # only orders numbered below this (from the cursor)
    fingerprint: str = ""

    def cursor(self, before: int) -> str:
        """The opaque cursor of the page after the one that ended above ``before``."""
        raw = orjson.dumps({"b": before, "f": self.fingerprint})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_time(value: str, name: str) -> int:
    """ISO 8601 (``2026-11-27T10:00:00Z``, a date, or naive = UTC) -> epoch milliseconds."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            name, "must be an ISO 8601 date or time, e.g. 2026-11-27T10:00:00Z"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def time_range(params: dict[str, list[str]]) -> tuple[int | None, int | None]:
    start = parse_time(_one(params, "from"), "from") if "from" in params else None
    end = parse_time(_one(params, "to"), "to") if "to" in params else None
    if start is not None and end is not None and end <= start:
        raise InvalidInput("to", "must be after from")
    return start, end


def collect(items: Iterable[tuple[str, str]], allowed: Collection[str]) -> dict[str, list[str]]:
    """Query-string pairs -> name -> values; an unknown name is a 422 naming it."""
    out: dict[str, list[str]] = {}
    for name, value in items:
        if name not in allowed:
            raise InvalidInput(name, f"unknown parameter; expected one of {', '.join(allowed)}")
        out.setdefault(name, []).append(value)
    return out


def _one(params: dict[str, list[str]], name: str) -> str:
    values = params[name]
    if len(values) > 1:
        raise InvalidInput(name, "may be given once")
    return values[0]


def _text(params: dict[str, list[str]], name: str, limit: int) -> str:
    value = _one(params, name).strip()
    if not value:
        raise InvalidInput(name, "must not be empty")
    if len(value) > limit:
        raise InvalidInput(name, f"must be at most {limit} characters")
    if CONTROL_STRICT.search(value):
        raise InvalidInput(name, "must not contain control characters")
    return value.lower()


def _int(params: dict[str, list[str]], name: str, low: int, high: int) -> int:
    raw = _one(params, name).strip()
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput(name, "must be a positive integer")
    value = int(raw)
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low} and {high}")
    return value


def _user(params: dict[str, list[str]], name: str) -> str:
    """A user id as the indexes know it: the number, a string id, or ``sys:N`` (POS, Kiosk...)."""
    raw = _one(params, name).strip()
    if raw.startswith("sys:") and raw[4:].isdigit():
        return raw
    return str(user_id(raw, name))


def _statuses(params: dict[str, list[str]], known: Collection[str]) -> Group:
    names = [s.strip() for value in params["status"] for s in value.split(",") if s.strip()]
    if not names:
        raise InvalidInput("status", "must name at least one status")
    if len(names) > MAX_STATUSES:
        raise InvalidInput("status", f"at most {MAX_STATUSES} statuses")
    for name in names:
        if name not in known:
            raise InvalidInput(
                "status", f"unknown status {name!r}; expected one of {', '.join(known)}"
            )
    return tuple(("status", s) for s in dict.fromkeys(names))


def _staff(params: dict[str, list[str]]) -> Group | None:
    role = _one(params, "role").strip() if "role" in params else None
    if role is not None and role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    if "staff_id" in params and "staff" in params:
        raise InvalidInput("staff", "give staff or staff_id, not both")
    if "staff_id" in params:
        ident = _user(params, "staff_id")
        return ((("role_id", role, ident) if role else ("staff_id", ident)),)
    if "staff" in params:
        name = _text(params, "staff", MAX_USERNAME)
        return ((("role", role, name) if role else ("staff", name)),)
    if role is not None:
        raise InvalidInput("role", "needs staff or staff_id")
    return None


def parse(
    items: Iterable[tuple[str, str]], statuses: Collection[str], *, paging: bool = True
) -> Query:
    """Query-string pairs -> Query. ``statuses`` are the workspace's status names.

    Raises:
        InvalidInput: an unknown parameter or a bad value, naming the parameter.
    """
    params = collect(items, FILTERS + PAGING if paging else FILTERS)
    groups: list[Group] = []
    if "status" in params:
        groups.append(_statuses(params, statuses))
    if "customer_id" in params:
        groups.append((("customer_id", _user(params, "customer_id")),))
    if "customer" in params:
        groups.append((("customer", _text(params, "customer", MAX_USERNAME)),))
    staff = _staff(params)
    if staff:
        groups.append(staff)
    if "item" in params:
        groups.append((("item", _text(params, "item", MAX_NAME)),))
    if "q" in params:
        words = tokens([_text(params, "q", 200)])
        if not words:
            raise InvalidInput("q", "must contain a letter or a digit")
        if len(words) > MAX_WORDS:
            raise InvalidInput("q", f"at most {MAX_WORDS} words")
        groups += [(("token", w),) for w in words]
    number = _int(params, "number", 1, 2**53) if "number" in params else None
    start, end = time_range(params)
    limit = _int(params, "limit", 1, MAX_LIMIT) if "limit" in params else DEFAULT_LIMIT
    unique = tuple(dict.fromkeys(groups))
    fingerprint = hashlib.sha256(orjson.dumps([unique, number, start, end])).hexdigest()[:12]
    before = _decode(_one(params, "cursor"), fingerprint) if "cursor" in params else None
    return Query(unique, number, start, end, limit, before, fingerprint)


def _decode(cursor: str, fingerprint: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
        before, seen = data["b"], data["f"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidInput("cursor", "is not a cursor this API gave out") from None
    if not isinstance(before, int) or isinstance(before, bool) or before < 1:
        raise InvalidInput("cursor", "is not a cursor this API gave out")
    if seen != fingerprint:
        raise InvalidInput("cursor", "belongs to a search with other filters")
    return before
