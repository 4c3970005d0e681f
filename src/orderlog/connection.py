"""The one place a Redis client is built from a URL (standalone, unix socket or cluster).

Cluster URLs: ``redis+cluster://host:port`` (or ``rediss+cluster://``), any one node of the
cluster; redis-py discovers the rest.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.retry import Retry

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEMES)


def make_redis(url: str, *, timeout: float = 2.0, max_connections: int = 64) -> Any:
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
