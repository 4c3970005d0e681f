"""Rate limits per API key: GCRA (the generic cell rate algorithm), configured per key scope.

One Redis string per key (``keys.rate_limit``, in the workspace's slot) holds the theoretical
arrival time (TAT) in microseconds of Redis' clock. A request is allowed when it arrives no
earlier than ``TAT + interval - burst * interval``; so ``burst`` requests may come at once,
then one every ``interval = 1 / rate``. One Lua call decides and updates (``gcra`` in
store/common.lua): for writes inside write.lua, in the same round trip as the write; for every
other authenticated request, and a write refused before it reaches write.lua, in ratelimit.lua
(one extra round trip, see docs/guarantees.md).

This module is pure: the limits, what a check returns, and its HTTP headers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from orderlog.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Limit:
    """``rate`` requests per second on average, up to ``burst`` at once."""

    rate: float
    burst: int

    @property
    def interval_us(self) -> int:
        return max(1, round(1_000_000 / self.rate))

    def args(self) -> list[int]:
        """The two script arguments: emission interval (us) and burst."""
        return [self.interval_us, self.burst]


OFF = [0, 0]  # script arguments meaning "no limit"


@dataclass(slots=True)
class Quota:
    """What one check answered. ``retry_after`` > 0 means the request was refused."""

    limit: int
    remaining: int
    reset: float  # seconds until the key's full burst is available again
    retry_after: float = 0.0

    @classmethod
    def from_script(cls, limit: Limit, remaining: int, reset_us: int, retry_us: int) -> Quota:
        return cls(limit.burst, max(0, int(remaining)), reset_us / 1e6, retry_us / 1e6)

    @property
    def allowed(self) -> bool:
        return self.retry_after <= 0

    def error(self) -> RateLimited:
        return RateLimited(self.retry_after, self.limit, self.reset)

    def headers(self) -> list[tuple[bytes, bytes]]:
        """``X-RateLimit-*`` for a response that was allowed (429s get theirs from errors)."""
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(max(0, math.ceil(self.reset))).encode()),
        ]


@dataclass(slots=True)
class RateCheck:
    """One request's check: which key, which limit; ``quota`` is filled by the store."""

    key_id: str
    limit: Limit
    quota: Quota | None = None
