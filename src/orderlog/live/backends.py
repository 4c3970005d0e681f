"""The hub's ``Backend`` on a Redis Cluster: sharded pub/sub (SSUBSCRIBE), one connection per
master that owns a subscribed workspace's slot.

write.lua SPUBLISHes each event on ``P:{W}:live``; only the master owning that slot carries it,
so this backend SSUBSCRIBEs each channel on its owner (``get_node_from_key``) over a plain
connection of its own, and one reader task per master feeds a single inbox that the hub reads.

Failures stay per master, so a master that goes down stalls only its own workspaces' feeds:
its channels are reported ``("down", channel)`` (the hub marks them not live and tells their
clients ``reconnecting``), kept pending, and resubscribed every ``retry_every`` seconds on
whichever master owns them after a topology refresh (a failover promotes a replica); the
``ssubscribe`` confirmation then makes the hub fill the gap from the stream. Redis 7 also
drops a shard channel's subscribers itself when its slot moves (an unrequested
``sunsubscribe``): handled the same way. Liveness per master: PING after ``ping_interval`` idle
seconds, down if nothing arrives for another.

redis-py 8 has an asyncio ``ClusterPubSub``; redis-py 5 and 6 have none, and it reconnects and
resubscribes on its own, behind the hub's gap-filling. This small class needs neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from orderlog.errors import StoreUnavailable
from orderlog.store.client import node_client, unavailable

log = logging.getLogger("orderlog.live.hub")

Message = tuple[str, str, bytes]
KINDS = {"smessage": "message", "ssubscribe": "subscribe", "sunsubscribe": "unsubscribe"}


class _Node:
    """One master's pub/sub connection and its reader."""

    def __init__(self, name: str, client: Redis) -> None:
        self.name = name
        self.client = client
        self.pubsub = client.pubsub()
        self.channels: set[str] = set()
        self.task: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()  # type: ignore[no-untyped-call]
        with contextlib.suppress(Exception):
            await self.client.aclose()


class ShardedPubSub:
    """``hub.Backend`` over SSUBSCRIBE on the masters of a ``RedisCluster``."""

    def __init__(
        self,
        cluster: Any,
        *,
        timeout: float = 2.0,
        ping_interval: float = 5.0,
        retry_every: float = 1.0,
        on_reconnect: Callable[[], object] | None = None,
    ) -> None:
        self.cluster = cluster
        self.timeout = timeout
        self.ping_interval = ping_interval
        self.retry_every = retry_every
        self.on_reconnect = on_reconnect
        self._nodes: dict[str, _Node] = {}
        self._wanted: set[str] = set()
        self._leaving: set[str] = set()  # SUNSUBSCRIBE sent, confirmation not yet read
        self._pending: set[str] = set()  # wanted, but their master is away
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._retry: asyncio.Task[None] | None = None

    # -- hub.Backend -----------------------------------------------------------------------------
    async def connect(self) -> None:
        await self.cluster.initialize()  # the topology, once; failing here the hub backs off

    async def subscribe(self, *channels: str) -> None:
        for channel in channels:
            self._wanted.add(channel)
            await self._subscribe(channel)

    async def unsubscribe(self, *channels: str) -> None:
        for channel in channels:
            self._wanted.discard(channel)
            node = self._node_of(channel)
            if node is None:
                self._pending.discard(channel)
                self._inbox.put_nowait(("unsubscribe", channel, b""))  # the hub awaits a reply
                continue
            self._leaving.add(channel)
            try:
                with unavailable():
                    await node.pubsub.sunsubscribe(channel)
            except StoreUnavailable:
                await self._node_down(node)

    async def ping(self) -> None:
        # Each master's connection is watched by its own reader; the hub's idle check is
        # answered here so one quiet or absent master does not restart every feed.
        self._inbox.put_nowait(("pong", "", b""))

    async def get(self, wait: float) -> Message | None:
        try:
            async with asyncio.timeout(wait):
                return await self._inbox.get()
        except TimeoutError:
            return None

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
        nodes, self._nodes = list(self._nodes.values()), {}
        for node in nodes:
            await node.close()

    # -- internals -------------------------------------------------------------------------------
    def _node_of(self, channel: str) -> _Node | None:
        return next((n for n in self._nodes.values() if channel in n.channels), None)

    async def _subscribe(self, channel: str) -> None:
        node: _Node | None = None
        try:
            with unavailable():
                # The owner must serve data too: the hub reads the stream to catch up once this
                # subscription is confirmed, and a master that has just restarted answers
                # CLUSTERDOWN until it has rejoined (a failure there would restart every feed).
                await self.cluster.exists(channel)
                owner = self.cluster.get_node_from_key(channel)
                node = await self._connect(owner.host, owner.port)
                node.channels.add(channel)
                await node.pubsub.ssubscribe(channel)
        except StoreUnavailable as exc:
            log.info("live: SSUBSCRIBE %s failed (%s); retrying", channel, exc.message)
            if node is not None:
                await self._node_down(node)
            else:
                self._pend(channel)

    async def _connect(self, host: str, port: int) -> _Node:
        name = f"{host}:{port}"
        node = self._nodes.get(name)
        if node is not None:
            return node
        # (it never retries: a lost connection is this class's to handle)
        node = _Node(name, node_client(self.cluster, host, port, timeout=self.timeout))
        await node.pubsub.connect()  # type: ignore[no-untyped-call]
        self._nodes[name] = node
        node.task = asyncio.get_running_loop().create_task(self._read(node), name=f"live-{name}")
        return node

    async def _read(self, node: _Node) -> None:
        idle = 0.0
        pinged = False
        try:
            while True:
                msg = await node.pubsub.get_message(timeout=1.0)
                if msg is None:
                    idle += 1.0
                    if pinged and idle >= 2 * self.ping_interval:
                        raise ConnectionError(f"no pong from {node.name}")
                    if not pinged and idle >= self.ping_interval:
                        await node.pubsub.ping()
                        pinged = True
                    continue
                idle, pinged = 0.0, False
                self._deliver(node, msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the master is away: its channels only
            log.warning("live: lost %s (%s: %s)", node.name, type(exc).__name__, exc)
            await self._node_down(node)

    def _deliver(self, node: _Node, msg: dict[str, Any]) -> None:
        kind = KINDS.get(msg["type"])
        if kind is None:
            return
        raw = msg["channel"]
        channel = raw.decode() if isinstance(raw, bytes) else str(raw)
        if kind == "unsubscribe":
            if channel in self._leaving:
                self._leaving.discard(channel)
                if channel not in self._wanted:  # (not subscribed again meanwhile)
                    node.channels.discard(channel)
            elif channel in self._wanted:
                node.channels.discard(channel)
                self._lost(channel)  # Redis dropped it: its slot moved to another master
                return
            else:
                node.channels.discard(channel)
        data = msg["data"] if isinstance(msg["data"], bytes) else b""
        self._inbox.put_nowait((kind, channel, data))

    async def _node_down(self, node: _Node) -> None:
        if self._nodes.get(node.name) is node:
            del self._nodes[node.name]
        for channel in node.channels:
            if channel in self._leaving:
                self._leaving.discard(channel)
                self._inbox.put_nowait(("unsubscribe", channel, b""))
            elif channel in self._wanted:
                self._lost(channel)
        node.channels.clear()
        await node.close()

    def _lost(self, channel: str) -> None:
        self._inbox.put_nowait(("down", channel, b""))
        self._pend(channel)

    def _pend(self, channel: str) -> None:
        self._pending.add(channel)
        if self._retry is None or self._retry.done():
            self._retry = asyncio.get_running_loop().create_task(self._resubscribe())

    async def _resubscribe(self) -> None:
        while self._pending:
            await asyncio.sleep(self.retry_every)
            with contextlib.suppress(StoreUnavailable), unavailable():
                # Re-read the slot map: the channel's slot may have a new master now.
                await self.cluster.nodes_manager.initialize()
            channels, self._pending = self._pending & self._wanted, set()
            for channel in channels:
                await self._subscribe(channel)
            if self.on_reconnect is not None and channels - self._pending:
                self.on_reconnect()
