"""Screen pairing, the device-authorization pattern of RFC 8628, as pure rules.

A screen with no keyboard asks for a pairing: it gets a short *user code* to show (and a QR code
of the page where an owner types it) and a long secret *device code* it keeps. An owner approves
the user code with an admin key, choosing what the screen is (``Grant``); the screen, polling
with its device code, then receives a screen token of its own. The code is short enough to read
across a room, so guessing is bounded by rate limits (http/screens.py), its lifetime and its
single use, not by its length.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from orderlog.errors import InvalidInput

# RFC 8628 section 6.1's alphabet: consonants only (no words spelled by accident) and none that
# reads as a digit or another letter (no A E I O U Y: no 0/O, 1/I, 8/B confusions either).
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
CODE_LENGTH = 6  # 20^6 = 64 million codes
CODE_SECONDS = 600  # a code lives 10 minutes
POLL_SECONDS = 2  # how often the screen asks whether it was approved
PICKUP_GRACE_SECONDS = 60  # an approved code waits at least this long for its screen to ask

ROLES = ("board", "kitchen", "pickup")
PAGES = {"board": "/board.html", "kitchen": "/kitchen.html", "pickup": "/pickup.html"}
STATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,31}$")
MAX_LABEL = 60
DEVICE_SEPARATOR = "."  # in neither the alphabet nor a url-safe secret


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: Any, field: str = "code") -> str:
    """What an owner typed (any case, spaces or dashes between groups) -> the code.

    Raises:
        InvalidInput: not six letters of the alphabet.
    """
    if not isinstance(text, str):
        raise InvalidInput(field, "must be a string")
    code = re.sub(r"[\s-]", "", text[:40]).upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        raise InvalidInput(field, f"must be the {CODE_LENGTH} letters the screen shows")
    return code


def new_device_code(code: str) -> str:
    """The screen's secret: ``<user code>.<secret>`` (the user code says where it is kept)."""
    return f"{code}{DEVICE_SEPARATOR}{secrets.token_urlsafe(32)}"


def code_of_device(device_code: Any) -> str | None:
    """The user code inside a device code built by ``new_device_code``; None if not shaped so."""
    if not isinstance(device_code, str) or len(device_code) > 128:
        return None
    code, sep, secret = device_code.partition(DEVICE_SEPARATOR)
    if not sep or len(secret) < 32 or len(code) != CODE_LENGTH:
        return None
    if any(c not in ALPHABET for c in code):
        return None
    return code


def grouped(code: str) -> str:
    """``BCDFGH`` -> ``BCD-FGH``: easier to read aloud and to type."""
    return f"{code[:3]}-{code[3:]}"


@dataclass(frozen=True, slots=True)
class Grant:
    """What an owner makes of a screen: its role, a kitchen's station, whether it may bump, and
    a label to tell it apart in the list."""

    role: str
    station: str = ""
    can_bump: bool = False
    label: str = ""

    @property
    def page(self) -> str:
        """Where the screen goes once paired."""
        page = PAGES[self.role]
        return f"{page}?station={quote(self.station)}" if self.station else page

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "station": self.station or None,
            "can_bump": self.can_bump,
            "label": self.label,
            "page": self.page,
        }


def grant(data: Any) -> Grant:
    """An approval's body (``role``, ``station``?, ``can_bump``?, ``label``?) -> a Grant.

    Raises:
        InvalidInput: an unknown role, a station on another screen than a kitchen, bumping on a
            board or pickup screen (the board has no bump button; the pickup screen faces
            customers), a label too long.
    """
    if not isinstance(data, dict):
        raise InvalidInput("", "must be a JSON object")
    role = data.get("role")
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    station = data.get("station") or ""
    if not isinstance(station, str) or (station and not STATION.match(station.strip())):
        raise InvalidInput(
            "station", "must be 1 to 32 letters, digits, spaces, '_' or '-' (or empty)"
        )
    station = station.strip()
    if station and role != "kitchen":
        raise InvalidInput("station", "only a kitchen screen has a station")
    can_bump = data.get("can_bump", False)
    if not isinstance(can_bump, bool):
        raise InvalidInput("can_bump", "must be true or false")
    if can_bump and role != "kitchen":
        raise InvalidInput("can_bump", "only a kitchen screen may bump orders")
    label = data.get("label") or ""
    if not isinstance(label, str) or len(label) > MAX_LABEL or not label.isprintable():
        raise InvalidInput("label", f"must be at most {MAX_LABEL} printable characters")
    label = label.strip() or default_label(role, station)
    return Grant(role, station, can_bump, label)


def default_label(role: str, station: str) -> str:
    name = {"board": "Status board", "kitchen": "Kitchen", "pickup": "Pickup screen"}[role]
    return f"{name} ({station})" if station else name
