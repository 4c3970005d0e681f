"""Every knob of orderlog, in one frozen dataclass read from the environment (and the CLI).

The README's settings table is generated from ``Settings.describe()`` and checked by a test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


@dataclass(frozen=True, slots=True)
class Settings:
    redis_url: str | None = field(
        default=None,
        metadata={
            "env": "REDIS_URL",
            "cli": "--redis-url",
            "help": "Redis (>= 6.2) URL, or a Redis Cluster (>= 7) as "
            "`redis+cluster://host:port` (any node); unset: "
            "start an embedded redis-server in the data directory",
        },
    )
    data_dir: Path = field(
        default=Path(".orderlog"),
        metadata={
            "env": "ORDERLOG_DATA_DIR",
            "cli": "--data-dir",
            "help": "where the embedded Redis keeps its AOF",
        },
    )
    host: str = field(
        default="127.0.0.1",
        metadata={"env": "ORDERLOG_HOST", "cli": "--host", "help": "bind address"},
    )
    port: int = field(
        default=8000, metadata={"env": "ORDERLOG_PORT", "cli": "--port", "help": "HTTP port"}
    )
    workers: int = field(
        default=1,
        metadata={
            "env": "ORDERLOG_WORKERS",
            "cli": "--workers",
            "help": "server processes sharing the port",
        },
    )
    appendfsync: str = field(
        default="always",
        metadata={
            "env": "ORDERLOG_APPENDFSYNC",
            "help": "embedded Redis fsync policy: always, everysec or no (docs/guarantees.md)",
        },
    )
    key_prefix: str = field(
        default="ol", metadata={"env": "ORDERLOG_KEY_PREFIX", "help": "prefix of every Redis key"}
    )
    redis_timeout: float = field(
        default=2.0,
        metadata={
            "env": "ORDERLOG_REDIS_TIMEOUT",
            "help": "seconds a Redis call may take before the request answers 503",
        },
    )
    redis_max_connections: int = field(
        default=64,
        metadata={
            "env": "ORDERLOG_REDIS_MAX_CONNECTIONS",
            "help": "Redis connections per process (requests wait for one)",
        },
    )
    stream_maxlen: int = field(
        default=100_000,
        metadata={
            "env": "ORDERLOG_STREAM_MAXLEN",
            "help": "events kept per workspace for resume (approximate, MAXLEN ~)",
        },
    )
    idempotency_ttl: int = field(
        default=86_400,
        metadata={
            "env": "ORDERLOG_IDEMPOTENCY_TTL",
            "help": "seconds an Idempotency-Key response is replayed",
        },
    )
    max_body_bytes: int = field(
        default=65_536, metadata={"env": "ORDERLOG_MAX_BODY", "help": "largest request body"}
    )
    allowed_origins: tuple[str, ...] = field(
        default=(),
        metadata={
            "env": "ORDERLOG_ALLOWED_ORIGINS",
            "help": "comma-separated browser origins allowed on live endpoints "
            "(the server's own origin always is)",
        },
    )
    live_queue_events: int = field(
        default=10_000,
        metadata={
            "env": "ORDERLOG_LIVE_QUEUE_EVENTS",
            "help": "events a live client may have pending before it is closed "
            "(4008: resume from its cursor)",
        },
    )
    live_queue_bytes: int = field(
        default=8 << 20,
        metadata={
            "env": "ORDERLOG_LIVE_QUEUE_BYTES",
            "help": "bytes a live client may have pending before it is closed (4008)",
        },
    )
    # -- rate limits per API key (GCRA; ratelimit.py), by the key's scope; rate 0 = unlimited --
    rate_read: float = field(
        default=200.0,
        metadata={"env": "ORDERLOG_RATE_READ", "help": "requests/s allowed to each read key"},
    )
    rate_read_burst: int = field(
        default=400,
        metadata={
            "env": "ORDERLOG_RATE_READ_BURST",
            "help": "requests a read key may send at once",
        },
    )
    rate_write: float = field(
        default=1000.0,
        metadata={"env": "ORDERLOG_RATE_WRITE", "help": "requests/s allowed to each write key"},
    )
    rate_write_burst: int = field(
        default=2000,
        metadata={
            "env": "ORDERLOG_RATE_WRITE_BURST",
            "help": "requests a write key may send at once",
        },
    )
    rate_admin: float = field(
        default=20.0,
        metadata={"env": "ORDERLOG_RATE_ADMIN", "help": "requests/s allowed to each admin key"},
    )
    rate_admin_burst: int = field(
        default=40,
        metadata={
            "env": "ORDERLOG_RATE_ADMIN_BURST",
            "help": "requests an admin key may send at once",
        },
    )
    # -- connection limits (passed to uvicorn; serving.py) --
    max_connections: int = field(
        default=10_000,
        metadata={
            "env": "ORDERLOG_MAX_CONNECTIONS",
            "help": "open connections per process; beyond it new requests get 503",
        },
    )
    header_timeout: float = field(
        default=10.0,
        metadata={
            "env": "ORDERLOG_HEADER_TIMEOUT",
            "help": "seconds a client may take to send a request's headers (slowloris bound)",
        },
    )
    keepalive_timeout: int = field(
        default=5,
        metadata={
            "env": "ORDERLOG_KEEPALIVE_TIMEOUT",
            "help": "seconds an idle keep-alive connection stays open",
        },
    )
    log_json: bool = field(
        default=False,
        metadata={"env": "ORDERLOG_LOG_JSON", "help": "log JSON lines instead of plain text"},
    )
    demo_workspace: bool = field(
        default=True,
        metadata={
            "env": "ORDERLOG_DEMO_WORKSPACE",
            "help": "on first start with an empty store, create a demo workspace",
        },
    )
    gc_gen0_threshold: int = field(
        default=50_000,
        metadata={
            "env": "ORDERLOG_GC_GEN0_THRESHOLD",
            "help": "net allocations between young garbage collections (Python's default is "
            "700; 0 keeps it): fewer pauses with thousands of live sockets",
        },
    )

    # -- operations (issue 9) ----------------------------------------------------------------
    metrics_token: str | None = field(
        default=None,
        metadata={
            "env": "ORDERLOG_METRICS_TOKEN",
            "help": "Bearer token GET /metrics requires; unset: /metrics answers loopback only",
        },
    )
    access_log: bool = field(
        default=True,
        metadata={
            "env": "ORDERLOG_ACCESS_LOG",
            "help": "one log line per request and WebSocket session (uvicorn's own is off)",
        },
    )
    shutdown_timeout: float = field(
        default=10.0,
        metadata={
            "env": "ORDERLOG_SHUTDOWN_TIMEOUT",
            "help": "seconds a stopping process (SIGTERM) waits for requests and sockets",
        },
    )

    # -- search, stats and retention (issue 4) --------------------------------------------------
    search_scan_budget: int = field(
        default=3_000,
        metadata={
            "env": "ORDERLOG_SEARCH_SCAN_BUDGET",
            "help": "orders one search script call may examine (bounds how long it holds Redis)",
        },
    )
    search_max_calls: int = field(
        default=8,
        metadata={
            "env": "ORDERLOG_SEARCH_MAX_CALLS",
            "help": "script calls one search page may make before answering a short page "
            "with a next_cursor",
        },
    )
    stats_max_orders: int = field(
        default=50_000,
        metadata={
            "env": "ORDERLOG_STATS_MAX_ORDERS",
            "help": "orders one stats request reads at most (newest first; beyond: truncated)",
        },
    )
    abuse_fast_seconds: int = field(
        default=10,
        metadata={
            "env": "ORDERLOG_ABUSE_FAST_SECONDS",
            "help": "stats: an order completed within this many seconds of creation is flagged",
        },
    )
    abuse_burst_count: int = field(
        default=5,
        metadata={
            "env": "ORDERLOG_ABUSE_BURST_COUNT",
            "help": "stats: this many orders by one cashier ...",
        },
    )
    abuse_burst_seconds: int = field(
        default=60,
        metadata={
            "env": "ORDERLOG_ABUSE_BURST_SECONDS",
            "help": "... within this many seconds are flagged as a burst",
        },
    )
    abuse_repeat_count: int = field(
        default=3,
        metadata={
            "env": "ORDERLOG_ABUSE_REPEAT_COUNT",
            "help": "stats: this many orders for one customer ...",
        },
    )
    abuse_repeat_seconds: int = field(
        default=600,
        metadata={
            "env": "ORDERLOG_ABUSE_REPEAT_SECONDS",
            "help": "... within this many seconds are flagged as a repeat customer",
        },
    )
    retention_interval: float = field(
        default=3600.0,
        metadata={
            "env": "ORDERLOG_RETENTION_INTERVAL",
            "help": "seconds between retention sweeps (0: no sweeps in this process)",
        },
    )
    retention_batch: int = field(
        default=200,
        metadata={
            "env": "ORDERLOG_RETENTION_BATCH",
            "help": "orders removed per retention script call (a short pause follows each)",
        },
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw in (None, ""):
                continue
            values[f.name] = _convert(f.type, raw, f.metadata["env"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(environment variable, default, meaning) for every setting."""
        out = []
        for f in fields(cls):
            default = f.default
            shown = ",".join(default) if isinstance(default, tuple) else default
            out.append((f.metadata["env"], "" if shown is None else str(shown), f.metadata["help"]))
        return out


def markdown_table() -> str:
    """The README's settings table (tests/test_settings.py keeps the README equal to it)."""
    flags = {f.metadata["env"]: f.metadata.get("cli") for f in fields(Settings)}
    rows = ["| variable | CLI flag | default | meaning |", "|---|---|---|---|"]
    for env, default, meaning in Settings.describe():
        flag = f"`{flags[env]}`" if flags[env] else ""
        rows.append(f"| `{env}` | {flag} | `{default}` | {meaning} |")
    return "\n".join(rows)


def _convert(kind: Any, raw: str, name: str) -> Any:
    kind = str(kind)
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("bool"):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind.startswith("Path"):
            return Path(raw)
        if kind.startswith("tuple"):
            return tuple(p.strip() for p in raw.split(",") if p.strip())
    except ValueError:
        raise SystemExit(f"orderlog: {name}={raw!r} is not a valid value") from None
    return raw
