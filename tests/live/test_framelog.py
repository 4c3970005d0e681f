"""The shared per-workspace frame log and the subscriptions reading it: bounds, slow consumers,
filters, positions, shared selections and encodings; plus the waker's bound per loop iteration.

The hub runs against a real Redis (``hub.subscribe`` subscribes its channel); events are
appended to the workspace's log directly, as the listener does with what pub/sub delivers.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orderlog.http.live import ws_texts
from orderlog.live.framelog import SLACK, FrameLog, Frames, Waker
from orderlog.live.frames import Frame, event, status_frame
from orderlog.live.hub import GoingAway, Hub, Overflow, Resync, Subscription
from support.server import Workspace


def ev(
    ms: int, status: str = "preparing", previous: str = "submitted", epoch: bytes = b"e"
) -> Frame:
    rest = b'"event":"order.status_changed","previous_status":"%s","order":{"id":"%d"}}' % (
        previous.encode(),
        ms,
    )
    return event(b"%d-0" % ms, status.encode(), epoch, rest)


def test_framelog_keeps_the_newest_frames_within_its_bounds() -> None:
    """Past the count bound the oldest frames go (in steps of SLACK); indexes never change."""
    log = FrameLog(max_events=10, max_bytes=1 << 20)
    frames = [ev(i) for i in range(1, 10 + SLACK + 2)]
    for frame in frames:
        log.append(frame)
    assert log.end == len(frames)
    assert log.base >= log.end - 10 - SLACK
    assert log.since(log.end - 10, log.end) == frames[-10:]
    assert not log.behind(log.end - 10, log.starts[log.end - 10 - log.base])
    assert log.behind(log.end - 11, log.starts[log.end - 11 - log.base])  # 11 behind: too far
    assert log.behind(log.base - 1, 0)  # already dropped


def test_framelog_byte_bound_counts_the_bytes_behind_a_reader() -> None:
    """A reader more than max_bytes behind the end is past the bounds, whatever the count."""
    size = len(ev(1).data)
    log = FrameLog(max_events=1000, max_bytes=3 * size)
    for i in range(1, 6):
        log.append(ev(i))
    assert not log.behind(2, 2 * size)  # 3 frames behind: exactly the bound
    assert log.behind(1, size)  # 4 frames behind
    log.trim(4)
    assert log.base == 4
    assert log.since(4, 5) == [log.frames[0]]


async def test_framelog_wakes_each_waiter_once_per_burst() -> None:
    """Appends resolve every waiting future in the next loop iteration; a burst in one
    iteration wakes each of them once."""
    log = FrameLog(10, 1 << 20)
    waiters = [log.waiter() for _ in range(3)]
    log.append(ev(1))
    assert not log._waiters  # swapped out: the next append of the burst has no one to wake
    log.append(ev(2))
    assert not any(f.done() for f in waiters)  # the appends of this iteration coalesce
    await asyncio.sleep(0)
    assert all(f.done() for f in waiters)
    late = log.waiter()
    async with asyncio.timeout(5):
        await log.wait(late, 0.01)  # nothing appended: times out quietly
    assert late.cancelled()  # timed out, not resolved
    assert not log._waiters  # forgotten after the wait


async def started(hub: Hub, sub: Subscription) -> None:
    await sub.wait_live(5)
    sub.start((0, 0), b"e")


async def test_framelog_subscription_falls_behind_into_overflow(
    redis: Any, workspace: Workspace
) -> None:
    """A subscription more than the bound behind is the slow consumer (Overflow); one that
    drains in time is not, however many frames pass through the log in all."""
    hub = Hub(redis, queue_max_events=5)
    try:
        async with hub.subscribe(workspace.id) as slow, hub.subscribe(workspace.id) as fast:
            await started(hub, slow)
            await started(hub, fast)
            backlog = slow._backlog
            got: list[Frame] = []
            for i in range(1, 4 * SLACK):
                backlog.append(ev(i))
                if i % 5 == 0:
                    got += await fast.next(0)
            got += await fast.next(0)
            assert [f.id for f in got] == [(i, 0) for i in range(1, 4 * SLACK)]
            with pytest.raises(Overflow):
                await slow.next(0)
            with pytest.raises(Overflow):  # it stays overflowed
                await slow.next(0)
    finally:
        await hub.close()


async def test_framelog_subscription_filters_and_skips_what_it_had(
    redis: Any, workspace: Workspace
) -> None:
    """Filtered subscriptions get orders entering or leaving their statuses; events at or
    before the start position and status frames logged before the start are skipped."""
    hub = Hub(redis)
    try:
        async with (
            hub.subscribe(workspace.id, ["preparing"]) as kitchen,
            hub.subscribe(workspace.id, ["completed"]) as counter,
            hub.subscribe(workspace.id) as everything,
        ):
            for sub in (kitchen, counter, everything):
                await sub.wait_live(5)
            backlog = kitchen._backlog
            backlog.append(ev(1, "preparing", "submitted"))
            backlog.append(status_frame("reconnecting"))  # before the start: not for them
            for sub in (kitchen, counter, everything):
                sub.start((1, 0), b"e")  # the snapshot covered event 1
            backlog.append(ev(2, "preparing", "submitted"))
            backlog.append(ev(3, "waiting_for_pickup", "preparing"))  # leaves preparing
            backlog.append(ev(4, "completed", "waiting_for_pickup"))
            backlog.append(status_frame("live"))
            ids = {}
            for name, sub in (("k", kitchen), ("c", counter), ("a", everything)):
                ids[name] = [f.id for f in await sub.next(0)]
            assert ids["k"] == [(2, 0), (3, 0), None]
            assert ids["c"] == [(4, 0), None]
            assert ids["a"] == [(2, 0), (3, 0), (4, 0), None]
            assert kitchen.position == counter.position == everything.position == (4, 0)
            # a filtered subscription woken by events it skips waits on for the next match
            waiting = asyncio.create_task(counter.next(5))
            await asyncio.sleep(0.01)
            backlog.append(ev(5, "preparing", "submitted"))
            await asyncio.sleep(0.01)
            assert not waiting.done()
            backlog.append(ev(6, "completed", "waiting_for_pickup"))
            async with asyncio.timeout(5):
                assert [f.id for f in await waiting] == [(6, 0)]
    finally:
        await hub.close()


async def test_framelog_subscriptions_share_one_selection_and_encoding(
    redis: Any, workspace: Workspace
) -> None:
    """Same filter, same range, same position: one Frames object, encoded once for sockets;
    another filter gets its own."""
    hub = Hub(redis)
    try:
        async with (
            hub.subscribe(workspace.id) as a,
            hub.subscribe(workspace.id) as b,
            hub.subscribe(workspace.id, ["completed"]) as c,
        ):
            for sub in (a, b, c):
                await started(hub, sub)
            a._backlog.append(ev(1))
            a._backlog.append(ev(2))
            fa, fb, fc = await a.next(0), await b.next(0), await c.next(0)
            assert fa is fb
            assert isinstance(fa, Frames)
            assert fc is not fa
            assert ws_texts(fa) is ws_texts(fb)
            (text,) = ws_texts(fa)
            assert text.startswith('{"type":"batch","events":[')
    finally:
        await hub.close()


async def test_framelog_epoch_change_is_a_resync_and_reset_drops_the_backlog(
    redis: Any, workspace: Workspace
) -> None:
    """An event of another epoch after the position: Resync('epoch'); after reset() the
    frames logged before it are not delivered."""
    hub = Hub(redis)
    try:
        async with hub.subscribe(workspace.id) as sub:
            await started(hub, sub)
            sub._backlog.append(ev(1))
            sub._backlog.append(ev(2, epoch=b"f"))
            with pytest.raises(Resync) as info:
                await sub.next(0)
            assert info.value.reason == "epoch"
            sub._backlog.append(ev(3, epoch=b"f"))
            sub.reset()
            sub._backlog.append(ev(4, epoch=b"f"))
            sub.start((3, 0), b"f")
            assert [f.id for f in await sub.next(0)] == [(4, 0)]
    finally:
        await hub.close()


async def test_framelog_positions_hold_across_the_physical_trim(
    redis: Any, workspace: Workspace
) -> None:
    """Frames every subscription has read are dropped (periodic trim) and the indexes of the
    rest still read the right frames."""
    hub = Hub(redis, queue_max_events=100_000)
    try:
        async with hub.subscribe(workspace.id) as sub:
            await started(hub, sub)
            channel = sub._channel
            seen: list[Any] = []
            for i in range(1, 1200):
                channel.append(ev(i))
                if i % 100 == 0:
                    seen += [f.id for f in await sub.next(0)]
            seen += [f.id for f in await sub.next(0)]
            assert seen == [(i, 0) for i in range(1, 1200)]
            assert sub._backlog.base > 0  # trimmed to the subscription's index meanwhile
            assert len(sub._backlog.frames) < 300
    finally:
        await hub.close()


async def test_framelog_waker_resolves_a_bounded_number_per_loop_iteration() -> None:
    """An append with more waiters than the waker's turn resolves ``per_turn`` of them at once,
    the next ``per_turn`` in the next loop iteration, oldest first, across every log sharing
    the waker; waiters that gave up meanwhile are skipped."""
    waker = Waker(per_turn=10)
    first, second = FrameLog(10, 1 << 20, waker), FrameLog(10, 1 << 20, waker)
    older = [first.waiter() for _ in range(15)]
    newer = [second.waiter() for _ in range(10)]
    older[12].cancel()  # its sender left
    first.append(ev(1))
    second.append(ev(1))
    assert not any(f.done() for f in older[:12] + newer)  # nothing before the next iteration
    await asyncio.sleep(0)
    assert [f.done() for f in older] == [True] * 10 + [False] * 2 + [True] + [False] * 2
    assert not any(f.done() for f in newer)
    turns = 1
    while not all(f.done() for f in newer):
        await asyncio.sleep(0)  # one loop iteration
        turns += 1
        assert sum(f.done() and not f.cancelled() for f in older + newer) <= 10 * turns
    assert turns == 3
    assert all(f.done() for f in older)


class Recorder:
    """A ``Writer`` that keeps what it is given; ``open`` says whether it takes writes now."""

    def __init__(self) -> None:
        self.open = True
        self.writes: list[list[Frame]] = []

    def ready(self) -> bool:
        return self.open

    def write(self, frames: Frames) -> None:
        self.writes.append(list(frames))


async def test_framelog_pushes_to_a_writer_while_the_sender_waits(
    redis: Any, workspace: Workspace
) -> None:
    """With a writer, new frames are written by the waker (one write per iteration's appends)
    and the waiting sender stays asleep; a writer not ready hands them to the sender, in order,
    with nothing lost or sent twice; an overflow still reaches the sender."""
    hub = Hub(redis, queue_max_events=50)
    try:
        async with hub.subscribe(workspace.id) as sub, hub.subscribe(workspace.id) as other:
            await started(hub, sub)
            await started(hub, other)
            writer = Recorder()
            sub.write_to(writer)
            backlog = sub._backlog
            sender = asyncio.create_task(sub.next())
            await asyncio.sleep(0.01)
            backlog.append(ev(1))
            backlog.append(ev(2))  # the same iteration: one write of both
            await asyncio.sleep(0.01)
            backlog.append(ev(3))
            await asyncio.sleep(0.01)
            assert [[f.id for f in w] for w in writer.writes] == [[(1, 0), (2, 0)], [(3, 0)]]
            assert not sender.done()  # pushed, not woken
            assert sub.position == (3, 0)

            writer.open = False  # e.g. the client stopped reading: flow control holds writes
            backlog.append(ev(4))
            async with asyncio.timeout(5):
                assert [f.id for f in await sender] == [(4, 0)]  # the sender's own write
            assert len(writer.writes) == 2
            writer.open = True
            sender = asyncio.create_task(sub.next())
            await asyncio.sleep(0.01)
            backlog.append(ev(5))
            await asyncio.sleep(0.01)
            assert [f.id for f in writer.writes[-1]] == [(5, 0)]
            assert not sender.done()

            for i in range(6, 60):  # ``other`` reads nothing: past the bound, a slow consumer
                backlog.append(ev(i))
                await asyncio.sleep(0)
            await asyncio.sleep(0.01)
            with pytest.raises(Overflow):
                await other.next(0)
            got = [f.id for w in writer.writes for f in w]
            assert got == [(i, 0) for i in range(1, 60) if i != 4]  # the pushed one kept up
            assert not sender.done()

            hub.going_away = True  # shutting down (Hub.drain): the sender must see it
            backlog.wake()
            async with asyncio.timeout(5):
                with pytest.raises(GoingAway):
                    await sender
    finally:
        await hub.close()


async def test_framelog_push_that_fails_hands_its_frames_to_the_sender(
    redis: Any, workspace: Workspace
) -> None:
    """A writer that raises (a bug) is dropped: the frames it was given go to the sender, then
    the next ones too; an overflow and a lost position raise in the sender, not in the waker."""

    class Broken(Recorder):
        def write(self, frames: Frames) -> None:
            raise RuntimeError("broken writer")

    hub = Hub(redis, queue_max_events=5)
    try:
        async with hub.subscribe(workspace.id) as sub, hub.subscribe(workspace.id) as lossy:
            await started(hub, sub)
            await started(hub, lossy)
            sub.write_to(Broken())
            sender = asyncio.create_task(sub.next())
            await asyncio.sleep(0.01)
            sub._backlog.append(ev(1))
            async with asyncio.timeout(5):
                assert [f.id for f in await sender] == [(1, 0)]
            sub._backlog.append(ev(2))
            assert [f.id for f in await sub.next(0)] == [(2, 0)]

            assert [f.id for f in await lossy.next(0)] == [(1, 0), (2, 0)]
            writer = Recorder()
            lossy.write_to(writer)
            sender = asyncio.create_task(lossy.next())
            await asyncio.sleep(0.01)
            lossy._backlog.append(ev(3, epoch=b"another"))  # the stream was lost and remade
            async with asyncio.timeout(5):
                with pytest.raises(Resync):
                    await sender
            assert writer.writes == []
    finally:
        await hub.close()
