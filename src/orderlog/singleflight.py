"""Single flight: concurrent callers of the same key share one read instead of each making it.

Thousands of live sockets ask for the same thing at once (a key re-check every second, a
snapshot when a deploy reconnects every screen): one read per key, not one per caller. The
caller decides whether a read in flight will do for it (``Flight.tag`` says what it knows about
the read's start); this module only keeps the reads in flight and shares their results.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


class Flight(Generic[V, T]):
    """One read in progress, shared by whoever joins it."""

    __slots__ = ("future", "tag")

    def __init__(self, future: asyncio.Future[V], tag: T) -> None:
        self.future = future
        self.tag = tag

    async def result(self) -> V:
        """The read's result, or its exception. A caller that is cancelled while waiting (its
        socket closed) leaves the read running for the others."""
        return await asyncio.shield(self.future)


class SingleFlight(Generic[K, V, T]):
    """The reads in flight, at most one per key; a read leaves the table when it ends."""

    def __init__(self) -> None:
        self._flights: dict[K, Flight[V, T]] = {}

    def get(self, key: K) -> Flight[V, T] | None:
        """The key's read in flight, if any."""
        return self._flights.get(key)

    def start(self, key: K, read: Coroutine[Any, Any, V], tag: T) -> Flight[V, T]:
        """Run ``read`` as the key's flight. A flight it replaces still ends for those who
        joined it; later callers find this one."""
        flight = Flight(asyncio.ensure_future(read), tag)
        self._flights[key] = flight
        flight.future.add_done_callback(functools.partial(self._landed, key, flight))
        return flight

    def _landed(self, key: K, flight: Flight[V, T], _: object) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.future.cancelled():
            flight.future.exception()  # retrieved: its callers got it, or all of them left
