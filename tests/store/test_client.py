"""The store boundary (``unavailable``): what leaves a Redis call as StoreUnavailable (503) and
what stays an error of ours (500), against a real Redis and redis-py's own code."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from redis import exceptions as rx
from redis.asyncio import Connection

from orderlog.errors import StoreUnavailable
from orderlog.store.client import close_redis, make_redis, unavailable
from orderlog.store.embedded import EmbeddedRedis, free_port

# A script that runs for 1 s (TIME in microseconds; whole seconds would end it at the next tick).
BUSY_LOOP = """
local function now() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end
local start = now()
while now() - start < 1000000 do end
return 1
"""


async def test_client_any_error_inside_redis_py_is_store_unavailable(redis_url: str) -> None:
    """An error of any type raised inside the client library is the store failing: redis-py's
    cluster client has raised ``AttributeError: 'NoneType' object has no attribute
    'writelines'`` on a connection a failover closed mid-write; here redis-py's own write raises
    it on a connection that has no socket."""
    host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
    closed = Connection(host=host, port=int(port))
    with pytest.raises(StoreUnavailable) as caught, unavailable():
        await closed._send_packed_command([b"PING\r\n"])
    assert isinstance(caught.value.__cause__, AttributeError)
    assert "writelines" in str(caught.value.__cause__)
    assert caught.value.status_code == 503
    assert caught.value.headers() == {"Retry-After": "1"}
    assert "AttributeError in the Redis client" in caught.value.message


async def test_client_errors_of_the_command_stay_errors(redis: Any) -> None:
    """A reply saying the command was wrong (WRONGTYPE, a Lua error), an argument redis-py cannot
    send, and an error of our own code inside the block are bugs (500s), not the store."""
    await redis.hset("h", "f", "v")
    with pytest.raises(rx.ResponseError, match="WRONGTYPE"), unavailable():
        await redis.get("h")
    with pytest.raises(rx.ResponseError, match="attempt to"), unavailable():
        await redis.eval("return nil + 1", 0)
    with pytest.raises(rx.DataError), unavailable():
        await redis.set("k", {"not": "encodable"})
    with pytest.raises(AttributeError), unavailable():
        (await redis.ping()).missing  # noqa: B018  (a bug of ours after a good reply)


async def test_client_busy_script_and_broken_connections_are_unavailable(tmp_path: Path) -> None:
    """BUSY (a script past busy-reply-threshold) is a 503; a connection closed under an
    in-flight command is a 503 too, and the client drops it: the next command, on a pool of
    one connection, works."""
    server = EmbeddedRedis(tmp_path, port=free_port(), extra_args=("--busy-reply-threshold", "100"))
    url = await asyncio.to_thread(server.start)
    busy, other = make_redis(url, timeout=5), make_redis(url, timeout=5, max_connections=1)
    try:
        script = asyncio.create_task(busy.eval(BUSY_LOOP, 0))
        await asyncio.sleep(0.3)  # past the 100 ms threshold: Redis answers others BUSY
        with pytest.raises(StoreUnavailable, match="BUSY"), unavailable():
            await other.get("k")
        assert await script == 1
        slow = asyncio.create_task(other.blpop(["nothing"], timeout=2))  # blocks its connection
        await asyncio.sleep(0.2)
        await other.connection_pool.disconnect()  # the socket goes under the in-flight command
        with pytest.raises(StoreUnavailable), unavailable():
            await slow
        async with asyncio.timeout(5):  # a leaked connection would block the pool of one
            assert await other.ping()
    finally:
        await close_redis(busy)
        await close_redis(other)
        await asyncio.to_thread(server.stop)
