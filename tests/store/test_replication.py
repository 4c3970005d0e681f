"""Writes acknowledged by replicas (ORDERLOG_WAIT_REPLICAS): a real master and replica."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderlog.app import build_state, create_app
from orderlog.domain import inputs
from orderlog.domain.model import DEFAULT_WORKFLOW
from orderlog.errors import NotReplicated
from orderlog.keys import Keys
from orderlog.settings import Settings
from orderlog.store.client import close_redis, make_redis
from orderlog.store.embedded import EmbeddedRedis, free_ports
from orderlog.store.orders import Idempotency
from support.api import CUSTOMER, assert_error
from support.server import WithState, Workspace

SHORT = 0.3  # seconds a write waits for a replica that is frozen here
PATIENT = 5.0  # ... for a healthy one (a loaded machine can stall a process that long)


@dataclass
class Pair:
    master: EmbeddedRedis
    replica: EmbeddedRedis
    url: str
    replica_url: str


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    """A master and its replica (asynchronous replication, as Redis ships it)."""
    ports = free_ports(2)
    master = EmbeddedRedis(
        tmp_path / "master",
        port=ports[0],
        appendfsync="everysec",
        extra_args=("--repl-diskless-sync-delay", "0"),  # (5 s by default)
    )
    replica = EmbeddedRedis(
        tmp_path / "replica",
        port=ports[1],
        appendfsync="everysec",
        extra_args=("--replicaof", "127.0.0.1", str(ports[0])),
    )
    url = await asyncio.to_thread(master.start)
    replica_url = await asyncio.to_thread(replica.start)
    probe = make_redis(replica_url)
    try:
        async with asyncio.timeout(15):
            while True:
                if (await probe.info("replication")).get("master_link_status") == "up":
                    break
                await asyncio.sleep(0.05)
    finally:
        await close_redis(probe)
    yield Pair(master, replica, url, replica_url)
    if replica.process is not None and replica.process.poll() is None:
        replica.process.send_signal(signal.SIGCONT)
    await asyncio.to_thread(replica.stop)
    await asyncio.to_thread(master.stop)


def waiting(pair: Pair, tmp_path: Path, timeout: float) -> Settings:
    """Settings whose writes wait for the pair's replica (``timeout`` seconds at most)."""
    return Settings(
        redis_url=pair.url,
        data_dir=tmp_path / "d",
        demo_workspace=False,
        wait_replicas=1,
        wait_timeout=timeout,
    )


def frozen(server: EmbeddedRedis) -> Any:
    """SIGSTOP for the block: the replica holds its connection but acknowledges nothing."""

    class Frozen:
        def __enter__(self) -> None:
            assert server.process is not None
            server.process.send_signal(signal.SIGSTOP)

        def __exit__(self, *exc: object) -> None:
            assert server.process is not None
            server.process.send_signal(signal.SIGCONT)

    return Frozen()


async def test_replication_acknowledged_write_is_on_the_replica_or_answered_503(
    pair: Pair, tmp_path: Path
) -> None:
    """With writes waiting for one replica: an acknowledged order is on the replica the moment
    it is answered. With the replica frozen, the write waits the timeout and answers
    NotReplicated (503), though the master has it; a retry with the same Idempotency-Key
    answers the same order once the replica is back, and is then on the replica."""
    redis = make_redis(pair.url)
    on_replica = make_redis(pair.replica_url)
    state = build_state(waiting(pair, tmp_path, PATIENT), redis)
    hasty = build_state(waiting(pair, tmp_path, SHORT), redis)  # for the frozen replica
    keys = Keys()
    try:
        ws_id, _ = await state.workspaces.create_workspace("Replicated cafe")
        command = inputs.create_order({"customer": CUSTOMER, "items": ["Latte"]})
        for _ in range(20):
            done = await state.orders.create(ws_id, command, DEFAULT_WORKFLOW)
            order = keys.order_prefix(ws_id) + str(done.order_number)
            assert await on_replica.hget(order, "id") == done.id.encode()

        key = Idempotency("k" * 64, "body")
        with frozen(pair.replica):
            started = time.monotonic()
            with pytest.raises(NotReplicated) as refused:
                await hasty.orders.create(ws_id, command, DEFAULT_WORKFLOW, key)
            waited = time.monotonic() - started
            with pytest.raises(NotReplicated):  # a retry meanwhile: still not replicated
                await hasty.orders.create(ws_id, command, DEFAULT_WORKFLOW, key)
        assert refused.value.status_code == 503
        assert (refused.value.acked, refused.value.wanted) == (0, 1)
        assert "Idempotency-Key" in refused.value.message
        assert waited >= SHORT
        number = 21
        assert await redis.hget(keys.order_prefix(ws_id) + str(number), "id")  # on the master
        again = await state.orders.create(ws_id, command, DEFAULT_WORKFLOW, key)
        assert again.order_number == number  # the same order, not a second one
        assert await on_replica.hget(keys.order_prefix(ws_id) + str(number), "id")
        assert int(await redis.get(keys.seq(ws_id))) == number
    finally:
        for built in (state, hasty):
            await built.hub.close()
            await built.orders.replicated.close()
        await close_redis(redis)
        await close_redis(on_replica)


async def test_replication_short_of_replicas_is_a_503_over_http(pair: Pair, tmp_path: Path) -> None:
    """Over HTTP, a write its replica did not confirm in time is a 503 with Retry-After whose
    message says it is written on the master; the retry with its Idempotency-Key is a 201."""
    settings = waiting(pair, tmp_path, SHORT)
    redis = make_redis(pair.url)
    state = build_state(settings, redis)
    try:
        ws_id, ws_keys = await state.workspaces.create_workspace("Replicated cafe")
        ws = Workspace(ws_id, ws_keys)
        transport = httpx.ASGITransport(app=WithState(create_app(settings), state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=10) as c:
            headers = ws.auth() | {"Idempotency-Key": "order-1"}
            body = {"customer": CUSTOMER, "items": ["Latte"]}
            with frozen(pair.replica):
                resp = await c.post(f"{ws.base}/orders", headers=headers, json=body)
            message = assert_error(resp, 503)["message"]
            assert resp.headers["retry-after"] == "1"
            assert message.startswith("Written on the Redis master, but only 0 of 1 replicas")
            async with asyncio.timeout(10):  # the thawed replica catches up
                while True:
                    retry = await c.post(f"{ws.base}/orders", headers=headers, json=body)
                    if retry.status_code != 503:
                        break
                    await asyncio.sleep(0.1)
            assert retry.status_code == 201, retry.text
            assert retry.json()["order_number"] == 1
    finally:
        await state.hub.close()
        await state.orders.replicated.close()
        await close_redis(redis)
