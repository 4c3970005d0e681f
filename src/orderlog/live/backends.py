"""The hub's pub/sub backends: how it hears write.lua's wake-ups.

``Backend`` is what the hub needs of one pub/sub connection. ``RedisPubSub`` is one SUBSCRIBE
connection to a standalone Redis. ``ShardedPubSub`` serves a Redis Cluster with sharded pub/sub
(SSUBSCRIBE), one connection per master that owns a subscribed workspace's slot:

write.lua SPUBLISHes each event on ``P:{W}:live``; only the master owning that slot carries it,
so ``ShardedPubSub`` SSUBSCRIBEs each channel on its owner (``get_node_from_key``) over a plain
connection of its own, and one reader task per master feeds a single inbox that the hub reads.

Failures stay per master, so a master that goes down stalls only its own workspaces' feeds:
its channels are reported ``("down", channel)`` (the hub marks them not live and tells their
clients ``reconnecting``), kept pending, and resubscribed every ``retry_every`` seconds on
whichever master owns them after a topology refresh (a failover promotes a replica); the
``ssubscribe`` confirmation then makes the hub fill the gap from the stream. Redis 7 also
drops a shard channel's subscribers itself when its slot moves (an unrequested
``sunsubscribe``): handled the same way.

Every connection is watched the same way (``Liveness``): PING after ``ping_interval`` idle
seconds, lost if nothing arrives for another.

redis-py 8 has an asyncio ``ClusterPubSub``; redis-py 5 and 6 have none, and it reconnects and
resubscribes on its own, behind the hub's gap-filling. ``ShardedPubSub`` needs neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from orderlog.errors import StoreUnavailable
from orderlog.store.client import node_client, unavailable

logger = logging.getLogger(__name__)

Message = tuple[str, str, bytes]
POLL = 1.0  # seconds a reader waits for a message before counting the connection idle


class Backend(Protocol):
    """One pub/sub connection. Replies come back through ``get``, in order:
    ``("message", channel, data)``, ``("subscribe", channel, b"")``, ``("unsubscribe", ...)``,
    ``("pong", "", b"")``, and from a backend with one connection per shard,
    ``("down", channel, b"")`` when one channel's connection is lost. Any method may raise;
    the hub then drops the backend and makes a new one."""

    async def connect(self) -> None: ...
    async def subscribe(self, *channels: str) -> None: ...
    async def unsubscribe(self, *channels: str) -> None: ...
    async def ping(self) -> None: ...
    async def get(self, wait: float) -> Message | None: ...
    async def close(self) -> None: ...


class Liveness:
    """Whether a quiet connection is still there: after ``interval`` seconds without a message
    it is PINGed once; if nothing arrives for another ``interval``, it is lost. Its reader calls
    ``quiet`` after each wait that brought nothing and ``heard`` after each message."""

    def __init__(self, interval: float, ping: Callable[[], Awaitable[object]], name: str) -> None:
        self.interval = interval
        self.ping = ping
        self.name = name
        self.idle = 0.0
        self.pinged = False

    def heard(self) -> None:
        self.idle = 0.0
        self.pinged = False

    async def quiet(self, seconds: float) -> None:
        """Nothing arrived for another ``seconds``.

        Raises:
            ConnectionError: no answer to the PING.
        """
        self.idle += seconds
        if self.pinged and self.idle >= 2 * self.interval:
            raise ConnectionError(f"no pong from {self.name}")
        if not self.pinged and self.idle >= self.interval:
            await self.ping()
            self.pinged = True


class RedisPubSub:
    """``Backend`` over a redis-py PubSub (SUBSCRIBE; standalone Redis). Never reused after an
    error: redis-py would reconnect and resubscribe on its own, behind the hub's back."""

    KINDS: ClassVar[dict[str, str]] = {
        "message": "message",
        "smessage": "message",
        "subscribe": "subscribe",
        "ssubscribe": "subscribe",
        "unsubscribe": "unsubscribe",
        "sunsubscribe": "unsubscribe",
        "pong": "pong",
    }

    def __init__(self, redis: Redis) -> None:
        self.pubsub = redis.pubsub()

    async def connect(self) -> None:
        with unavailable():
            await self.pubsub.connect()  # type: ignore[no-untyped-call]

    async def subscribe(self, *channels: str) -> None:
        with unavailable():
            await self.pubsub.subscribe(*channels)

    async def unsubscribe(self, *channels: str) -> None:
        with unavailable():
            await self.pubsub.unsubscribe(*channels)

    async def ping(self) -> None:
        with unavailable():
            await self.pubsub.ping()

    async def get(self, wait: float) -> Message | None:
        if self.pubsub.connection is None:
            raise ConnectionError("pub/sub connection closed")
        with unavailable():
            msg = await self.pubsub.get_message(timeout=wait)
        if msg is None:
            return None
        kind = self.KINDS.get(msg["type"], "other")
        channel = msg["channel"]
        name = channel.decode() if isinstance(channel, bytes) else (channel or "")
        data = msg["data"] if isinstance(msg["data"], bytes) else b""
        return kind, name, data

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()  # type: ignore[no-untyped-call]


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
    """``Backend`` over SSUBSCRIBE on the masters of a ``RedisCluster``."""

    KINDS: ClassVar[dict[str, str]] = {
        "smessage": "message",
        "ssubscribe": "subscribe",
        "sunsubscribe": "unsubscribe",
    }

    def __init__(
        self,
        cluster: RedisCluster,
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

    # -- Backend ---------------------------------------------------------------------------------
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
                assert owner is not None  # None only when asking for a replica
                node = await self._connect(owner.host, int(owner.port))
                node.channels.add(channel)
                await node.pubsub.ssubscribe(channel)
        except StoreUnavailable as exc:
            logger.info("live: SSUBSCRIBE %s failed (%s); retrying", channel, exc.message)
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
        liveness = Liveness(self.ping_interval, node.pubsub.ping, node.name)
        try:
            while True:
                msg = await node.pubsub.get_message(timeout=POLL)
                if msg is None:
                    await liveness.quiet(POLL)
                    continue
                liveness.heard()
                self._deliver(node, msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the master is away: its channels only
            logger.warning("live: lost %s (%s: %s)", node.name, type(exc).__name__, exc)
            await self._node_down(node)

    def _deliver(self, node: _Node, msg: dict[str, Any]) -> None:
        kind = self.KINDS.get(msg["type"])
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
