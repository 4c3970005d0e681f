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

Waking is paced by the loop, not by timers: the senders an append wakes are handed to the
process's ``Waker``, which takes them in the next event-loop iteration (the appends of one
iteration coalesce), at most ``PER_TURN`` per iteration, oldest first. A sender writes
everything pending each time it is woken, so the batches grow with the load by themselves (a
socket writes once per sweep over the sockets, and a sweep takes longer when there are more
sockets or more events), and an iteration never holds more than ``PER_TURN`` socket writes:
the ingest requests' steps, the listener and new connections run between them.

A waiter may come with a ``push``: the waker calls it instead of resolving the future (a
WebSocket writes its frames there and then, without a task switch per socket per event; see
hub.Subscription.write_to). ``push`` returns False when it could not, and the waiter is then
woken as any other.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections import deque
from collections.abc import Callable, Hashable, Iterable

from orderlog.live.frames import Frame
from orderlog.store.events import StreamId

SLACK = 64  # frames dropped at a time once past the bounds (amortised O(1) per append)
# Senders woken per event-loop iteration, all workspaces together: 64 socket writes (~0.6 ms of
# direct writes) between two looks at the other sockets (ingest requests, the pub/sub listener).
# A sweep over S sockets takes S/64 iterations, and each step of a create waits for at most one
# turn. Shorter turns shorten the wait but interleave more appends with a sweep, so each write
# carries fewer events; at saturation that costs capacity. Measured side by side (S x events/s,
# p99; docs/performance.md, "Shorter turns"): 256 -> 64 took S=1,000 x 100 from 54-65 ms to
# 34-45 ms and S=5,000 x 100 from 158-173 ms to 128-147 ms; 32 did as well at 100/s but was
# worse than 256 at S=1,000 x 1,000/s, where 64 was not.
PER_TURN = 64

# A waiter's way to take what was appended without being woken: True if it did (it keeps
# waiting and re-registers itself), False to be woken instead.
Push = Callable[[], bool]


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
        "waker",
    )

    def __init__(self, max_events: int, max_bytes: int, waker: Waker | None = None) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.waker = waker or Waker()
        self.frames: list[Frame] = []
        self.starts: list[int] = []
        self.base = 0
        self.total = 0
        self.appended = 0
        # in the order they began waiting, each with its push (or None)
        self._waiters: dict[asyncio.Future[None], Push | None] = {}
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
        """Wake every waiter once, through the waker (``PER_TURN`` per loop iteration). A burst
        of appends wakes each waiting subscription once (the waiters are swapped out): O(waiters)
        per wake-up, not per event."""
        if self._waiters:
            waiters, self._waiters = self._waiters, {}
            self.waker.wake(waiters.items())

    def waiter(self, push: Push | None = None) -> asyncio.Future[None]:
        """A future resolved after the next append (or ``wake``); with ``push``, the waker
        calls that first, and resolves the future only if it returns False."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[fut] = push
        return fut

    def keep_waiting(self, fut: asyncio.Future[None], push: Push) -> None:
        """Register a waiter again after its push took what was appended."""
        if not fut.done():
            self._waiters[fut] = push

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
            self._waiters.pop(fut, None)


class Waker:
    """Wakes the waiters of every log of the process (one per process: the hub's, shared by its
    workspaces' logs) in the next event-loop iteration, oldest first, at most ``per_turn`` per
    iteration; the rest in the iterations after. A waiter with a push is pushed, and woken only
    if the push could not take the frames. Futures done meanwhile (a timeout, a cancelled
    sender) are skipped."""

    __slots__ = ("_queue", "_scheduled", "per_turn")

    def __init__(self, per_turn: int = PER_TURN) -> None:
        self.per_turn = per_turn
        self._queue: deque[tuple[asyncio.Future[None], Push | None]] = deque()
        self._scheduled = False

    def wake(self, waiters: Iterable[tuple[asyncio.Future[None], Push | None]]) -> None:
        self._queue.extend(waiters)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and self._queue:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._turn)

    def _turn(self) -> None:
        self._scheduled = False
        queue = self._queue
        budget = self.per_turn
        while queue and budget:
            fut, push = queue.popleft()
            if fut.done():
                continue
            budget -= 1
            if push is not None and push():
                continue
            if not fut.done():  # a push that failed may have resolved it (a lost position)
                fut.set_result(None)
        self._schedule()
