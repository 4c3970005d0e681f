"""Acknowledged by replicas: a write's answer waits until ``replicas`` replicas have it.

Redis replicates asynchronously: a write is acknowledged once the master has it, and a master
that dies before its replicas received the write loses it when a replica is promoted.
``WAIT n timeout`` blocks until ``n`` replicas have every write the *connection* sent, so it
must follow the script on the connection that ran it (a script cannot WAIT itself). Here the
script and the WAIT go out as one pipeline on one connection: on a single Redis, through its
client; on a cluster, through a plain client of the master that owns the workspace's slot
(the cluster client would send them on different connections, or WAIT to every master).

A short WAIT (fewer replicas within the timeout) does not undo the write: it is on the master.
OrderStore answers it as ``NotReplicated``; a retry with the same Idempotency-Key replays the
stored answer, and write.lua rewrites the idempotency record on a replay, so the WAIT after it
covers the original write too (replication is in order).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AskError, NoScriptError

from orderlog.errors import StoreUnavailable
from orderlog.store.client import RedisClient, connected_replicas, node_client, unavailable
from orderlog.store.scripts import Script

log = logging.getLogger("orderlog.store")


async def warn_short_of_replicas(redis: RedisClient, wanted: int) -> None:
    """Log each master with fewer connected replicas than writes wait for: until it has them,
    every write it takes answers 503 after the WAIT timeout (the write itself is kept)."""
    with contextlib.suppress(StoreUnavailable):
        for name, count in (await connected_replicas(redis)).items():
            if count < wanted:
                log.warning(
                    "ORDERLOG_WAIT_REPLICAS=%d but Redis %s has %d connected replicas: its "
                    "writes will answer 503 (NotReplicated) until it has enough",
                    wanted,
                    name,
                    count,
                )


class Replicated:
    """Runs write scripts followed by ``WAIT replicas timeout`` on the same connection."""

    def __init__(
        self,
        redis: RedisClient,
        replicas: int,
        timeout: float,
        *,
        socket_timeout: float = 2.0,
        max_connections: int = 64,
    ) -> None:
        """Args:
        replicas, timeout: what ``WAIT`` waits for, and how long (seconds).
        socket_timeout, max_connections: of the clients of a cluster's masters (as the
            cluster client's).
        """
        self.redis = redis
        self.replicas = replicas
        self.timeout = timeout
        self.socket_timeout = max(socket_timeout, timeout + 1.0)  # WAIT's reply takes that long
        self.max_connections = max_connections
        self._nodes: dict[str, Redis] = {}  # a cluster's masters, by name
        self._refresh: asyncio.Task[None] | None = None

    async def run(self, script: Script, keys: list[str], args: list[Any]) -> tuple[Any, int]:
        """The script's reply and the number of replicas that have its writes.

        Raises:
            StoreUnavailable: Redis is away (the script may or may not have run).
        """
        with unavailable():
            for attempt in (1, 2):
                name, client = self._client(keys[0])
                try:
                    return await self._pipeline(client, script, keys, args)
                except AskError:  # MOVED/ASK: the script did not run; the slot has moved
                    await self._refreshed()
                    if attempt == 2:
                        raise
                except Exception:
                    await self._forget(name)  # a master may be gone: the cluster map is stale
                    raise
        raise AssertionError("unreachable")

    async def _pipeline(
        self, client: Redis | RedisCluster, script: Script, keys: list[str], args: list[Any]
    ) -> tuple[Any, int]:
        wait = ("WAIT", self.replicas, max(1, round(self.timeout * 1000)))
        for command in ("EVALSHA", "EVAL"):
            pipe = client.pipeline(transaction=False)
            code = script.sha if command == "EVALSHA" else script.source
            pipe.execute_command(command, code, len(keys), *keys, *args)
            pipe.execute_command(*wait)
            reply, acked = await pipe.execute(raise_on_error=False)
            if isinstance(reply, NoScriptError):
                continue  # (this WAIT covered nothing new: the script did not run)
            if isinstance(reply, Exception):
                raise reply
            if isinstance(acked, Exception):
                raise acked
            return reply, int(acked)
        raise AssertionError("EVAL answered NOSCRIPT")

    def _client(self, key: str) -> tuple[str, Redis | RedisCluster]:
        """(master name, client) for the workspace of ``key``."""
        if not isinstance(self.redis, RedisCluster):
            return "redis", self.redis
        owner = self.redis.get_node_from_key(key)
        if owner is None:
            raise StoreUnavailable("No master owns the workspace's slot.")
        client = self._nodes.get(owner.name)
        if client is None:
            client = self._nodes[owner.name] = node_client(
                self.redis,
                owner.host,
                int(owner.port),
                timeout=self.socket_timeout,
                max_connections=self.max_connections,
            )
        return owner.name, client

    async def _forget(self, name: str) -> None:
        """After a failure on a cluster master: drop its client, and re-read the slot map in
        the background (one read at a time, however many writes failed)."""
        dropped = self._nodes.pop(name, None)
        if dropped is not None:
            with contextlib.suppress(Exception):
                await dropped.aclose()
        if isinstance(self.redis, RedisCluster) and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.ensure_future(self._refreshed())

    async def _refreshed(self) -> None:
        """Re-read the cluster's slot map (a failover promoted a replica, a slot moved)."""
        if isinstance(self.redis, RedisCluster):
            with contextlib.suppress(StoreUnavailable), unavailable():
                await self.redis.nodes_manager.initialize()

    async def close(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(BaseException):
                await self._refresh
        nodes, self._nodes = list(self._nodes.values()), {}
        for client in nodes:
            with contextlib.suppress(Exception):
                await client.aclose()
