"""Graceful shutdown: on SIGTERM (or SIGINT), close live connections with 1001 *before* uvicorn
starts its own shutdown.

uvicorn's shutdown stops accepting, closes every WebSocket with 1012 at once, waits for
in-flight requests (``timeout_graceful_shutdown``) and only then runs the lifespan's shutdown:
too late to choose the close code. So the app wraps uvicorn's signal handler for the duration
of its lifespan: the signal first drains the hub (WebSockets close with 1001 "going away",
SSE streams and long-polls end; clients resume from their cursor on another process), bounded
by ``within`` seconds, then hands the signal to uvicorn, which finishes in-flight writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def install(drain: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Run ``drain`` on SIGTERM/SIGINT before the handler in place (uvicorn's); returns the
    function that puts the previous handlers back. A no-op off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in SIGNALS}
    tasks: set[asyncio.Task[None]] = set()

    async def run(sig: int, frame: FrameType | None) -> None:
        with contextlib.suppress(Exception):
            await drain()
        handler = previous[sig]
        if callable(handler):
            handler(sig, frame)
        else:  # the default action (no server handler was installed): let it happen
            signal.signal(sig, handler)
            signal.raise_signal(sig)

    def on_signal(sig: int, frame: FrameType | None) -> None:
        def start() -> None:
            task = loop.create_task(run(sig, frame))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        loop.call_soon_threadsafe(start)

    for sig in SIGNALS:
        signal.signal(sig, on_signal)

    def uninstall() -> None:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is on_signal:
                signal.signal(sig, handler)

    return uninstall
