"""Adaptive pacing of the live sockets' writes, from the event loop's lag.

One process serves ingest and fan-out on one event loop. Under heavy fan-out every loop
iteration runs thousands of socket tasks, and an ingest POST, which needs several iterations,
waits behind them: with a fixed write interval, at 500k-1M msgs/s the publisher's writes were
accepted at 80/100 and 634/1,000 per second with a p99 of seconds (docs/performance.md). The
sockets' pace (``http/live.py``: each writes at most every S / WRITES_PER_SECOND seconds) is
the lever: a longer interval means fewer, larger writes (one batch frame carries everything
pending), so less work per delivered event and shorter iterations.

A timer measures the lag (how late a short sleep wakes up). While it exceeds ``target`` the
stretch factor doubles (up to ``most``); once the loop keeps up again it decays back to 1, so
latency returns to the base pace when the load goes away. A stretched interval never exceeds
``ceiling`` (nor goes below the base): each socket's wait for its next write is part of every
event's latency, and past ~50 ms the bigger batches no longer pay for it.
"""

from __future__ import annotations

import asyncio
import contextlib


class Pacer:
    def __init__(
        self,
        period: float = 0.01,
        target: float = 0.01,
        most: float = 8.0,
        ceiling: float = 0.15,
    ) -> None:
        self.period = period
        self.target = target
        self.most = most
        self.ceiling = ceiling
        self.factor = 1.0
        self.lag = 0.0
        self._task: asyncio.Task[None] | None = None

    def stretch(self, interval: float) -> float:
        """The write interval to use instead of ``interval`` under the current lag."""
        return max(interval, min(interval * self.factor, self.ceiling))

    def observe(self, lag: float) -> None:
        """One lag sample (seconds): double the factor while lagging, else decay by 10%."""
        self.lag = lag
        if lag > self.target:
            self.factor = min(self.most, self.factor * 2)
        else:
            self.factor = max(1.0, self.factor * 0.9)

    def ensure_running(self) -> None:
        """Start the lag timer in the running loop (idempotent)."""
        if self._task is None or self._task.done():
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name="orderlog-pacer")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.period)
            self.observe(loop.time() - before - self.period)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
