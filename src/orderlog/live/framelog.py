"""One workspace's recent live frames, shared by every local subscription of it (the hub calls
it the workspace's backlog).

An event is appended once, whatever the number of subscribers, and each subscription keeps its
index into the log; its pending frames are the slice after that index. (A queue per client
costs one Python call per subscription per event: 13-25% of the server at high rates,
docs/performance.md.)

::

    Hub._read --append--> FrameLog [base ... end)  --wake--> the senders waiting on it
                              ^         ^      ^
                    sub A .index   sub B .index  sub C .index  (each drains its own slice)

How far a client may fall behind is bounded: a subscription more than ``max_events`` frames or
``max_bytes`` bytes behind the end is a slow consumer (4008). This is checked when it drains
(O(1): indexes and byte offsets), so appending never looks at the subscriptions. Frames no one
can still read are dropped: older than the bounds allow, or before every subscription's index
(``trim``).

Subscriptions draining the same range in the same state (filter, position, epoch) get the same
``Frames`` object from ``drained`` (a cache cleared on every append): the selection is made once
per range, and a transport encodes it once for all of them (``Frames.encoded``).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import Hashable

from orderlog.live.frames import Frame
from orderlog.store.events import StreamId

SLACK = 64  # frames dropped at a time once past the bounds (amortised O(1) per append)


class Frames(list[Frame]):
    """Frames a subscription drained. Shared by every subscription that drained the same range
    in the same state: never mutate it. ``encoded`` memoises a transport's encoding of it
    (e.g. the WebSocket's batch frames), so a thousand sockets encode it once; ``position`` is
    the stream id the drain reached, ``lost`` why it could not continue (the epoch changed)."""

    __slots__ = ("encoded", "lost", "position")

    def __init__(self, frames: list[Frame] | tuple[Frame, ...] = ()) -> None:
        super().__init__(frames)
        self.encoded: dict[str, object] = {}
        self.position: StreamId | None = None
        self.lost: str | None = None


class FrameLog:
    """A bounded, append-only window over one workspace's frames, indexed from 0 since the
    log was made: frame ``i`` is ``frames[i - base]``.

    ``starts[k]`` is the byte offset (total bytes appended before it) of ``frames[k]`` and
    ``total`` the offset of the end, so "bytes behind" is one subtraction.
    """

    __slots__ = (
        "_drains",
        "_waiters",
        "appended",
        "base",
        "frames",
        "max_bytes",
        "max_events",
        "starts",
        "total",
    )

    def __init__(self, max_events: int, max_bytes: int) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.frames: list[Frame] = []
        self.starts: list[int] = []
        self.base = 0
        self.total = 0
        self.appended = 0
        self._waiters: set[asyncio.Future[None]] = set()
        self._drains: dict[Hashable, Frames] = {}

    @property
    def end(self) -> int:
        """The index the next frame will get."""
        return self.base + len(self.frames)

    def append(self, frame: Frame) -> None:
        """Add a frame and wake every waiting subscription: O(1), whatever their number."""
        self.frames.append(frame)
        self.starts.append(self.total)
        self.total += len(frame.data)
        self.appended += 1
        self._drains.clear()  # every later drain ends at the new end
        needed = self.oldest_readable()
        if needed - self.base >= SLACK:
            self._drop(needed)
        self.wake()

    def oldest_readable(self) -> int:
        """The first index a subscription within both bounds may still need."""
        by_count = self.end - self.max_events
        by_bytes = self.base + bisect.bisect_left(self.starts, self.total - self.max_bytes)
        return max(by_count, by_bytes, self.base)

    def behind(self, index: int, offset: int) -> bool:
        """True if a reader at ``index`` (byte ``offset``) is past the bounds: a slow consumer."""
        return (
            index < self.base
            or self.end - index > self.max_events
            or self.total - offset > self.max_bytes
        )

    def trim(self, oldest: int) -> None:
        """Drop the frames before ``oldest`` (the smallest index of the subscriptions)."""
        if oldest > self.base:
            self._drop(min(oldest, self.end))

    def _drop(self, index: int) -> None:
        cut = index - self.base
        del self.frames[:cut]
        del self.starts[:cut]
        self.base = index

    def since(self, start: int, end: int) -> list[Frame]:
        return self.frames[start - self.base : end - self.base]

    def drained(self, key: Hashable) -> Frames | None:
        """The selection another subscription made of the same range in the same state."""
        return self._drains.get(key)

    def remember(self, key: Hashable, frames: Frames) -> None:
        self._drains[key] = frames

    # -- waking the senders --------------------------------------------------------------------
    def wake(self) -> None:
        """Resolve every waiter once. A burst of appends in one loop iteration wakes each waiting
        subscription once (the set is swapped out): O(waiters) per wake-up, not per event."""
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def waiter(self) -> asyncio.Future[None]:
        """A future resolved by the next append (or ``wake``)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        return fut

    async def wait(self, fut: asyncio.Future[None], within: float | None) -> None:
        """Wait for ``fut`` (from ``waiter``) up to ``within`` seconds; forget it after."""
        try:
            if within is None:
                await fut
            else:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(within):
                        await fut
        finally:
            self._waiters.discard(fut)
