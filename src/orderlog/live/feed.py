"""What a live client receives from its cursor on, the same for every transport.

A fresh client gets a snapshot, then events; a resuming one the events after its cursor, then
live ones; one whose cursor cannot be resumed (another epoch, older than the stream keeps) gets
``reset`` and a fresh snapshot. Never a silent gap.

The switch to live is exact: the subscription is registered (buffering) *before* the snapshot or
the replay is read, and the read happens while the hub's channel is live and stays so (checked
with the hub's generation); the subscription then drops what the read covered. No event is lost,
none is sent twice, and a client never sees an older version of an order after a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from orderlog.live.frames import Cursor, Frame, Snapshot, from_entries, reset_frame
from orderlog.live.hub import Overflow, Resync, Subscription
from orderlog.store.events import EventStream, StreamId

PAGE = 1000


@dataclass(frozen=True, slots=True)
class Poll:
    """One long-poll answer: events after the cursor, the cursor to poll from next, and on a
    fresh start or a reset, the snapshot to start from."""

    events: list[Frame]
    cursor: bytes
    reset: str | None = None
    snapshot: Snapshot | None = None


class Feed:
    def __init__(
        self,
        stream: EventStream,
        workspace_id: str,
        snapshot_statuses: tuple[str, ...],
        *,
        live_timeout: float = 10.0,
        heartbeat: float | None = None,
        on_resume: Callable[[str], object] | None = None,
    ) -> None:
        """Args:
        snapshot_statuses: the statuses a snapshot shows (the workflow's active ones, within
            the client's filter).
        heartbeat: ``frames`` yields ``[]`` after this many idle seconds (SSE comments).
        """
        self.stream = stream
        self.workspace = workspace_id
        self.snapshot_statuses = snapshot_statuses
        self.live_timeout = live_timeout
        self.heartbeat = heartbeat
        self.on_resume = on_resume  # "replayed" or "reset", once per client with a cursor

    async def frames(
        self, sub: Subscription, cursor: Cursor | None
    ) -> AsyncGenerator[list[Frame], None]:
        """The frames to send, in order, forever (a transport sends each list as one write).

        Raises:
            Overflow: the client fell too far behind (close it; it resumes from its cursor).
            TimeoutError: the hub could not reach Redis within ``live_timeout``.
            StoreUnavailable: Redis failed a read.
        """
        # The phase before live: a replay from the cursor, or a snapshot (after a reset).
        start: AsyncGenerator[list[Frame], None] | None = (
            self._fresh(sub, "") if cursor is None else self._replay(sub, cursor)
        )
        resuming = cursor is not None
        while True:
            if start is not None:
                try:
                    async for frames in start:
                        yield frames
                    start = None
                    outcome = "replayed"
                except Resync as exc:
                    start = self._fresh(sub, exc.reason)
                    outcome = "reset"
                if resuming and self.on_resume is not None:
                    self.on_resume(outcome)
                resuming = False
                continue
            try:
                yield await sub.next(self.heartbeat)
            except Resync as exc:
                start = self._fresh(sub, exc.reason)

    async def _fresh(self, sub: Subscription, reason: str) -> AsyncGenerator[list[Frame], None]:
        sub.reset()
        if reason:
            yield [reset_frame(reason)]
        generation = await sub.wait_live(self.live_timeout)
        snap = await sub.snapshot(self.snapshot_statuses, generation)
        yield [snap.frame()]
        epoch = snap.bounds.epoch or b""
        if sub.still_live(generation):
            sub.start(snap.bounds.last, epoch)
            return
        async for frames in self._replay(sub, Cursor(epoch, snap.bounds.last)):
            yield frames

    async def _replay(self, sub: Subscription, cursor: Cursor) -> AsyncGenerator[list[Frame], None]:
        async with contextlib.aclosing(self._pages(sub, cursor)) as pages:
            async for frames, _ in pages:
                yield frames

    async def _pages(
        self, sub: Subscription, cursor: Cursor
    ) -> AsyncGenerator[tuple[list[Frame], StreamId], None]:
        """Page through the stream after ``cursor`` until caught up while the channel stayed
        live, then start the subscription there. Yields each page's events that ``sub`` takes
        (if any) with the stream id the page reached.

        Raises:
            Resync: the cursor cannot be resumed from (the reason is a reset's).
        """
        position = cursor.id
        while True:
            generation = await sub.wait_live(self.live_timeout)
            bounds, entries = await self.stream.page(self.workspace, position, PAGE)
            problem = bounds.problem(cursor.epoch, position)
            if problem:
                raise Resync(problem)
            frames = from_entries(entries, bounds)
            if frames:
                position = frames[-1].id or position
                matching = [f for f in frames if sub.matches(f)]
                if matching:
                    yield matching, position
            if len(frames) < PAGE and sub.still_live(generation):
                break
        sub.start(position, cursor.epoch)

    async def poll(self, sub: Subscription, cursor: Cursor | None, wait: float) -> Poll:
        """Events after ``cursor`` at once if there are any, else the first ones within
        ``wait`` seconds; no cursor or a stale one: a snapshot to start from."""
        if cursor is None:
            return await self._poll_snapshot(sub, None)
        try:
            async with contextlib.aclosing(self._pages(sub, cursor)) as pages:
                async for matching, reached in pages:
                    return Poll(matching, Cursor(cursor.epoch, reached).encode())
        except Resync as exc:
            return await self._poll_snapshot(sub, exc.reason)
        position = sub.position or cursor.id  # where the pages ended: the subscription started
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        events: list[Frame] = []
        while not events:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                events = [f for f in await sub.next(remaining) if f.id is not None]
            except Resync as exc:
                return await self._poll_snapshot(sub, exc.reason)
            except Overflow:  # the client polls again at once and pages through the stream
                return Poll([], Cursor(cursor.epoch, position).encode())
        return Poll(events, Cursor(cursor.epoch, sub.position or position).encode())

    async def _poll_snapshot(self, sub: Subscription, reason: str | None) -> Poll:
        snap = await sub.snapshot(self.snapshot_statuses, sub.generation)
        return Poll([], snap.cursor, reason, snap)
