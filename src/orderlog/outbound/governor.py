"""Ingest first: webhook deliveries yield while the process is busy.

Deliveries run in the same processes (and event loops) as the ingest API. Webhooks are
asynchronous by nature, an order write is not: while the process is under pressure, each
delivery waits a pause before it starts, doubling while the pressure lasts (up to ``most``)
and halving once it is gone, so under a burst the webhooks fall behind (their lag metric shows
by how much) and catch up afterwards, and the ingest path keeps its throughput
(bench/webhooks.py measures both).

Pressure is a loop that lags (a timer wakes up late: other work was ready) *while* this process
used most of its time on the CPU (so the lag is its own work, not the machine's other processes
taking the core). Both are smoothed over a few samples: a saturated ingest keeps the loop a few
milliseconds late on average but leaves single samples on time often, and a pause that halved
at every such sample never grew (deliveries then went out at full speed beside the saturated
ingest). Deliveries alone (a catch-up) do not make the loop lag: each yields at every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class Governor:
    def __init__(
        self,
        period: float = 0.05,
        target: float = 0.002,
        busy: float = 0.5,
        least: float = 0.005,
        most: float = 1.0,
        smoothing: float = 0.25,
    ) -> None:
        self.period = period
        self.target = target
        self.busy = busy
        self.least = least
        self.most = most
        self.smoothing = smoothing  # weight of a new sample in the running averages
        self.lag = 0.0  # smoothed
        self.load = 0.0  # smoothed share of the time on the CPU
        self.pause = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def pressed(self) -> bool:
        return self.lag > self.target and self.load >= self.busy

    def observe(self, lag: float, busy: float) -> None:
        """One sample: the loop's lag (seconds) and the share of the time this process spent
        on the CPU meanwhile."""
        w = self.smoothing
        self.lag += w * (max(0.0, lag) - self.lag)
        self.load += w * (busy - self.load)
        if self.pressed:
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
