"""A workspace's own settings: what an admin may change (``PATCH /settings``), their defaults,
their bounds and the rules between them. Pure: the store keeps them as strings in the
workspace's meta hash, and reads them back through ``read``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


SETTINGS = (
    IntSetting("retention_days", 90, "orders older than this are removed"),
    IntSetting("age_warn_seconds", 300, "a ticket turns yellow at this age (Fresh KDS: 5 min)"),
    IntSetting("age_late_seconds", 480, "and red at this age (must be later than the warning)"),
    IntSetting(
        "pickup_linger_seconds", 120, "a ready number stays on the pickup screen after completion"
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
)
BY_NAME = {s.name: s for s in SETTINGS}
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}


def read(stored: Mapping[str, str]) -> dict[str, Any]:
    """Every setting: the stored value, else its default."""
    return {s.name: s.decode(stored[s.name]) if s.name in stored else s.default for s in SETTINGS}


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
