"""The one place a Redis client is built from a URL (standalone, unix socket or cluster).

Cluster URLs: ``redis+cluster://host:port`` (or ``rediss+cluster://``), any one node of the
cluster; redis-py discovers the rest. A cluster must run Redis >= 7: live events use sharded
pub/sub (SPUBLISH), so each event travels only to the master that owns its workspace's slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from redis import exceptions as rx
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.retry import Retry

from orderlog.errors import StoreUnavailable

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")

# What make_redis returns: every store and the hub take one of these.
RedisClient: TypeAlias = Redis | RedisCluster


def text(value: bytes | str) -> str:
    """A reply as text (clients here do not decode responses: replies are bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def is_cluster_url(url: str | None) -> bool:
    return url is not None and url.startswith(CLUSTER_SCHEMES)


def publish_command(url: str | None) -> str:
    """What write.lua publishes with: SPUBLISH on a cluster (the channel shares the workspace's
    hash tag, so it lives on the workspace's master), PUBLISH elsewhere."""
    return "SPUBLISH" if is_cluster_url(url) else "PUBLISH"


def make_redis(url: str, *, timeout: float = 2.0, max_connections: int = 64) -> RedisClient:
    """An asyncio client that never retries on its own: a write whose reply was lost may have
    been applied, so retrying is the caller's call (clients retry with an Idempotency-Key)."""
    common: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 0,
    }
    if is_cluster_url(url):
        plain = url.replace("+cluster", "", 1)
        return RedisCluster.from_url(plain, max_connections=max_connections, **common)
    # A blocking pool makes a request wait for a free connection instead of failing under bursts.
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=timeout, **common
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes its connections


def node_client(
    cluster: RedisCluster, host: str, port: int, *, timeout: float, max_connections: int = 64
) -> Redis:
    """A plain client of one node of ``cluster`` (its credentials and TLS), for what must stay
    on one node's connection: sharded pub/sub, a write and the WAIT after it. It never retries
    on its own either."""
    kwargs = cluster.get_connection_kwargs()
    picked: dict[str, Any] = {
        k: v
        for k, v in kwargs.items()
        if k in ("username", "password", "connection_class") or k.startswith("ssl_")
    }
    pool = ConnectionPool(
        host=host,
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        max_connections=max_connections,
        retry=Retry(NoBackoff(), 0),
        **picked,
    )
    return Redis.from_pool(pool)


async def check_cluster(redis: RedisCluster) -> None:
    """Refuse a cluster whose nodes cannot run SPUBLISH (Redis < 7), at start, not on a write."""
    await redis.initialize()  # the client learns the topology lazily otherwise
    for node in redis.get_primaries():
        info = await redis.info("server", target_nodes=node)
        version = str(info.get("redis_version", "0"))
        if int(version.split(".")[0]) < 7:
            raise RuntimeError(
                f"Redis Cluster node {node.name} runs Redis {version}; orderlog needs >= 7 "
                "on a cluster (sharded pub/sub)"
            )


def _masters(redis: RedisClient) -> list[tuple[str, Any]]:
    """(name, target) of each master: one, ``redis``, for a single server."""
    if isinstance(redis, RedisCluster):
        return [(node.name, node) for node in redis.get_primaries()]
    return [("redis", None)]


async def _on(redis: RedisClient, target: Any, *args: Any) -> Any:
    """A command on one master (``target`` from ``_masters``)."""
    if target is None:
        return await redis.execute_command(*args)
    return await redis.execute_command(*args, target_nodes=target)


async def node_states(redis: RedisClient) -> dict[str, str]:
    """Each master's state: ``ok`` (answers PING), ``loading`` (up, still reading its data into
    memory: it answers nothing else until done) or ``down``."""
    states = {}
    for name, target in _masters(redis):
        try:
            with unavailable():
                await _on(redis, target, "PING")
            states[name] = "ok"
        except StoreUnavailable as exc:
            loading = isinstance(exc.__cause__, rx.BusyLoadingError)
            states[name] = "loading" if loading else "down"
    return states


async def connected_replicas(redis: RedisClient) -> dict[str, int]:
    """How many replicas each master has connected now (INFO replication).

    Raises:
        StoreUnavailable: a master did not answer.
    """
    counts = {}
    for name, target in _masters(redis):
        with unavailable():
            info = await _on(redis, target, "INFO", "replication")
        counts[name] = int(info.get("connected_slaves", 0))
    return counts


@dataclass(frozen=True, slots=True)
class Loading:
    """A master reading its data set into memory (after a restart: its AOF or RDB file)."""

    node: str
    loaded_bytes: int
    total_bytes: int
    percent: float
    eta_seconds: int  # Redis's estimate; -1 or 0 when it has none yet


async def loading(redis: RedisClient) -> list[Loading]:
    """The masters still loading their data ([] once every one has it), from INFO persistence,
    which Redis answers while loading. A master that is down is not loading: it is left out.

    Raises:
        StoreUnavailable: no master answered at all.
    """
    found: list[Loading] = []
    answered = False
    for name, target in _masters(redis):
        try:
            with unavailable():
                info = await _on(redis, target, "INFO", "persistence")
        except StoreUnavailable:
            continue
        answered = True
        if int(info.get("loading", 0)):
            found.append(
                Loading(
                    name,
                    int(info.get("loading_loaded_bytes", 0)),
                    int(info.get("loading_total_bytes", 0)),
                    float(info.get("loading_loaded_perc", 0.0)),
                    int(info.get("loading_eta_seconds", -1)),
                )
            )
    if not answered:
        raise StoreUnavailable("Redis is not reachable.")
    return found


def describe_loading(nodes: list[Loading]) -> str:
    """One line for people: how far the slowest loading master has got."""
    slowest = min(nodes, key=lambda n: n.percent)
    eta = f", about {slowest.eta_seconds} s left" if slowest.eta_seconds > 0 else ""
    where = f" ({len(nodes)} masters)" if len(nodes) > 1 else ""
    size = f"{slowest.percent:.0f}% of {slowest.total_bytes / 1e6:.0f} MB"
    return f"Redis is loading its data into memory{where}: {size}{eta}"


async def wait_loaded(
    redis: RedisClient,
    progress: Callable[[list[Loading], float], object] | None = None,
    *,
    poll: float = 0.1,
    first_report: float = 1.0,
    report_every: float = 5.0,
) -> float:
    """Return once no master is loading its data; the seconds waited. ``progress`` hears how far
    the load got once it has lasted ``first_report`` seconds, then every ``report_every``.

    Raises:
        StoreUnavailable: no master answers.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    due = start + first_report
    while nodes := await loading(redis):
        now = loop.time()
        if progress is not None and now >= due:
            due = now + report_every
            progress(nodes, now - start)
        await asyncio.sleep(poll)
    return loop.time() - start


async def close_redis(redis: RedisClient) -> None:
    """Close a client and all its connections.

    redis-py's ``RedisCluster.aclose()`` does nothing while a failed command has left the client
    waiting to re-read the topology (it checks its ``_initialize`` flag), which leaks the node
    connections after a master went down: close the nodes' pools regardless."""
    await redis.aclose()
    if isinstance(redis, RedisCluster):
        await redis.nodes_manager.aclose()
        await redis.nodes_manager.aclose("startup_nodes")


# Failures of the store, not of the command: the server is away, restarting, loading, failing
# over, out of memory, refusing writes, or the connection broke. Classes redis-py makes of
# replies (it strips their code from the message) and of connection trouble:
UNAVAILABLE = (
    rx.ConnectionError,  # includes BusyLoadingError (LOADING) and MaxConnectionsError
    rx.TimeoutError,
    rx.InvalidResponse,  # a reply that could not be parsed: the connection is out of step
    rx.ReadOnlyError,  # READONLY: a master turned replica (failover) still held the slot
    rx.ClusterError,  # CLUSTERDOWN, MASTERDOWN, "TTL exhausted" (redirected too many times)
    rx.TryAgainError,  # TRYAGAIN: a slot migrating
    rx.AskError,  # MOVED/ASK still coming back once redis-py's own redirections ran out
    rx.OutOfMemoryError,  # OOM: maxmemory reached
    rx.NoPermissionError,  # NOPERM: an ACL refusing orderlog's user (a deployment problem)
    rx.RedisClusterException,  # no node to send to (a slot not covered, no reachable node)
)
# ... and codes of replies redis-py leaves as a plain ResponseError, with the code in front.
UNAVAILABLE_CODES = ("BUSY", "MISCONF", "NOREPLICAS", "LOADING", "CLUSTERDOWN", "MASTERDOWN")


def _raised_in_client(exc: BaseException) -> bool:
    """True if ``exc`` was raised inside the Redis client library (a frame of ``redis``)."""
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module == "redis" or module.startswith("redis."):
            return True
        tb = tb.tb_next
    return False


def store_failure(exc: Exception) -> StoreUnavailable | None:
    """What an exception raised inside a Redis call means for the caller: a StoreUnavailable
    (503, retry) when the store failed, None when the command was wrong (a bug of ours: a 500).

    The client library's failures are the store's whatever their type: redis-py's asyncio
    cluster client has raised ``AttributeError: 'NoneType' object has no attribute 'writelines'``
    when a failover closed a connection in the middle of a command. (redis-py drops such a
    connection itself: a send or read that raises anything disconnects it, and the pool makes
    a new one.) The command's own errors stay errors: a reply saying the command was wrong
    (WRONGTYPE, a Lua error) or an argument redis-py could not encode (DataError)."""
    if isinstance(exc, StoreUnavailable):
        return exc
    if isinstance(exc, UNAVAILABLE):
        reason = type(exc).__name__
    elif isinstance(exc, rx.ResponseError):
        reason = str(exc).split(" ", 1)[0]
        if reason not in UNAVAILABLE_CODES:
            return None
    elif isinstance(exc, rx.RedisError):
        return None  # DataError, NoScriptError, WatchError...: the command, not the store
    elif _raised_in_client(exc):
        reason = f"{type(exc).__name__} in the Redis client"
    else:
        return None
    failure = StoreUnavailable(f"The order store is unavailable ({reason}).")
    failure.__cause__ = exc
    return failure


class _Boundary:
    """``unavailable()``'s context manager: a class, not a generator, since every request
    enters it (~0.3 us, not ~2)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        # (never swallows: returns None, so an exception goes on as it is, or raises another)
        if isinstance(exc, Exception):
            failure = store_failure(exc)
            if failure is not None and failure is not exc:
                raise failure from exc


_BOUNDARY = _Boundary()


def unavailable() -> _Boundary:
    """The store boundary: every Redis call runs inside it. The store failing (down, loading,
    failing over, out of memory, a connection broken in any way) leaves as StoreUnavailable
    (503 with Retry-After); see ``store_failure``."""
    return _BOUNDARY
