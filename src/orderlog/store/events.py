"""The event log a live client resumes from: frames, cursors, snapshots and stream pages.

An event reaches the hub twice, with the same bytes: as a pub/sub wake-up
(``<stream id>\\n<status>\\n<epoch>\\n<rest>``, see write.lua) and as a stream entry
(fields ``s`` = status, ``f`` = rest). ``rest`` is the tail of the event frame, so a frame is
built by concatenation and never parsed: the hub hands the same bytes to every socket.

A cursor is ``<epoch>:<stream id>``. Stream ids compare as (ms, seq) pairs, never as strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orderlog.errors import InvalidInput
from orderlog.keys import Keys
from orderlog.store import scripts
from orderlog.store.client import unavailable

StreamId = tuple[int, int]
ZERO: StreamId = (0, 0)
CURSOR = re.compile(r"^([0-9a-f]{1,32}):(\d{1,20})-(\d{1,20})$")
PREVIOUS = b'"previous_status":'


def parse_id(raw: bytes) -> StreamId:
    ms, _, seq = raw.partition(b"-")
    return int(ms), int(seq)


def format_id(sid: StreamId) -> bytes:
    return b"%d-%d" % sid


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

    def __str__(self) -> str:
        return self.encode().decode()


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


def status_frame(state: str) -> Frame:
    return Frame(b'{"type":"status","state":"' + state.encode() + b'"}')


def reset_frame(reason: str) -> Frame:
    return Frame(b'{"type":"reset","reason":"' + reason.encode() + b'"}')


@dataclass(frozen=True, slots=True)
class Bounds:
    """What the stream holds now: its epoch, first and last entry ids, and whether no entry was
    ever trimmed from it (False when Redis < 7 cannot say)."""

    epoch: bytes | None
    first: StreamId | None  # None: the stream is empty
    last: StreamId
    intact: bool = False

    @classmethod
    def parse(cls, epoch: bytes | None, first: bytes, last: bytes, intact: bytes) -> Bounds:
        return cls(
            epoch or None, parse_id(first) if first else None, parse_id(last), intact == b"1"
        )

    def problem(self, cursor: Cursor) -> str | None:
        """Why ``cursor`` cannot be resumed from (a reset reason), or None if it can: same
        epoch, not beyond the last entry, and nothing after it trimmed (trimming removes the
        oldest entries: a cursor at or after the first entry kept is safe, and any cursor of a
        stream never trimmed). A cursor just before the first entry is reset, conservatively:
        nothing is ever silently skipped."""
        if self.epoch is None or cursor.epoch != self.epoch:
            return "epoch"  # the stream was lost (or this cursor is from another server)
        if cursor.id > self.last:
            return "unknown_cursor"
        if self.intact or (self.first is not None and cursor.id >= self.first):
            return None
        return "expired"  # older than the stream keeps (ORDERLOG_STREAM_MAXLEN)

    def cursor(self, sid: StreamId | None = None) -> bytes:
        return (self.epoch or b"") + b":" + format_id(self.last if sid is None else sid)


@dataclass(frozen=True, slots=True)
class Snapshot:
    bounds: Bounds
    orders: list[bytes]  # order JSON, by order number

    def frame(self) -> Frame:
        cursor = self.bounds.cursor()
        return Frame(
            b'{"type":"snapshot","cursor":"'
            + cursor
            + b'","orders":['
            + b",".join(self.orders)
            + b"]}",
            cursor,
        )


class EventLog:
    """Reads of a workspace's event stream (the writes are write.lua's)."""

    def __init__(self, redis: Any, keys: Keys | None = None) -> None:
        self.redis = redis
        self.keys = keys or Keys()

    async def snapshot(self, workspace_id: str, statuses: Iterable[str] = ()) -> Snapshot:
        """Every order in ``statuses`` and the stream's bounds, atomically (no statuses: just
        the bounds). Creates the epoch if the workspace has none yet, so the cursor is valid.

        Raises:
            StoreUnavailable: Redis is away.
        """
        k = self.keys
        with unavailable():
            reply = await scripts.SNAPSHOT(
                self.redis,
                [k.events(workspace_id), k.epoch(workspace_id), k.events_first(workspace_id)],
                [
                    workspace_id,
                    k.order_prefix(workspace_id),
                    k.index_prefix(workspace_id),
                    *statuses,
                ],
            )
        bounds = Bounds.parse(*reply[:4])
        pairs = sorted(
            (int(reply[i]), reply[i + 1]) for i in range(4, len(reply), 2)
        )  # by order number: the board's natural order
        return Snapshot(bounds, [order for _, order in pairs])

    async def page(
        self, workspace_id: str, after: StreamId, count: int = 1000
    ) -> tuple[list[Frame], Bounds]:
        """Up to ``count`` events after ``after`` (exclusive) and the stream's bounds, read
        atomically: if ``bounds.problem(cursor)`` is None, no entry after the cursor had been
        trimmed when the page was read.

        Raises:
            StoreUnavailable: Redis is away.
        """
        k = self.keys
        with unavailable():
            reply = await scripts.PAGE(
                self.redis,
                [k.events(workspace_id), k.epoch(workspace_id), k.events_first(workspace_id)],
                [format_id(after), count],
            )
        bounds = Bounds.parse(*reply[:4])
        e = bounds.epoch or b""
        frames = [event(sid, _field(f, b"s"), e, _field(f, b"f")) for sid, f in reply[4]]
        return frames, bounds


def _field(flat: list[bytes], name: bytes) -> bytes:
    """A field of a stream entry as Lua returns it: a flat [name, value, ...] list."""
    return flat[flat.index(name) + 1]
