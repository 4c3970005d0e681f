"""The pub/sub backends' liveness rule: a quiet connection is PINGed once, and lost if nothing
answers; against a real Redis through a TCP fault proxy, and as a rule on its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orderlog.live.backends import Liveness, RedisPubSub
from orderlog.store.client import make_redis
from support.faultproxy import FaultProxy

STEP = 0.05  # seconds each read waits, as the hub's POLL does


async def read_for(backend: RedisPubSub, liveness: Liveness, seconds: float) -> list[str]:
    """Read as the hub does for ``seconds``; the kinds of the messages that arrived."""
    loop = asyncio.get_running_loop()
    kinds = []
    end = loop.time() + seconds
    while loop.time() < end:
        msg = await backend.get(STEP)
        if msg is None:
            await liveness.quiet(STEP)
            continue
        liveness.heard()
        kinds.append(msg[0])
    return kinds


async def test_backends_liveness_pings_a_quiet_redis_and_gives_up_on_a_silent_one(
    redis_url: str, redis: Any
) -> None:
    """A quiet subscription is PINGed and Redis's pongs keep it alive; once the link silently
    drops everything, the connection is declared lost (within two intervals of quiet)."""
    host, port = redis_url.split("://", 1)[1].split(":")
    proxy = await FaultProxy(host, int(port)).start()
    client = make_redis(proxy.url, timeout=5)
    backend = RedisPubSub(client)
    try:
        await backend.connect()
        await backend.subscribe("quiet-channel")
        liveness = Liveness(0.2, backend.ping, "proxy")
        kinds = await read_for(backend, liveness, 1.0)
        assert kinds[0] == "subscribe"
        assert kinds.count("pong") >= 2  # one PING per 0.2 s of quiet, each answered

        proxy.set_mode("blackhole")
        with pytest.raises(ConnectionError, match="no pong from proxy"):
            await read_for(backend, liveness, 5.0)
    finally:
        await backend.close()
        await client.aclose()
        await proxy.stop()


async def test_backends_liveness_rule() -> None:
    """One PING after an interval of quiet, none while it is unanswered, lost after another
    interval; any message starts the count again."""
    pings = 0

    async def ping() -> None:
        nonlocal pings
        pings += 1

    liveness = Liveness(2.0, ping, "node")
    await liveness.quiet(1.0)
    assert pings == 0
    await liveness.quiet(1.0)
    assert pings == 1
    await liveness.quiet(1.0)
    assert pings == 1  # still waiting for its answer
    liveness.heard()  # the pong (or any message)
    for _ in range(3):
        await liveness.quiet(1.0)
    assert pings == 2
    with pytest.raises(ConnectionError, match="no pong from node"):
        await liveness.quiet(1.0)
