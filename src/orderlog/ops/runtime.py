"""Process-wide tuning a server applies once at startup.

The cyclic garbage collector: with the default thresholds (700, 10, 10), a server holding
thousands of live sockets (each a task, a protocol, buffers and futures) collected young
generations hundreds of times a second and re-scanned the whole heap often. Measured with 5,000
WebSocket subscribers at 100 events/s: 50 s in the collector for about 25 s of wall time
(docs/performance.md). Reference counting frees almost everything here; the collector only
needs to find the occasional cycle, so it can run far less often.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000  # net allocations between young collections (Python's default: 700)


def tune_gc(gen0_threshold: int = GEN0_THRESHOLD) -> None:
    """Collect the young generation every ``gen0_threshold`` net allocations instead of 700,
    and move everything alive after startup (modules, app, settings) out of the collector's
    scans for good (``gc.freeze``). 0 leaves Python's defaults."""
    if gen0_threshold <= 0:
        return
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
