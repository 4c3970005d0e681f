"""Reads of a workspace's event stream, the log live clients resume from (the writes are
write.lua's): a snapshot of the active orders and pages of entries, each read together with the
stream's bounds in one script.

An entry's fields are ``s`` (the order's status) and ``f`` (the rest of its event frame after
the cursor, see write.lua); ``live/frames.py`` turns entries into the frames clients receive.
Stream ids compare as (ms, seq) pairs, never as strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from orderlog.keys import Keys
from orderlog.store import scripts
from orderlog.store.client import RedisClient, unavailable

StreamId = tuple[int, int]


def parse_id(raw: bytes) -> StreamId:
    ms, _, seq = raw.partition(b"-")
    return int(ms), int(seq)


def format_id(sid: StreamId) -> bytes:
    return b"%d-%d" % sid


class Entry(NamedTuple):
    """One stream entry: its raw id, the order's status and the rest of the event frame."""

    id: bytes
    status: bytes
    rest: bytes


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

    def problem(self, epoch: bytes, sid: StreamId) -> str | None:
        """Why reading on after ``sid`` of ``epoch`` cannot be gap-free (a reset reason), or
        None if it can: same epoch, not beyond the last entry, and nothing after it trimmed
        (trimming removes the oldest entries: a position at or after the first entry kept is
        safe, and any position in a stream never trimmed). A position just before the first
        entry is refused, conservatively: nothing is ever silently skipped."""
        if self.epoch is None or epoch != self.epoch:
            return "epoch"  # the stream was lost (or the position is from another server)
        if sid > self.last:
            return "unknown_cursor"
        if self.intact or (self.first is not None and sid >= self.first):
            return None
        return "expired"  # older than the stream keeps (ORDERLOG_STREAM_MAXLEN)


class EventStream:
    """Reads of a workspace's event stream."""

    def __init__(self, redis: RedisClient, keys: Keys | None = None) -> None:
        self.redis = redis
        self.keys = keys or Keys()

    async def snapshot(
        self, workspace_id: str, statuses: Iterable[str] = ()
    ) -> tuple[Bounds, list[bytes]]:
        """The stream's bounds and the JSON of every order in ``statuses`` by order number,
        read atomically (no statuses: just the bounds). Creates the epoch if the workspace has
        none yet, so a position in it is valid.

        Raises:
            StoreUnavailable: Redis is away.
        """
        k = self.keys
        reply = await self._run(
            scripts.SNAPSHOT,
            workspace_id,
            [workspace_id, k.order_prefix(workspace_id), k.index_prefix(workspace_id), *statuses],
        )
        bounds = Bounds.parse(*reply[:4])
        pairs = sorted(
            (int(reply[i]), reply[i + 1]) for i in range(4, len(reply), 2)
        )  # by order number: the board's natural order
        return bounds, [order for _, order in pairs]

    async def page(
        self, workspace_id: str, after: StreamId, count: int = 1000
    ) -> tuple[Bounds, list[Entry]]:
        """The stream's bounds and up to ``count`` entries after ``after`` (exclusive), read
        atomically: if ``bounds.problem(epoch, after)`` is None, no entry after ``after`` had
        been trimmed when the page was read.

        Raises:
            StoreUnavailable: Redis is away.
        """
        reply = await self._run(scripts.PAGE, workspace_id, [format_id(after), count])
        bounds = Bounds.parse(*reply[:4])
        return bounds, [Entry(sid, _field(f, b"s"), _field(f, b"f")) for sid, f in reply[4]]

    async def _run(self, script: scripts.Script, workspace_id: str, args: list[Any]) -> Any:
        """Run a read script on the workspace's stream, its epoch and its first event's id."""
        k = self.keys
        with unavailable():
            keys = [k.events(workspace_id), k.epoch(workspace_id), k.events_first(workspace_id)]
            return await script(self.redis, keys, args)


def _field(flat: list[bytes], name: bytes) -> bytes:
    """A field of a stream entry as Lua returns it: a flat [name, value, ...] list."""
    return flat[flat.index(name) + 1]
