"""Every knob of orderlog, in one frozen dataclass read from the environment (and the CLI).

Only what an operator may need to set is here; tuning that users never touch is a constant
beside the code it tunes, and what a workspace's owner sets is a workspace setting
(domain/workspace.py). The README's settings table is ``orderlog settings --markdown``
(``markdown_table``), and a test keeps the two equal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

# never printed (a URL may hold a password)
SECRETS = frozenset({"metrics_token", "redis_url", "secret_key"})


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
            "help": "where the embedded Redis keeps its AOF (and the server key, `secret.key`, "
            "unless ORDERLOG_SECRET_KEY is set)",
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
    wait_replicas: int = field(
        default=0,
        metadata={
            "env": "ORDERLOG_WAIT_REPLICAS",
            "help": "replicas that must have an order write before it is acknowledged (Redis "
            "WAIT after the write); 0: the master's word (replication is asynchronous: "
            "docs/deploy.md)",
        },
    )
    wait_timeout: float = field(
        default=1.0,
        metadata={
            "env": "ORDERLOG_WAIT_TIMEOUT",
            "help": "seconds a write waits for those replicas; short of them it answers 503 "
            "(written on the master, not yet on enough replicas: retry with its Idempotency-Key)",
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
        default=65_536,
        metadata={
            "env": "ORDERLOG_MAX_BODY",
            "help": "largest request body, as sent and as decoded (gzip)",
        },
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
            "help": "events of its workspace a live client may fall behind before it is "
            "closed (4008: resume from its cursor)",
        },
    )
    live_queue_bytes: int = field(
        default=8 << 20,
        metadata={
            "env": "ORDERLOG_LIVE_QUEUE_BYTES",
            "help": "bytes of its workspace's events a live client may fall behind before "
            "it is closed (4008)",
        },
    )
    # -- rate limits per API key (GCRA; domain/ratelimit.py), by the key's scope; 0 = unlimited --
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
    # -- connection limits (passed to uvicorn; ops/serving.py) --
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

    # -- operations --
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

    # -- outbound webhooks (outbound/, docs/webhooks.md) --
    secret_key: str | None = field(
        default=None,
        metadata={
            "env": "ORDERLOG_SECRET_KEY",
            "help": "the server key (32 bytes, url-safe base64) sealing webhook secrets and URLs "
            "at rest; the same on every server of one Redis. Unset: generated into "
            "`<data dir>/secret.key` (0600) on first use",
        },
    )
    webhook_allow_private: bool = field(
        default=False,
        metadata={
            "env": "ORDERLOG_WEBHOOK_ALLOW_PRIVATE",
            "help": "allow webhooks to loopback, private, link-local and metadata addresses",
        },
    )
    webhook_concurrency: int = field(
        default=64,
        metadata={
            "env": "ORDERLOG_WEBHOOK_CONCURRENCY",
            "help": "webhooks one process delivers to at once (0: this process delivers none)",
        },
    )
    webhook_timeout: float = field(
        default=10.0,
        metadata={
            "env": "ORDERLOG_WEBHOOK_TIMEOUT",
            "help": "seconds a delivery may take (connect, send, answer) before it has failed",
        },
    )
    webhook_retry_base: float = field(
        default=5.0,
        metadata={
            "env": "ORDERLOG_WEBHOOK_RETRY_BASE",
            "help": "seconds before the first retry; each next one waits twice as long (+-25%)",
        },
    )
    webhook_retry_max_interval: float = field(
        default=3600.0,
        metadata={
            "env": "ORDERLOG_WEBHOOK_RETRY_MAX_INTERVAL",
            "help": "the longest wait between two attempts (and the most Retry-After honoured)",
        },
    )
    webhook_retry_for: float = field(
        default=86_400.0,
        metadata={
            "env": "ORDERLOG_WEBHOOK_RETRY_FOR",
            "help": "seconds an event is retried before it becomes a dead letter",
        },
    )
    webhook_disable_after: float = field(
        default=86_400.0,
        metadata={
            "env": "ORDERLOG_WEBHOOK_DISABLE_AFTER",
            "help": "seconds of failing without a single success before a webhook is disabled",
        },
    )
    webhook_lease: float = field(
        default=15.0,
        metadata={
            "env": "ORDERLOG_WEBHOOK_LEASE",
            "help": "seconds before another process takes over the webhooks of a process that "
            "stopped without handing them back (crashed)",
        },
    )

    # -- retention --
    retention_interval: float = field(
        default=3600.0,
        metadata={
            "env": "ORDERLOG_RETENTION_INTERVAL",
            "help": "seconds between retention sweeps (0: no sweeps in this process)",
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
            try:
                values[f.name] = _convert(str(f.type), raw)
            except ValueError:
                raise SystemExit(f"orderlog: {f.metadata['env']}={raw!r} is not valid") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def describe(cls) -> list[tuple[str, str, str, str]]:
        """(environment variable, field name, default, meaning) for every setting."""
        out = []
        for f in fields(cls):
            default = f.default
            shown = ",".join(default) if isinstance(default, tuple) else default
            out.append(
                (f.metadata["env"], f.name, "" if shown is None else str(shown), f.metadata["help"])
            )
        return out


def markdown_table() -> str:
    """The README's settings table (tests/test_settings.py keeps the README equal to it)."""
    flags = {f.metadata["env"]: f.metadata.get("cli") for f in fields(Settings)}
    rows = ["| variable | CLI flag | default | meaning |", "|---|---|---|---|"]
    for env, _, default, meaning in Settings.describe():
        flag = f"`{flags[env]}`" if flags[env] else ""
        rows.append(f"| `{env}` | {flag} | `{default}` | {meaning} |")
    return "\n".join(rows)


@dataclass(frozen=True, slots=True)
class Flag:
    """A setting that ``orderlog serve`` (and the admin commands, for the store's) take as a
    command-line flag; cli.py builds its options from these."""

    name: str  # the Settings field
    flag: str  # e.g. "--port"
    help: str
    kind: str  # the field's type, as written

    def parse(self, raw: str) -> Any:
        """Raises ValueError for a value of the wrong type."""
        return _convert(self.kind, raw)


def flags() -> list[Flag]:
    return [
        Flag(f.name, f.metadata["cli"], f.metadata["help"], str(f.type))
        for f in fields(Settings)
        if f.metadata.get("cli")
    ]


def _convert(kind: str, raw: str) -> Any:
    """An environment or command-line string -> the setting's type; ValueError if it is not."""
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
    return raw
