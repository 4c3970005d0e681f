"""The single-flight table: callers of a key share one read; each caller decides, from the
flight's tag, whether a read in flight will do for it."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from orderlog.singleflight import SingleFlight


class Reads:
    """Reads that count how often they ran and end when the test opens the gate."""

    def __init__(self) -> None:
        self.count = 0
        self.gate = asyncio.Event()

    async def read(self, answer: str) -> str:
        self.count += 1
        await self.gate.wait()
        return answer


async def test_singleflight_callers_of_a_key_share_one_read() -> None:
    """A hundred callers joining a key's flight get the one read's answer; once it has landed the
    key is free for a new read."""
    flights: SingleFlight[str, str, None] = SingleFlight()
    reads = Reads()
    flight = flights.start("k", reads.read("x"), None)
    callers = []
    for _ in range(100):
        joined = flights.get("k")
        assert joined is flight
        callers.append(asyncio.ensure_future(joined.result()))
    reads.gate.set()
    async with asyncio.timeout(5):
        assert await asyncio.gather(*callers) == ["x"] * 100
        await asyncio.sleep(0)  # the landing callback
    assert reads.count == 1
    assert flights.get("k") is None


async def test_singleflight_in_flight_read_is_visible_until_it_lands() -> None:
    """While a read is in flight the caller can see it and answer from what it had (the key
    cache serves its previous answer during a re-read); a caller that waits gets the new one."""
    flights: SingleFlight[str, str, None] = SingleFlight()
    reads = Reads()
    flight = flights.start("k", reads.read("new"), None)
    await asyncio.sleep(0)
    assert flights.get("k") is flight
    assert not flight.future.done()  # a caller with an older answer need not wait for it
    waiting = asyncio.ensure_future(flight.result())
    await asyncio.sleep(0)
    assert not waiting.done()
    reads.gate.set()
    async with asyncio.timeout(5):
        assert await waiting == "new"
        await asyncio.sleep(0)
    assert flights.get("k") is None


async def test_singleflight_a_caller_may_refuse_a_flight_and_start_its_own() -> None:
    """A caller for whom the flight's tag will not do (the hub: started before it registered, or
    in another generation) starts its own; later callers find the new one, and the old still
    ends for those who joined it."""
    flights: SingleFlight[str, str, int] = SingleFlight()
    old_reads, new_reads = Reads(), Reads()
    old = flights.start("k", old_reads.read("old"), 1)
    joined_old = asyncio.ensure_future(old.result())
    current = flights.get("k")
    assert current is not None
    assert current.tag == 1
    new = flights.start("k", new_reads.read("new"), 2)
    assert flights.get("k") is new
    old_reads.gate.set()
    async with asyncio.timeout(5):
        assert await joined_old == "old"
        await asyncio.sleep(0)
    assert flights.get("k") is new  # the old one's landing leaves the new one in place
    new_reads.gate.set()
    async with asyncio.timeout(5):
        assert await new.result() == "new"


async def test_singleflight_cancelled_caller_leaves_the_read_running() -> None:
    """A caller that goes away (its socket closed) does not cancel the others' read."""
    flights: SingleFlight[str, str, None] = SingleFlight()
    reads = Reads()
    flight = flights.start("k", reads.read("x"), None)
    leaving = asyncio.ensure_future(flight.result())
    staying = asyncio.ensure_future(flight.result())
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.sleep(0)
    reads.gate.set()
    async with asyncio.timeout(5):
        assert await staying == "x"
    assert leaving.cancelled()
    assert reads.count == 1


async def test_singleflight_failure_reaches_its_callers_and_is_retrieved() -> None:
    """A failed read raises in every caller, frees the key, and leaves no "exception never
    retrieved" behind even when every caller had left."""
    flights: SingleFlight[str, str, None] = SingleFlight()
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: reported.append(context))

    async def failing() -> str:
        await asyncio.sleep(0)
        raise ConnectionError("away")

    try:
        flight = flights.start("k", failing(), None)
        callers = [asyncio.ensure_future(flight.result()) for _ in range(3)]
        async with asyncio.timeout(5):
            for caller in callers:
                with pytest.raises(ConnectionError):
                    await caller
            await asyncio.sleep(0)
        assert flights.get("k") is None

        abandoned = flights.start("k", failing(), None)
        async with asyncio.timeout(5):
            await asyncio.wait({abandoned.future})  # waits without retrieving its exception
            await asyncio.sleep(0)
        del abandoned
        gc.collect()
        assert reported == []
    finally:
        loop.set_exception_handler(None)
