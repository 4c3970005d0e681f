"""The hub: one pub/sub listener per process fanning events out through one shared frame log per
workspace.

::

    write.lua --PUBLISH--> Redis channel P:{W}:live --> [Backend] --> Hub._read
                                                                        |  parse once, one Frame
                                                  backlog of W: a FrameLog (append: O(1), wake)
                                               +------------------------+------------------+
                                        Subscription (index)     Subscription    ...  (same bytes)
                                               |
                                        a transport (WebSocket / SSE / long-poll) drains it

- A workspace channel is subscribed on its first local subscriber, unsubscribed on its last.
- Every subscription holds an index into its workspace's backlog, a ``FrameLog``
  (live/framelog.py), instead of a queue of its own: an event costs one append whatever the
  number of subscribers. A client may fall a bounded number of events and bytes behind; past
  that it is ``overflowed`` and its transport closes it (4008: resume from your cursor).
  Appending never blocks the listener.
- The stream is the log, pub/sub only the wake-up: when the pub/sub connection drops, the
  listener reconnects with capped jittered backoff, resubscribes, and fills each workspace's gap
  from the stream (``XRANGE`` after the oldest position of its subscriptions) before marking it
  live again; subscriptions skip what they already have (stream ids only grow).
- ``generation`` counts connections: a client's snapshot or replay read while one generation was
  live misses nothing (see live/feed.py).
- ``waker`` wakes the senders of every workspace a bounded number per loop iteration
  (live/framelog.py): the sockets' writes are paced by the loop itself. A live WebSocket's
  sender is not even woken: the waker writes its frames through the connection
  (``Subscription.write_to``), and wakes it only when the connection cannot take them at once.

The Redis side sits behind ``Backend`` (live/backends.py: plain or sharded pub/sub), so the
fan-out is the same on a single Redis and on a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import NamedTuple, Protocol

from redis.asyncio import Redis

from orderlog.keys import Keys
from orderlog.live.backends import POLL, Backend, Liveness, RedisPubSub
from orderlog.live.framelog import FrameLog, Frames, Waker
from orderlog.live.frames import Frame, Snapshot, from_entries, from_message, status_frame
from orderlog.singleflight import SingleFlight
from orderlog.store.client import RedisClient
from orderlog.store.events import EventStream, StreamId

logger = logging.getLogger(__name__)

CATCH_UP_PAGE = 1000
TRIM_EVERY = 256  # appends between drops of what every subscription of a workspace has read
EMPTY = Frames()


class Overflow(Exception):
    """The subscription's queue overflowed: the client must resume from its cursor."""


class GoingAway(Overflow):
    """This process is shutting down: the client resumes from its cursor on another one
    (WebSocket close 1001; SSE and long-poll end as for an overflow)."""


class Resync(Exception):
    """The subscription can no longer be continued gap-free (the stream was lost or trimmed past
    its position): the client needs a reset and a fresh snapshot."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Writer(Protocol):
    """A transport that can write a subscription's frames there and then, without its sender
    task (see ``Subscription.write_to``)."""

    def ready(self) -> bool:
        """True if a write now would go out at once (open, not held back by flow control)."""
        ...

    def write(self, frames: Frames) -> None:
        """Write ``frames`` (only called right after ``ready`` said True)."""
        ...


class Subscription:
    """One client's view of a workspace: its position in the workspace's shared ``FrameLog``.

    Until ``start(position, epoch)`` it only holds its place (the feed registers it before
    reading its snapshot or replay, so nothing published meanwhile is missed); then each drain
    returns the frames after its index that it has not had (stream ids after ``position``) and
    that match its filter. Falling more than the hub's bounds behind makes it a slow consumer.
    """

    __slots__ = (
        "_backlog",
        "_channel",
        "_hub",
        "_offset",
        "_statuses_from",
        "_unsent",
        "_waiter",
        "_writer",
        "epoch",
        "index",
        "lost",
        "overflowed",
        "position",
        "registered",
        "statuses",
        "workspace",
    )

    def __init__(self, hub: Hub, channel: _Channel, statuses: frozenset[bytes] | None) -> None:
        self._hub = hub
        self._channel = channel
        self._backlog = channel.backlog
        self.workspace = channel.workspace
        self.statuses = statuses
        self.position: StreamId | None = None
        self.epoch: bytes | None = None
        self.overflowed = False
        self.lost: str | None = None
        self.index = self._backlog.end  # the next frame of the backlog to read
        self._offset = self._backlog.total  # its byte offset (for the bytes bound)
        self._statuses_from = self.index  # status frames before this index are not for it
        self._waiter: asyncio.Future[None] | None = None
        self._writer: Writer | None = None
        self._unsent: Frames | None = None  # drained for its writer, which could not take them
        self.registered = hub._tick()

    def matches(self, frame: Frame) -> bool:
        """Events of orders entering or leaving one of the filter's statuses, and every event
        about no order (``workflow.changed``: its status is empty)."""
        s = self.statuses
        return s is None or not frame.status or frame.status in s or frame.previous in s

    def _lose(self, reason: str) -> None:
        self.lost = reason
        self._poke()

    def _poke(self) -> None:
        """Wake this subscription alone (it lost its position, or the process is going away)."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- the client's side ---------------------------------------------------------------------
    def start(self, position: StreamId, epoch: bytes) -> None:
        """Go live after a snapshot or replay that ended at ``position``: later drains skip the
        events it covered and the frames about the connection logged so far (the client is
        live now)."""
        self.position = position
        self.epoch = epoch
        self.lost = None
        self._statuses_from = self._backlog.end

    def reset(self) -> None:
        """Back to holding its place (before a fresh snapshot): what was logged before is
        dropped, as a lost position's frames are."""
        self.position = None
        self.epoch = None
        self.lost = None
        self.index = self._backlog.end
        self._offset = self._backlog.total

    def write_to(self, writer: Writer | None) -> None:
        """While the client's sender waits in ``next``, new frames go straight to ``writer``:
        the hub's waker drains this subscription and writes (a bounded number of sockets per
        loop iteration, as it wakes senders) instead of waking the sender, which keeps waiting.
        A fan-out to a thousand sockets is a thousand writes, not a thousand task switches.

        What ``writer`` cannot take at once (not ``ready``: flow control, closing) and whatever
        ``_drain`` raises go to the sender as before: ``next`` returns the frames or raises.
        The sender's own writes and the pushes never overlap: a push happens only while the
        sender waits in ``next`` with nothing left to send."""
        self._writer = writer

    async def next(self, wait: float | None = None) -> list[Frame]:
        """Every pending frame, waiting up to ``wait`` seconds for one ([] when none came).

        The list may be shared with other subscriptions (``Frames``): do not mutate it.

        Raises:
            Overflow: the client fell too far behind; close it with 4008.
            Resync: the client needs a reset and a fresh snapshot.
        """
        frames = self._take_unsent() or self._drain()
        if frames:
            return frames
        loop = asyncio.get_running_loop()
        deadline = None if wait is None else loop.time() + wait
        while True:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return []
            self._waiter = self._backlog.waiter(self._push if self._writer is not None else None)
            try:
                await self._backlog.wait(self._waiter, remaining)
            finally:
                self._waiter = None
            frames = self._take_unsent() or self._drain()
            if frames:
                return frames

    def _take_unsent(self) -> Frames | None:
        frames, self._unsent = self._unsent, None
        return frames

    def _push(self) -> bool:
        """The waker's call while the sender waits: write what is pending now. True if the
        sender keeps waiting; False to wake it, because the writer cannot take frames now or
        the drain raised (the sender's own drain raises the same: every reason is kept)."""
        writer, waiter = self._writer, self._waiter
        if writer is None or waiter is None or not writer.ready():
            return False
        try:
            frames = self._drain()
        except (Overflow, Resync):
            return False
        if frames:
            try:
                writer.write(frames)
            except Exception:  # a bug: the sender sends them its own way, and from now on
                logger.exception("live: a direct write failed; the socket's sender takes over")
                self._writer = None
                self._unsent = frames
                return False
        self._backlog.keep_waiting(waiter, self._push)
        return True

    def _drain(self) -> Frames:
        """Advance to the log's end: the frames for this client in between. Subscriptions in the
        same state over the same range share one selection (see ``FrameLog.drained``)."""
        if self._hub.going_away:
            raise GoingAway()
        backlog = self._backlog
        if self.overflowed or backlog.behind(self.index, self._offset):
            self.overflowed = True
            raise Overflow()
        if self.lost:
            raise Resync(self.lost)
        start, end = self.index, backlog.end
        if start == end:
            return EMPTY
        key = (
            self.statuses,
            start,
            end,
            self.position,
            self.epoch,
            max(self._statuses_from, start),
        )
        frames = backlog.drained(key)
        if frames is None:
            frames = self._select(backlog.since(start, end), start)
            backlog.remember(key, frames)
        self.index = end
        self._offset = backlog.total
        if self.position is not None:
            if frames.lost:
                self._lose(frames.lost)
                raise Resync(frames.lost)
            self.position = frames.position
        return frames

    def _select(self, frames: list[Frame], start: int) -> Frames:
        """The frames this subscription takes of ``frames`` (log indexes from ``start``): a
        function of its state only, so the result is shared (see ``_drain``). Records the
        position reached (or why it was lost) on the result."""
        out = Frames()
        position = self.position
        for i, frame in enumerate(frames, start):
            sid = frame.id
            if sid is None:
                if i >= self._statuses_from:
                    out.append(frame)
                continue
            if position is not None:
                if sid <= position:
                    continue  # already had it (a replay, a catch-up or the snapshot covered it)
                if frame.epoch != self.epoch:
                    lost = Frames()
                    lost.lost = "epoch"  # frames before it are dropped too, as before a reset
                    return lost
                position = sid
            if self.matches(frame):
                out.append(frame)
        out.position = position
        return out

    async def snapshot(self, statuses: tuple[str, ...], generation: int) -> Snapshot:
        """The workspace's orders in ``statuses`` and the stream's bounds; concurrent callers
        share one read if it started after they registered, in the ``generation`` they got from
        ``wait_live`` (a deploy reconnects every screen at once: one snapshot per workspace and
        filter, not one per screen).

        Raises:
            StoreUnavailable: Redis is away.
        """
        return await self._hub._snapshot(self, statuses, generation)

    async def wait_live(self, within: float) -> int:
        """Wait until the workspace channel is subscribed and caught up; its generation.

        Raises:
            TimeoutError: the hub could not (re)connect in time.
        """
        self._hub._ensure_running()
        async with asyncio.timeout(within):
            await self._channel.live.wait()
        return self._hub.generation

    @property
    def generation(self) -> int:
        """The hub's connection count now (a poll's snapshot needs no live channel)."""
        return self._hub.generation

    def still_live(self, generation: int) -> bool:
        """True if the channel stayed live since ``wait_live`` returned ``generation``: nothing
        published meanwhile can have been missed."""
        return self._hub.generation == generation and self._channel.live.is_set()


class _Started(NamedTuple):
    """When a snapshot read started: the hub's tick and generation then."""

    tick: int
    generation: int


class _Channel:
    __slots__ = ("backlog", "live", "name", "subs", "workspace")

    def __init__(self, workspace: str, name: str, backlog: FrameLog) -> None:
        self.workspace = workspace
        self.name = name
        self.subs: set[Subscription] = set()
        self.live = asyncio.Event()
        self.backlog = backlog

    def append(self, frame: Frame) -> None:
        """Log a frame for every subscription (O(1)); now and then drop what all have read."""
        self.backlog.append(frame)
        if self.backlog.appended % TRIM_EVERY == 0 and self.subs:
            self.backlog.trim(min(s.index for s in self.subs))


class Hub:
    """One per process (built by the app, closed by its lifespan). The listener task starts on
    the first subscription, in the running loop."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys | None = None,
        *,
        backend: Callable[[], Backend] | None = None,
        queue_max_events: int = 10_000,
        queue_max_bytes: int = 8 << 20,
        ping_interval: float = 5.0,
        backoff_cap: float = 5.0,
        on_deliver: Callable[[int], object] | None = None,
        on_reconnect: Callable[[], object] | None = None,
    ) -> None:
        self.keys = keys or Keys()
        self.stream = EventStream(redis, self.keys)
        if backend is None:
            if not isinstance(redis, Redis):  # a cluster SPUBLISHes: only ShardedPubSub hears it
                raise TypeError("a Redis Cluster client needs backend=ShardedPubSub (backends.py)")
            backend = functools.partial(RedisPubSub, redis)
        self.backend_factory = backend
        self.queue_max_events = queue_max_events
        self.queue_max_bytes = queue_max_bytes
        self.ping_interval = ping_interval
        self.backoff_cap = backoff_cap
        self.generation = 0
        self.connected = False
        self._channels: dict[str, _Channel] = {}  # by workspace
        self._by_name: dict[str, _Channel] = {}
        self._ops: dict[str, deque[str]] = {}  # SUBSCRIBE/UNSUBSCRIBE sent, reply not yet read
        self._outbox: deque[tuple[str, str]] = deque()  # ... queued for the writer task
        self._outbox_ready = asyncio.Event()
        self._backend: Backend | None = None
        self._task: asyncio.Task[None] | None = None
        self._wanted = asyncio.Event()
        self._closed = False
        self._ticks = 0
        self._count = 0  # subscriptions in all workspaces
        self._snapshots: SingleFlight[tuple[str, tuple[str, ...]], Snapshot, _Started] = (
            SingleFlight()
        )  # by (workspace, statuses)
        self.going_away = False
        self.waker = Waker()
        self.on_deliver = on_deliver  # the event id's ms, once per live event (metrics)
        self.on_reconnect = on_reconnect  # each pub/sub reconnection (metrics)

    # -- subscriptions -------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def subscribe(
        self, workspace_id: str, statuses: Iterable[str] | None = None
    ) -> AsyncIterator[Subscription]:
        """Register a subscription (buffering) for the block; always unsubscribed on exit.

        Args:
            statuses: receive only events of orders entering or leaving these (None: all).
        """
        if self._closed:
            raise RuntimeError("the hub is closed")
        ch = self._channels.get(workspace_id)
        if ch is None:
            backlog = FrameLog(self.queue_max_events, self.queue_max_bytes, self.waker)
            ch = _Channel(workspace_id, self.keys.channel(workspace_id), backlog)
            self._channels[workspace_id] = ch
            self._by_name[ch.name] = ch
            self._send("subscribe", ch.name)
        wanted = None if statuses is None else frozenset(s.encode() for s in statuses)
        sub = Subscription(self, ch, wanted)
        ch.subs.add(sub)
        self._count += 1
        self._wanted.set()
        self._ensure_running()
        try:
            yield sub
        finally:
            ch.subs.discard(sub)
            self._count -= 1
            if not ch.subs and self._channels.get(workspace_id) is ch:
                del self._channels[workspace_id]
                del self._by_name[ch.name]
                self._send("unsubscribe", ch.name)

    def _send(self, op: str, name: str) -> None:
        """Queue a SUBSCRIBE/UNSUBSCRIBE for the live connection, if there is one (on connect,
        the listener subscribes every channel). A writer task sends them in order: a cancelled
        client cannot leave one half-sent, and their replies arrive through the listener."""
        if self._backend is None or not self.connected:
            return
        self._ops.setdefault(name, deque()).append(op)
        self._outbox.append((op, name))
        self._outbox_ready.set()

    async def _write(self, backend: Backend) -> None:
        # Also ends by itself once its backend is dropped: redis-py can swallow a cancellation
        # that lands inside a command, and the listener must not wait for it forever.
        while self._backend is backend and not self._closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while self._outbox:
                op, name = self._outbox.popleft()
                await (backend.subscribe(name) if op == "subscribe" else backend.unsubscribe(name))

    def _tick(self) -> int:
        self._ticks += 1
        return self._ticks

    async def _snapshot(
        self, sub: Subscription, statuses: tuple[str, ...], generation: int
    ) -> Snapshot:
        key = (sub.workspace, statuses)
        flight = self._snapshots.get(key)
        # Join a read only if it started after this subscription was registered (else it may
        # cover events the subscription has not buffered) and in the same generation (else
        # events between it and the resubscription may be in neither).
        if (
            flight is None
            or flight.tag.tick < sub.registered
            or flight.tag.generation != generation
        ):
            read = self._read_snapshot(sub.workspace, statuses)
            flight = self._snapshots.start(key, read, _Started(self._tick(), generation))
        return await flight.result()

    async def _read_snapshot(self, workspace_id: str, statuses: tuple[str, ...]) -> Snapshot:
        bounds, orders = await self.stream.snapshot(workspace_id, statuses)
        return Snapshot(bounds, orders)

    def subscribers(self, workspace_id: str | None = None) -> int:
        if workspace_id is not None:
            ch = self._channels.get(workspace_id)
            return len(ch.subs) if ch else 0
        return self._count  # every paced socket write asks: O(1), not a sum over workspaces

    # -- lifecycle -----------------------------------------------------------------------------
    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            if self._task is not None and not self._task.cancelled() and self._task.exception():
                logger.error("live: listener died", exc_info=self._task.exception())
            self._task = asyncio.get_running_loop().create_task(self._run(), name="orderlog-hub")

    async def drain(self, within: float) -> None:
        """Shutting down: every subscription ends with ``GoingAway`` (WebSockets close with
        1001 and resume elsewhere); returns once they are gone, or after ``within`` seconds."""
        self.going_away = True
        for ch in self._channels.values():
            ch.backlog.wake()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                for _ in iter(self.subscribers, 0):  # until none is left
                    await asyncio.sleep(0.02)

    async def close(self) -> None:
        """Stop the listener (the lifespan calls this before closing Redis)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            # bounded: a cancellation swallowed inside redis-py ends the loops within a second
            await asyncio.wait({self._task}, timeout=3.0)
            self._task = None
        await self._drop_backend()

    async def _drop_backend(self) -> None:
        backend, self._backend = self._backend, None
        self.connected = False
        if backend is not None:
            await backend.close()

    # -- the listener --------------------------------------------------------------------------
    async def _run(self) -> None:
        delay = 0.0
        while not self._closed:
            await self._wanted.wait()
            started = asyncio.get_running_loop().time()
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the listener die: log, back off, reconnect
                logger.warning("live: pub/sub connection lost (%s: %s)", type(exc).__name__, exc)
            await self._drop_backend()
            self._down()
            if self.on_reconnect is not None:
                self.on_reconnect()
            if asyncio.get_running_loop().time() - started > 10:
                delay = 0.0  # it was up for a while: this is a new outage
            delay = min(self.backoff_cap, max(0.05, delay * 2))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    def _down(self) -> None:
        self.generation += 1
        self._ops.clear()
        self._outbox.clear()
        for ch in self._channels.values():
            if ch.live.is_set():
                ch.live.clear()
                ch.append(status_frame("reconnecting"))

    async def _listen(self) -> None:
        backend = self.backend_factory()
        self._backend = backend
        await backend.connect()
        self.connected = True
        names = list(self._by_name)
        if names:
            for name in names:
                self._ops.setdefault(name, deque()).append("subscribe")
            await backend.subscribe(*names)
        writer = asyncio.create_task(self._write(backend), name="orderlog-hub-writer")
        try:
            await self._read(backend, writer)
        finally:
            writer.cancel()
            await asyncio.wait({writer}, timeout=1.0)
            if writer.done() and not writer.cancelled():
                writer.exception()  # retrieved (the read loop raised what mattered)

    async def _read(self, backend: Backend, writer: asyncio.Task[None]) -> None:
        liveness = Liveness(self.ping_interval, backend.ping, "Redis")
        while not self._closed:
            if writer.done():
                writer.result()  # raises what broke the connection
            msg = await backend.get(POLL)
            if msg is None:
                await liveness.quiet(POLL)
                continue
            liveness.heard()
            kind, name, data = msg
            if kind == "message":
                ch = self._by_name.get(name)
                if ch is not None and ch.live.is_set():
                    frame = from_message(data)
                    ch.append(frame)
                    if self.on_deliver is not None and frame.id is not None:
                        self.on_deliver(frame.id[0])
            elif kind in ("subscribe", "unsubscribe"):
                await self._confirmed(kind, name)
            elif kind == "down":
                self._channel_down(name)

    def _channel_down(self, name: str) -> None:
        """One channel lost while the connection stays (a sharded backend lost the master that
        owns it): as ``_down`` for it alone; its ``subscribe`` confirmation catches it up."""
        self._ops.pop(name, None)
        ch = self._by_name.get(name)
        if ch is None or not ch.live.is_set():
            return
        self.generation += 1
        ch.live.clear()
        ch.append(status_frame("reconnecting"))

    async def _confirmed(self, kind: str, name: str) -> None:
        ops = self._ops.get(name)
        if ops:
            ops.popleft()
            if ops:
                return  # a later SUBSCRIBE/UNSUBSCRIBE of this channel is still in flight
            del self._ops[name]
        ch = self._by_name.get(name)
        if kind != "subscribe" or ch is None or ch.live.is_set():
            return
        await self._catch_up(ch)
        ch.live.set()
        if self.generation > 0:
            # Only for started subscriptions: one that starts later skips it (``start``).
            ch.append(status_frame("live"))

    async def _catch_up(self, ch: _Channel) -> None:
        """Fill the gap of a (re)subscribed channel from the stream: every event after the
        oldest position among its started subscriptions."""
        started = [s for s in ch.subs if s.position is not None and not s.lost]
        if not started:
            return
        position = min(s.position for s in started if s.position is not None)
        first_page = True
        while True:
            bounds, entries = await self.stream.page(ch.workspace, position, CATCH_UP_PAGE)
            if first_page:
                for sub in started:
                    assert sub.position is not None
                    problem = bounds.problem(sub.epoch or b"", sub.position)
                    if problem:
                        sub._lose(problem)
                first_page = False
            frames = from_entries(entries, bounds)
            for frame in frames:
                ch.append(frame)
            if len(frames) < CATCH_UP_PAGE:
                return
            position = frames[-1].id or position
