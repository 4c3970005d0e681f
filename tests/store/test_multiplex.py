"""The pipelined connection the hot scripts run on: replies in step, redis-py's errors, timeouts
and lost connections failing only the calls on them, and a new connection after either."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import uvloop
from redis import exceptions as rx

from orderlog.store import scripts
from orderlog.store.client import make_redis
from orderlog.store.multiplex import Multiplexed, pack

# Holds Redis for about ``ARGV[1]`` ms (Lua cannot sleep: it spins on TIME).
SPIN = """
local t = redis.call('TIME')
local until_us = t[1] * 1000000 + t[2] + ARGV[1] * 1000
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= until_us
return ARGV[2]
"""


@pytest.fixture
async def mux(redis: Any) -> Any:
    made = Multiplexed.beside(redis)
    assert made is not None
    yield made
    await made.aclose()


def test_multiplex_packs_arguments_as_redis_py_does() -> None:
    """Text as UTF-8, integers and floats in decimal, bytes as they are; nothing else."""
    assert pack(("SET", "k€", 5, 1.5, b"\x00")) == (
        b"*5\r\n$3\r\nSET\r\n$4\r\nk\xe2\x82\xac\r\n$1\r\n5\r\n$3\r\n1.5\r\n$1\r\n\x00\r\n"
    )
    with pytest.raises(TypeError):
        pack(("SET", "k", True))


async def test_multiplex_concurrent_calls_each_get_their_own_reply(mux: Any, redis: Any) -> None:
    """Hundreds of calls in flight at once on one connection each get the reply to their own
    command, as bytes, integers and lists as redis-py's clients here answer."""
    answers = await asyncio.gather(*(mux.execute("ECHO", f"v{i}") for i in range(500)))
    assert answers == [f"v{i}".encode() for i in range(500)]
    assert await mux.execute("RPUSH", "l", "a", "b") == 2
    assert await mux.execute("LRANGE", "l", 0, -1) == await redis.lrange("l", 0, -1)
    ids = await asyncio.gather(*(mux.execute("CLIENT", "ID") for _ in range(50)))
    assert len(set(ids)) == 1  # one connection


async def test_multiplex_error_replies_are_redis_py_exceptions(mux: Any, redis: Any) -> None:
    """An error reply raises redis-py's class for it (NOSCRIPT -> NoScriptError); the script
    runner falls back to EVAL on it and later calls run by SHA."""
    await redis.set("s", "text")
    with pytest.raises(rx.ResponseError, match="not an integer"):
        await mux.execute("INCR", "s")
    with pytest.raises(rx.NoScriptError):
        await mux.evalsha("0" * 40, 0)
    script = scripts.Script("ratelimit.lua")
    await redis.script_flush()
    reply = await script(mux, ["rl"], [1000, 5])
    assert reply == await script(redis, ["rl2"], [1000, 5])
    assert (await redis.script_exists(script.sha)) == [True]


async def test_multiplex_cancelled_caller_leaves_the_others_in_step(mux: Any) -> None:
    """A call cancelled while Redis works on it does not shift the replies of later calls."""
    slow = asyncio.ensure_future(mux.eval(SPIN, 0, 200, "slow"))
    await asyncio.sleep(0.05)
    slow.cancel()
    after = [asyncio.ensure_future(mux.execute("ECHO", f"after{i}")) for i in range(3)]
    assert await asyncio.gather(*after) == [b"after0", b"after1", b"after2"]
    assert slow.cancelled()


async def test_multiplex_timeout_fails_the_waiting_calls_then_reconnects(redis: Any) -> None:
    """Past the timeout every call waiting on the connection fails with TimeoutError, within
    the timeout and a little; the next call gets a fresh connection."""
    mux = Multiplexed.beside(redis)
    assert mux is not None
    mux.timeout = 0.3
    try:
        started = time.monotonic()
        waiting = await asyncio.gather(
            mux.execute("BLPOP", "nothing", 5),
            mux.execute("ECHO", "behind it"),
            return_exceptions=True,
        )
        assert all(isinstance(w, rx.TimeoutError) for w in waiting), waiting
        assert 0.3 <= time.monotonic() - started < 1.5
        assert await mux.execute("ECHO", "again") == b"again"
    finally:
        await mux.aclose()


async def test_multiplex_lost_connection_fails_the_waiting_calls_then_reconnects(
    mux: Any, redis: Any
) -> None:
    """A connection killed under a waiting call fails it with ConnectionError; the next call
    connects again."""
    conn_id = await mux.execute("CLIENT", "ID")
    waiting = asyncio.ensure_future(mux.execute("BLPOP", "nothing", 5))
    await asyncio.sleep(0.05)
    assert await redis.client_kill_filter(_id=conn_id) == 1
    with pytest.raises(rx.ConnectionError):
        await asyncio.wait_for(waiting, 2)
    assert await mux.execute("CLIENT", "ID") != conn_id


async def test_multiplex_unreachable_server_is_a_connection_error() -> None:
    """No server at the address: ConnectionError (the store maps it to 503), not a hang."""
    mux = Multiplexed(host="127.0.0.1", port=1, connect_timeout=1.0)
    with pytest.raises(rx.ConnectionError):
        await mux.execute("PING")
    await mux.aclose()


async def test_multiplex_follows_the_clients_database_and_credentials(
    redis: Any, redis_url: str
) -> None:
    """Built beside a client, it talks to the same database as the same user."""
    await redis.acl_setuser(
        "mux-test", enabled=True, passwords=["+s3cret"], keys=["*"], commands=["+@all"]
    )
    separator = "&" if "?" in redis_url else "?"
    scheme, rest = redis_url.split("://", 1)
    url = f"{scheme}://mux-test:s3cret@{rest}{separator}db=3"
    other = make_redis(url)
    mux = Multiplexed.beside(other)
    assert mux is not None
    try:
        await mux.execute("SET", "where", "db3")
        assert await other.get("where") == b"db3"
        assert await redis.get("where") is None
        assert (await mux.execute("ACL", "WHOAMI")) == b"mux-test"
        wrong = Multiplexed.beside(make_redis(url.replace("s3cret", "wrong")))
        assert wrong is not None
        with pytest.raises(rx.AuthenticationError):
            await wrong.execute("PING")
        await wrong.aclose()
    finally:
        await mux.aclose()
        await other.flushdb()
        await other.aclose()
        await redis.acl_deluser("mux-test")


def test_multiplex_under_uvloop(standalone_url: str) -> None:
    """The server's loop (uvloop): calls in step, and a timeout still fails the call and
    reconnects (uvloop runs due timers before reading sockets)."""

    async def run() -> None:
        redis = make_redis(standalone_url)
        mux = Multiplexed.beside(redis)
        assert mux is not None
        mux.timeout = 0.3
        try:
            echoes = await asyncio.gather(*(mux.execute("ECHO", str(i)) for i in range(200)))
            assert echoes == [str(i).encode() for i in range(200)]
            with pytest.raises(rx.TimeoutError):
                await mux.execute("BLPOP", "nothing", 2)
            assert await mux.execute("ECHO", "x") == b"x"
        finally:
            await mux.aclose()
            await redis.aclose()

    uvloop.run(run())
