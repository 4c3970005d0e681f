"""A workspace's own settings: what an admin may change (``PATCH /settings``), their defaults,
their bounds and the rules between them. Pure: the store keeps them as strings in the
workspace's meta hash (each kind's ``encode``), and reads them back through ``read``.

Kinds: a bounded integer; the kitchen's station map (which station makes which item); a list of
words (the allergens a kitchen screen flags in item notes). Each kind parses a PATCH value
(InvalidInput naming the setting), encodes and decodes it, and gives its JSON Schema.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from orderlog.domain.screens import STATION
from orderlog.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class IntSetting:
    name: str
    default: int
    help: str
    minimum: int = 1
    maximum: int = 10_000_000

    def parse(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(self.name, "must be an integer")
        if not self.minimum <= value <= self.maximum:
            raise InvalidInput(self.name, f"must be between {self.minimum} and {self.maximum}")
        return value

    def encode(self, value: Any) -> str:
        return str(value)

    def decode(self, raw: str) -> int:
        return int(raw)

    def schema(self) -> dict[str, Any]:
        return {
            "type": "integer",
            "minimum": self.minimum,
            "maximum": self.maximum,
            "default": self.default,
            "description": self.help,
        }


# Item names and patterns as inputs.py bounds item names; a station map as a kitchen has them.
MAX_ITEM_NAME = 100
MAX_STATIONS = 32
MAX_PATTERNS = 200  # names and patterns in all
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _words(value: Any, where: str, limit: int, length: int) -> list[str]:
    """A list of at most ``limit`` distinct texts of 1 to ``length`` characters, trimmed and
    lower-cased (they are matched without case), in the order given."""
    if not isinstance(value, list):
        raise InvalidInput(where, "must be an array of strings")
    if len(value) > limit:
        raise InvalidInput(where, f"at most {limit} entries")
    out: dict[str, None] = {}
    for i, raw in enumerate(value):
        if not isinstance(raw, str) or CONTROL.search(raw) or not 0 < len(raw.strip()) <= length:
            raise InvalidInput(f"{where}[{i}]", f"must be 1 to {length} characters")
        word = " ".join(raw.lower().split())
        if word in out:
            raise InvalidInput(f"{where}[{i}]", f"{word!r} is listed twice")
        out[word] = None
    return list(out)


@dataclass(frozen=True, slots=True)
class StationsSetting:
    """Which kitchen station makes each item: ``{"default": station, "items": {station: [item
    name or pattern, ...]}}``. Names and patterns are matched without case against the whole
    item name; ``*`` in a pattern stands for any run of characters. An exact name wins over a
    pattern, a pattern with more characters besides ``*`` over a shorter one (then the station
    first in alphabetical order): so the object's key order never matters. An item nothing
    matches goes to the default station. The kitchen screens do the matching
    (static/js/tickets.js ``stationOf``); the server keeps and checks the map."""

    name: str
    help: str
    default: Mapping[str, Any]

    def parse(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InvalidInput(self.name, 'must be an object: {"default": station, "items": {}}')
        for key in value:
            if key not in ("default", "items"):
                raise InvalidInput(f"{self.name}.{key}", "unknown field")
        default = self._station(value.get("default", self.default["default"]), "default")
        items = value.get("items", {})
        if not isinstance(items, dict):
            raise InvalidInput(f"{self.name}.items", "must be an object: station -> [items]")
        if len(items) > MAX_STATIONS:
            raise InvalidInput(f"{self.name}.items", f"at most {MAX_STATIONS} stations")
        out: dict[str, list[str]] = {}
        seen_station: dict[str, str] = {}
        owner: dict[str, str] = {}
        for station, names in items.items():
            where = f"{self.name}.items.{station}"
            name = self._station(station, f"items.{station}")
            if name.lower() in seen_station:
                raise InvalidInput(where, f"is {seen_station[name.lower()]!r} again (case aside)")
            seen_station[name.lower()] = name
            out[name] = _words(names, where, MAX_PATTERNS, MAX_ITEM_NAME)
            for i, pattern in enumerate(out[name]):
                if pattern in owner:
                    raise InvalidInput(
                        f"{where}[{i}]", f"{pattern!r} is listed for {owner[pattern]!r} too"
                    )
                owner[pattern] = name
        if len(owner) > MAX_PATTERNS:
            raise InvalidInput(f"{self.name}.items", f"at most {MAX_PATTERNS} names in all")
        return {"default": default, "items": out}

    def _station(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not STATION.match(value.strip()):
            raise InvalidInput(
                f"{self.name}.{where}",
                "a station is 1 to 32 letters, digits, spaces, '_' or '-' (as screens are "
                "paired with)",
            )
        return value.strip()

    def encode(self, value: Any) -> str:
        return orjson.dumps(value).decode()

    def decode(self, raw: str) -> dict[str, Any]:
        # A value this version cannot read (written by a later one, since rolled back) reads as
        # the default rather than failing every read of the workspace.
        try:
            return self.parse(orjson.loads(raw))
        except (orjson.JSONDecodeError, InvalidInput):
            return dict(self.default)

    def schema(self) -> dict[str, Any]:
        station = {"type": "string", "pattern": STATION.pattern}
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "default": {**station, "description": "the station of an item nothing matches"},
                "items": {
                    "type": "object",
                    "maxProperties": MAX_STATIONS,
                    "description": "station -> the item names and patterns (* any text) it "
                    "makes, matched without case; an exact name wins over a pattern, a longer "
                    "pattern over a shorter one",
                    "propertyNames": station,
                    "additionalProperties": {
                        "type": "array",
                        "maxItems": MAX_PATTERNS,
                        "items": {"type": "string", "minLength": 1, "maxLength": MAX_ITEM_NAME},
                    },
                },
            },
            "default": dict(self.default),
            "description": self.help,
        }


@dataclass(frozen=True, slots=True)
class ChoiceSetting:
    """One of a few named values (a JSON string)."""

    name: str
    default: str
    help: str
    choices: tuple[str, ...]

    def parse(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise InvalidInput(self.name, f"must be one of {', '.join(self.choices)}")
        return value

    def decode(self, raw: str) -> str:
        # A value this version does not offer (written by a later one, since rolled back) reads
        # as the default rather than failing every read of the workspace.
        return raw if raw in self.choices else self.default

    def encode(self, value: Any) -> str:
        return str(value)

    def schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "enum": list(self.choices),
            "default": self.default,
            "description": self.help,
        }


@dataclass(frozen=True, slots=True)
class WordsSetting:
    """A list of words or short phrases, matched without case."""

    name: str
    default: tuple[str, ...]
    help: str
    limit: int = 100
    length: int = 40

    def parse(self, value: Any) -> list[str]:
        return _words(value, self.name, self.limit, self.length)

    def encode(self, value: Any) -> str:
        return orjson.dumps(value).decode()

    def decode(self, raw: str) -> list[str]:
        try:
            return self.parse(orjson.loads(raw))
        except (orjson.JSONDecodeError, InvalidInput):
            return list(self.default)

    def schema(self) -> dict[str, Any]:
        return {
            "type": "array",
            "maxItems": self.limit,
            "items": {"type": "string", "minLength": 1, "maxLength": self.length},
            "default": list(self.default),
            "description": self.help,
        }


Setting = IntSetting | ChoiceSetting | StationsSetting | WordsSetting

SETTINGS: tuple[Setting, ...] = (
    IntSetting("retention_days", 90, "orders older than this are removed"),
    IntSetting("age_warn_seconds", 300, "a ticket turns yellow at this age (Fresh KDS: 5 min)"),
    IntSetting("age_late_seconds", 480, "and red at this age (must be later than the warning)"),
    IntSetting(
        "pickup_linger_seconds", 120, "a ready number stays on the pickup screen after completion"
    ),
    # Roblox cafes call customers by name, but the pickup screen faces the room: the first
    # letters of a display name let a customer find their order without showing it whole.
    ChoiceSetting(
        "pickup_names",
        "none",
        "names on the pickup screen: none, the customer's display name, or its first letters",
        ("none", "display_name", "first_letters"),
    ),
    IntSetting("recall_window_seconds", 60, "how long a kitchen bump may be undone"),
    IntSetting(
        "abuse_fast_seconds", 10, "stats: an order completed within this many seconds is flagged"
    ),
    # 40 in 300 s (8 a minute for 5 minutes): above every cashier of the demo cafe at twice its
    # default rate, below a cashier farming an order every 5 s (python -m bench.abuse_thresholds)
    IntSetting("abuse_burst_count", 40, "stats: this many orders by one cashier ..."),
    IntSetting("abuse_burst_seconds", 300, "... within this many seconds are flagged as a burst"),
    IntSetting("abuse_repeat_count", 3, "stats: this many orders for one customer ..."),
    IntSetting("abuse_repeat_seconds", 600, "... within this many seconds are flagged as a repeat"),
    StationsSetting(
        "stations",
        "which kitchen station makes each item (kitchen.html?station=...): item names or "
        "patterns per station; the rest goes to the default station",
        {"default": "kitchen", "items": {}},
    ),
    # Words that mean a guest could be harmed: the major allergens (EU and US lists) and the
    # words people write about them. Not "milk" or "egg": "oat milk" is a choice, not a warning,
    # and a banner on every latte would teach cooks to ignore it.
    WordsSetting(
        "allergen_words",
        (
            "allergy",
            "allergic",
            "allergen",
            "anaphylaxis",
            "epipen",
            "nut",
            "peanut",
            "tree nut",
            "gluten",
            "celiac",
            "coeliac",
            "dairy free",
            "lactose",
            "shellfish",
            "sesame",
            "soy",
            "mustard",
            "celery",
            "lupin",
            "sulphite",
            "sulfite",
        ),
        "item notes containing one of these words (or its plural) are shown in a red banner on "
        "kitchen tickets",
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}
# Each default as a stored value reads (JSON's shapes: a list, not the tuple it is declared as).
DEFAULTS: dict[str, Any] = {s.name: s.decode(s.encode(s.default)) for s in SETTINGS}


def read(stored: Mapping[str, str]) -> dict[str, Any]:
    """Every setting: the stored value, else (a copy of) its default."""
    return {
        s.name: s.decode(stored[s.name]) if s.name in stored else copy.deepcopy(DEFAULTS[s.name])
        for s in SETTINGS
    }


def changes(current: Mapping[str, Any], data: Any) -> dict[str, Any]:
    """Validate a ``PATCH /settings`` body against the current settings: the changes to store.

    Raises:
        InvalidInput: an unknown setting, a value out of bounds, or a combination that cannot
            work (a warning age at or after the late age).
    """
    if not isinstance(data, dict):
        raise InvalidInput("", "must be a JSON object of settings")
    out: dict[str, Any] = {}
    for name, value in data.items():
        setting = BY_NAME.get(name)
        if setting is None:
            raise InvalidInput(name, "unknown setting")
        out[name] = setting.parse(value)
    merged = {**current, **out}
    if merged["age_warn_seconds"] >= merged["age_late_seconds"]:
        raise InvalidInput(
            "age_warn_seconds",
            f"must be less than age_late_seconds ({merged['age_late_seconds']})",
        )
    return out


def schema() -> dict[str, Any]:
    """The JSON Schema of the settings object (every property optional in a PATCH)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {s.name: s.schema() for s in SETTINGS},
    }
