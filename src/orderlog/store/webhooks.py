"""Webhooks in Redis: their records (URL and secrets sealed with the server key), delivery log,
dead letters and health. The delivering side (leases, consumer groups) is store/delivery.py.

A webhook's record is one hash, ``P:{W}:wh:H`` (keys.py), holding what the admin chose and
the state of its deliveries:

    url        the URL, sealed (a Discord URL holds its token; any URL may hold a key)
    events     event types, comma-joined      statuses   status filter, comma-joined ('' all)
    format     json | discord                 label      free text
    enabled    1 | 0                          created_at, updated_at   ISO 8601
    secret     the signing secret, sealed     prev_secret, prev_until  the previous secret and
                                                          until when (ms) it still signs
    head       stream id of the event being retried ('' none)
    failures   failed attempts of that event  first_fail  when its first attempt failed (ms)
    next_at    when it is tried again (ms)    failing_since  first failure since the last
                                                          success (ms; the 24 h disable clock)
    last_ok, last_fail (ms), last_error, last_status   the latest outcomes
    disabled_reason, disabled_at             why and when the server disabled it

The delivery log ``:log`` keeps the last 100 attempts as JSON (newest first); the dead
letters ``:dead`` keep each event that exhausted its retries, with the event itself, so it can
be sent again after the stream has trimmed it.
"""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import orjson

from orderlog.domain import webhooks
from orderlog.domain.webhooks import Spec
from orderlog.errors import Conflict, InvalidInput, NotFound
from orderlog.keys import Keys
from orderlog.sealing import Sealer
from orderlog.store import scripts
from orderlog.store.client import RedisClient, text, unavailable

REDRIVE_MAX = 100  # queued "send again" requests kept per webhook


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int | str | None) -> str | None:
    """Epoch ms -> ISO 8601 with milliseconds, UTC (None for none)."""
    if ms in (None, "", 0, "0"):
        return None
    seconds, millis = divmod(int(ms), 1000)
    return f"{_iso_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=8)
def _iso_second(seconds: int) -> str:
    # Every delivery log entry is stamped: the seconds part is formatted once per second.
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def stream_ms(stream_id: str) -> int:
    return int(stream_id.split("-", 1)[0])


@dataclass
class Webhook:
    """A webhook as read from Redis, its sealed fields opened (keep it in memory only)."""

    id: str
    workspace_id: str
    spec: Spec
    created_at: str
    state: dict[str, str] = field(default_factory=dict)
    secret: str | None = None
    previous_secret: str | None = None
    previous_until: int = 0  # ms

    def signing_secrets(self, at_ms: int | None = None) -> list[str]:
        """The secrets that sign now: the current one, and the previous one during the 24 h
        after a rotation."""
        at_ms = now_ms() if at_ms is None else at_ms
        out = [self.secret] if self.secret else []
        if self.previous_secret and at_ms < self.previous_until:
            out.append(self.previous_secret)
        return out

    def int_state(self, name: str) -> int:
        raw = self.state.get(name, "")
        return int(raw) if raw else 0

    def to_json(self) -> dict[str, Any]:
        """What the API shows (never a secret nor the full URL)."""
        s = self.state
        out: dict[str, Any] = {"id": self.id, **self.spec.to_json()}
        out["created_at"] = self.created_at
        out["updated_at"] = s.get("updated_at") or self.created_at
        out["has_secret"] = self.secret is not None
        out["secret_rotated_at"] = iso(s.get("rotated_at"))
        out["previous_secret_expires_at"] = (
            iso(self.previous_until) if self.previous_until > now_ms() else None
        )
        out["disabled_reason"] = s.get("disabled_reason") or None
        out["disabled_at"] = iso(s.get("disabled_at"))
        return out


class WebhookStore:
    """Webhook records of every workspace, with their secrets sealed by ``sealer``."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        sealer: Sealer,
        *,
        rotation_overlap: float = webhooks.ROTATION_OVERLAP,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.sealer = sealer
        self.rotation_overlap = rotation_overlap

    def _context(self, workspace_id: str, webhook_id: str, name: str) -> str:
        return f"{workspace_id}/{webhook_id}/{name}"

    # -- records -------------------------------------------------------------------------------
    async def create(self, workspace_id: str, spec: Spec) -> tuple[Webhook, str | None]:
        """A new webhook and its signing secret (None for Discord), shown once.

        Raises:
            Conflict: the workspace has the most webhooks allowed.
            ServerKeyUnavailable: the server key cannot be had.
            StoreUnavailable: Redis is away.
        """
        webhook_id = "wh_" + secrets.token_hex(8)
        secret = webhooks.new_secret() if spec.format == "json" else None
        at = now_ms()
        fields: dict[str, str] = {
            **self._spec_fields(workspace_id, webhook_id, spec),
            "format": spec.format,
            "created_at": iso(at) or "",
        }
        if secret is not None:
            fields["secret"] = self.sealer.seal(
                secret, self._context(workspace_id, webhook_id, "secret")
            )
        k = self.keys
        flat = [x for pair in fields.items() for x in pair]
        with unavailable():
            # The registry of workspaces to deliver for is a global key (another cluster slot
            # than the script's), written first: a webhook is never without it.
            await self.redis.sadd(k.webhook_workspaces, workspace_id)
            made = await scripts.WEBHOOK_CREATE(
                self.redis,
                [
                    k.webhook(workspace_id, webhook_id),
                    k.webhooks(workspace_id),
                    k.events(workspace_id),
                    k.epoch(workspace_id),
                ],
                [k.webhook_group(webhook_id), webhook_id, webhooks.MAX_WEBHOOKS, *flat],
            )
        if not made:
            raise Conflict(f"A workspace has at most {webhooks.MAX_WEBHOOKS} webhooks.")
        return await self.get(workspace_id, webhook_id), secret

    def _spec_fields(self, workspace_id: str, webhook_id: str, spec: Spec) -> dict[str, str]:
        return {
            "url": self.sealer.seal(spec.url, self._context(workspace_id, webhook_id, "url")),
            "events": ",".join(spec.events),
            "statuses": ",".join(spec.statuses),
            "label": spec.label,
            "enabled": "1" if spec.enabled else "0",
        }

    async def get(self, workspace_id: str, webhook_id: str) -> Webhook:
        """Raises NotFound (also for an id that is not a webhook id)."""
        found = await self.find(workspace_id, webhook_id)
        if found is None:
            raise NotFound("Webhook", webhook_id)
        return found

    async def find(self, workspace_id: str, webhook_id: str) -> Webhook | None:
        try:
            key = self.keys.webhook(workspace_id, webhook_id)
        except ValueError:
            return None
        with unavailable():
            raw = await self.redis.hgetall(key)
        if not raw or b"url" not in raw:
            return None
        return self._open(workspace_id, webhook_id, {text(k): text(v) for k, v in raw.items()})

    def _open(self, workspace_id: str, webhook_id: str, f: dict[str, str]) -> Webhook:
        def opened(name: str) -> str | None:
            sealed = f.get(name)
            if not sealed:
                return None
            return self.sealer.open(sealed, self._context(workspace_id, webhook_id, name))

        spec = Spec(
            url=opened("url") or "",
            events=tuple(e for e in f.get("events", "").split(",") if e),
            statuses=tuple(s for s in f.get("statuses", "").split(",") if s),
            format=f.get("format", "json"),
            label=f.get("label", ""),
            enabled=f.get("enabled") == "1",
        )
        return Webhook(
            id=webhook_id,
            workspace_id=workspace_id,
            spec=spec,
            created_at=f.get("created_at", ""),
            state=f,
            secret=opened("secret"),
            previous_secret=opened("prev_secret"),
            previous_until=int(f.get("prev_until") or 0),
        )

    async def all(self, workspace_id: str) -> list[Webhook]:
        with unavailable():
            members = await self.redis.smembers(self.keys.webhooks(workspace_id))
        ids = sorted(text(m) for m in members)
        out = []
        for webhook_id in ids:
            found = await self.find(workspace_id, webhook_id)
            if found is not None:
                out.append(found)
        return out

    async def update(self, workspace_id: str, webhook_id: str, spec: Spec) -> Webhook:
        """Store a changed spec. Enabling a webhook clears why it was disabled and restarts its
        failure clock; its undelivered events are delivered from where it stopped."""
        current = await self.get(workspace_id, webhook_id)
        fields = self._spec_fields(workspace_id, webhook_id, spec)
        fields["updated_at"] = iso(now_ms()) or ""
        key = self.keys.webhook(workspace_id, webhook_id)
        with unavailable():
            await self.redis.hset(key, mapping=cast(Any, fields))
            if spec.enabled and not current.spec.enabled:
                await self.redis.hdel(key, "disabled_reason", "disabled_at", "failing_since")
        return await self.get(workspace_id, webhook_id)

    async def delete(self, workspace_id: str, webhook_id: str) -> None:
        """Raises NotFound."""
        try:
            key = self.keys.webhook(workspace_id, webhook_id)
        except ValueError:
            raise NotFound("Webhook", webhook_id) from None
        k = self.keys
        with unavailable():
            done = await scripts.WEBHOOK_DELETE(
                self.redis,
                [
                    key,
                    k.webhooks(workspace_id),
                    k.events(workspace_id),
                    k.webhook_lease(workspace_id, webhook_id),
                    k.webhook_log(workspace_id, webhook_id),
                    k.webhook_dead(workspace_id, webhook_id),
                    k.webhook_redrive(workspace_id, webhook_id),
                ],
                [k.webhook_group(webhook_id), webhook_id],
            )
        if not done:
            raise NotFound("Webhook", webhook_id)

    async def rotate(self, workspace_id: str, webhook_id: str) -> tuple[Webhook, str]:
        """A new signing secret (shown once); the current one keeps signing too for
        ``rotation_overlap`` seconds, so receivers can switch without losing a delivery. A second
        rotation within that time drops the oldest secret."""
        current = await self.get(workspace_id, webhook_id)
        if current.secret is None:
            raise InvalidInput("format", "a Discord webhook has no signing secret to rotate")
        secret = webhooks.new_secret()
        at = now_ms()
        fields = {
            "secret": self.sealer.seal(secret, self._context(workspace_id, webhook_id, "secret")),
            "prev_secret": self.sealer.seal(
                current.secret, self._context(workspace_id, webhook_id, "prev_secret")
            ),
            "prev_until": str(at + int(self.rotation_overlap * 1000)),
            "rotated_at": str(at),
        }
        with unavailable():
            await self.redis.hset(
                self.keys.webhook(workspace_id, webhook_id), mapping=cast(Any, fields)
            )
        return await self.get(workspace_id, webhook_id), secret

    # -- deliveries ----------------------------------------------------------------------------
    async def deliveries(self, workspace_id: str, webhook_id: str) -> list[dict[str, Any]]:
        """The last attempts, newest first."""
        await self.get(workspace_id, webhook_id)
        with unavailable():
            raw = await self.redis.lrange(
                self.keys.webhook_log(workspace_id, webhook_id), 0, webhooks.LOG_LENGTH - 1
            )
        return [orjson.loads(r) for r in raw]

    async def dead_letters(self, workspace_id: str, webhook_id: str) -> list[dict[str, Any]]:
        """Events that exhausted their retries, oldest first (without their bodies)."""
        with unavailable():
            raw = await self.redis.hgetall(self.keys.webhook_dead(workspace_id, webhook_id))
        out = []
        for sid, value in raw.items():
            entry = orjson.loads(value)
            entry.pop("rest", None)
            entry.pop("status", None)
            out.append({"delivery_id": text(sid), **entry})
        return sorted(out, key=lambda e: _sid_key(e["delivery_id"]))

    async def log(self, workspace_id: str, webhook_id: str, entry: dict[str, Any]) -> None:
        """Add one attempt made outside the delivery engine (a test send) to the log."""
        key = self.keys.webhook_log(workspace_id, webhook_id)
        with unavailable():
            await self.redis.lpush(key, orjson.dumps(entry))
            await self.redis.ltrim(key, 0, webhooks.LOG_LENGTH - 1)

    async def retry(self, workspace_id: str, webhook_id: str, delivery_id: str) -> str:
        """Send an event to the webhook again: ``dead`` (a dead letter, queued), ``due`` (the
        event being retried, tried now) or ``again`` (an event still in the stream, queued).

        Raises:
            NotFound: no such webhook, or the event is neither a dead letter nor in the stream.
        """
        await self.get(workspace_id, webhook_id)
        if not _is_stream_id(delivery_id):
            raise NotFound("Delivery", delivery_id)
        k = self.keys
        with unavailable():
            result = await scripts.WEBHOOK_RETRY(
                self.redis,
                [
                    k.webhook(workspace_id, webhook_id),
                    k.webhook_dead(workspace_id, webhook_id),
                    k.webhook_redrive(workspace_id, webhook_id),
                    k.events(workspace_id),
                ],
                [delivery_id, REDRIVE_MAX],
            )
        if not result:
            raise NotFound("Delivery", delivery_id)
        return text(result)

    async def health(self, webhook: Webhook) -> dict[str, Any]:
        """How the webhook is doing: ``state`` (healthy, failing, disabled, or pending: created
        and not delivered to yet), the latest outcomes, and what waits (events not delivered
        yet (read and not acknowledged, plus not read: Redis >= 7 counts those), the oldest
        one's age, dead letters)."""
        k = self.keys
        ws = webhook.workspace_id
        with unavailable():
            reply = await scripts.WEBHOOK_HEALTH(
                self.redis, [k.events(ws)], [k.webhook_group(webhook.id)]
            )
            dead = await self.redis.hlen(k.webhook_dead(ws, webhook.id))
        pending, oldest, after, unread = 0, "", "", None
        if reply:
            pending, oldest, after = int(reply[0]), text(reply[1]), text(reply[3])
            unread = int(reply[4]) if text(reply[4]) else None
        first = oldest or after
        now = now_ms()
        s = webhook.state
        if not webhook.spec.enabled:
            state = "disabled"
        elif s.get("failing_since"):
            state = "failing"
        elif s.get("last_ok"):
            state = "healthy"
        else:
            state = "pending"
        return {
            "state": state,
            "last_success_at": iso(s.get("last_ok")),
            "last_failure_at": iso(s.get("last_fail")),
            "last_error": s.get("last_error") or None,
            "last_status_code": int(s["last_status"]) if s.get("last_status") else None,
            "failing_since": iso(s.get("failing_since")),
            "next_retry_at": iso(s.get("next_at")) if s.get("head") else None,
            "retrying": s.get("head") or None,
            "undelivered": pending + (unread or 0),
            "lag_seconds": round(max(0, now - stream_ms(first)) / 1000, 3) if first else 0.0,
            "dead_letters": dead,
        }


def _is_stream_id(value: str) -> bool:
    ms, sep, seq = value.partition("-")
    return bool(sep) and ms.isdigit() and seq.isdigit() and len(value) <= 41


def _sid_key(sid: str) -> tuple[int, int]:
    ms, _, seq = sid.partition("-")
    return int(ms), int(seq or 0)
