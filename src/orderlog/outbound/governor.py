"""Ingest first: webhook deliveries yield while the process is busy.

Deliveries run in the same processes (and event loops) as the ingest API. Webhooks are
asynchronous by nature, an order write is not: when the loop lags (a timer wakes up late)
*and* this process used most of its time on the CPU meanwhile (so the lag is its own work, not
the machine's other processes taking the core), each delivery waits a pause before it starts,
doubling while that lasts (up to ``most``) and halving once the loop keeps up again. Under a
burst the webhooks fall behind (their lag metric shows by how much) and catch up afterwards;
the ingest path keeps its throughput (bench/webhooks.py measures both).
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class Governor:
    def __init__(
        self,
        period: float = 0.05,
        target: float = 0.01,
        busy: float = 0.5,
        least: float = 0.005,
        most: float = 1.0,
    ) -> None:
        self.period = period
        self.target = target
        self.busy = busy
        self.least = least
        self.most = most
        self.lag = 0.0
        self.pause = 0.0
        self._task: asyncio.Task[None] | None = None

    def observe(self, lag: float, busy: float) -> None:
        """One sample: the loop's lag (seconds) and the share of the time this process spent
        on the CPU meanwhile."""
        self.lag = lag
        if lag > self.target and busy >= self.busy:
            self.pause = min(self.most, max(self.least, self.pause * 2))
        elif self.pause:
            self.pause = 0.0 if self.pause <= self.least else self.pause / 2

    async def turn(self) -> None:
        """Wait for this delivery's turn: at once while the loop keeps up."""
        if self.pause:
            await asyncio.sleep(self.pause)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="orderlog-webhook-governor"
            )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before, cpu = loop.time(), time.process_time()
            await asyncio.sleep(self.period)
            wall = loop.time() - before
            self.observe(wall - self.period, (time.process_time() - cpu) / wall)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
