"""What a live client receives: frames, the cursors it resumes from, snapshots. Pure: no I/O.

An event reaches the hub twice, with the same bytes: as a pub/sub wake-up
(``<stream id>\\n<status>\\n<epoch>\\n<rest>``, see write.lua) and as a stream entry
(``store/events.py``: its status and ``rest``). ``rest`` is the tail of the event frame, so a
frame is built by concatenation and never parsed: the hub hands the same bytes to every socket.

A cursor is ``<epoch>:<stream id>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from orderlog.errors import InvalidInput
from orderlog.store.events import Bounds, Entry, StreamId, format_id, parse_id

CURSOR = re.compile(r"^([0-9a-f]{1,32}):(\d{1,20})-(\d{1,20})$")
PREVIOUS = b'"previous_status":'
# What frames say (http/asyncapi.py documents them from these, and the events write.lua emits
# from domain/webhooks.py): the states of a status frame, the reasons of a reset
# (store/events.py's Bounds.problem).
STATES = ("reconnecting", "live")
RESET_REASONS = ("expired", "epoch", "unknown_cursor")


@dataclass(frozen=True, slots=True)
class Cursor:
    epoch: bytes
    id: StreamId

    @classmethod
    def parse(cls, text: str, field: str = "cursor") -> Cursor:
        """Raises InvalidInput unless ``text`` looks like ``<epoch>:<ms>-<seq>``."""
        match = CURSOR.match(text.strip())
        if match is None:
            raise InvalidInput(field, "must be a cursor from this server (<epoch>:<ms>-<seq>)")
        return cls(match[1].encode(), (int(match[2]), int(match[3])))

    def encode(self) -> bytes:
        return self.epoch + b":" + format_id(self.id)


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame for a client. Events carry their stream id, status and previous status (for
    filtering and de-duplication); other frames (snapshot, reset, status) have ``id`` None."""

    data: bytes
    cursor: bytes = b""
    id: StreamId | None = None
    epoch: bytes = b""
    status: bytes = b""
    previous: bytes | None = None


def previous_of(rest: bytes) -> bytes | None:
    """The previous status inside an event's ``rest`` (``null`` -> None), without JSON parsing."""
    at = rest.find(PREVIOUS)
    if at < 0:
        return None
    at += len(PREVIOUS)
    if rest[at : at + 1] != b'"':
        return None
    return rest[at + 1 : rest.index(b'"', at + 1)]


def event(raw_id: bytes, status: bytes, epoch: bytes, rest: bytes) -> Frame:
    cursor = epoch + b":" + raw_id
    return Frame(
        b'{"type":"event","cursor":"' + cursor + b'",' + rest,
        cursor,
        parse_id(raw_id),
        epoch,
        status,
        previous_of(rest),
    )


def from_message(data: bytes) -> Frame:
    """A pub/sub wake-up published by write.lua -> its event frame."""
    raw_id, status, epoch, rest = data.split(b"\n", 3)
    return event(raw_id, status, epoch, rest)


def from_entries(entries: Iterable[Entry], bounds: Bounds) -> list[Frame]:
    """A page of stream entries -> their event frames (in the stream's epoch)."""
    epoch = bounds.epoch or b""
    return [event(e.id, e.status, epoch, e.rest) for e in entries]


def status_frame(state: str) -> Frame:
    return Frame(b'{"type":"status","state":"' + state.encode() + b'"}')


def reset_frame(reason: str) -> Frame:
    return Frame(b'{"type":"reset","reason":"' + reason.encode() + b'"}')


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The orders a client starts from and the stream's bounds when they were read."""

    bounds: Bounds
    orders: list[bytes]  # order JSON, by order number

    @property
    def cursor(self) -> bytes:
        """The cursor after the snapshot: the stream's last entry when it was read."""
        return Cursor(self.bounds.epoch or b"", self.bounds.last).encode()

    def frame(self) -> Frame:
        cursor = self.cursor
        return Frame(
            b'{"type":"snapshot","cursor":"'
            + cursor
            + b'","orders":['
            + b",".join(self.orders)
            + b"]}",
            cursor,
        )
