"""The delivering side of webhooks in Redis: leases, consumer groups, outcomes.

Each webhook reads its workspace's event stream through a consumer group of its own
(``wh:<id>``), so the stream keeps its place: an event is acknowledged (XACK) only after the
receiver answered 2xx (or the webhook's filter skips it), and an event read but not
acknowledged stays pending in the group across crashes and restarts.

One process at a time delivers a webhook, which keeps its events in order: the one holding
its lease (``SET NX PX``, renewed while it works). A process taking a webhook over first claims
every entry still pending in the group (XAUTOCLAIM, from whichever consumer read it: a
crashed process's) and delivers those, in stream order, before reading new ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import orjson
from redis.exceptions import ResponseError

from orderlog.keys import Keys
from orderlog.store import scripts
from orderlog.store.client import RedisClient, text, unavailable

CLAIM_PAGE = 200


@dataclass(frozen=True, slots=True)
class Entry:
    """One event of the stream, as a webhook receives it. ``rest`` is None for an entry the
    stream trimmed before it was delivered."""

    id: str
    status: str
    rest: bytes | None

    @property
    def ms(self) -> int:
        return int(self.id.split("-", 1)[0])

    @property
    def event(self) -> str:
        """The event type, read from the head of ``rest`` (write.lua starts it so)."""
        if self.rest is None:
            return ""
        head = b'"event":"'
        if not self.rest.startswith(head):
            return ""
        end = self.rest.index(b'"', len(head))
        return self.rest[len(head) : end].decode()

    def body(self, epoch: bytes) -> bytes:
        """The event as the live feed sends it (live/frames.py ``event``; a test keeps the two
        equal): the body every JSON webhook receives."""
        assert self.rest is not None
        return b'{"type":"event","cursor":"' + epoch + b":" + self.id.encode() + b'",' + self.rest


def _entry(raw_id: Any, fields: Any) -> Entry:
    sid = text(raw_id)
    if not fields:
        return Entry(sid, "", None)
    return Entry(sid, text(fields.get(b"s", b"")), fields.get(b"f"))


class DeliveryQueue:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    # -- leases --------------------------------------------------------------------------------
    async def acquire(self, workspace_id: str, webhook_id: str, me: str, ttl: float) -> bool:
        with unavailable():
            got = await self.redis.set(
                self.keys.webhook_lease(workspace_id, webhook_id), me, nx=True, px=int(ttl * 1000)
            )
        return bool(got)

    async def renew(self, workspace_id: str, webhook_id: str, me: str, ttl: float) -> bool:
        with unavailable():
            held = await scripts.WEBHOOK_LEASE(
                self.redis,
                [self.keys.webhook_lease(workspace_id, webhook_id)],
                [me, max(1, int(ttl * 1000))],
            )
        return bool(held)

    async def release(self, workspace_id: str, webhook_id: str, me: str) -> None:
        with unavailable():
            await scripts.WEBHOOK_LEASE(
                self.redis, [self.keys.webhook_lease(workspace_id, webhook_id)], [me, 0]
            )

    async def holder(self, workspace_id: str, webhook_id: str) -> str | None:
        with unavailable():
            raw = await self.redis.get(self.keys.webhook_lease(workspace_id, webhook_id))
        return text(raw) if raw is not None else None

    # -- reading -------------------------------------------------------------------------------
    async def epoch(self, workspace_id: str) -> bytes:
        with unavailable():
            raw = await self.redis.get(self.keys.epoch(workspace_id))
        return bytes(raw) if isinstance(raw, bytes) else b""

    async def adopt(self, workspace_id: str, webhook_id: str, me: str) -> list[Entry]:
        """Claim every entry pending in the webhook's group (whoever read it) for ``me``, in
        stream order, and forget the consumers left with nothing pending. Only the lease holder
        calls this, so nobody else is delivering them."""
        stream = self.keys.events(workspace_id)
        group = self.keys.webhook_group(webhook_id)
        out: list[Entry] = []
        start = "0-0"
        with unavailable():
            while True:
                try:
                    reply = await self.redis.xautoclaim(
                        stream, group, me, 0, start_id=start, count=CLAIM_PAGE
                    )
                except ResponseError as exc:
                    if "NOGROUP" in str(exc):
                        return []
                    raise
                start = text(reply[0])
                out.extend(_entry(sid, fields) for sid, fields in reply[1])
                # Redis 7 lists the ids of pending entries the stream no longer has apart.
                if len(reply) > 2:
                    out.extend(Entry(text(sid), "", None) for sid in reply[2])
                if start == "0-0":
                    break
            for consumer in await self.redis.xinfo_consumers(stream, group):
                name = text(consumer["name"])
                if name != me and int(consumer["pending"]) == 0:
                    await self.redis.xgroup_delconsumer(stream, group, name)
        out.sort(key=lambda e: tuple(int(p) for p in e.id.split("-")))
        return out

    async def read(self, workspace_id: str, webhook_id: str, me: str, count: int) -> list[Entry]:
        """Up to ``count`` entries the group has not handed out yet (they become ``me``'s
        pending entries). A webhook without a group (its workspace had no stream yet) gets one
        from the stream's start once the stream exists (webhook_group.lua)."""
        stream = self.keys.events(workspace_id)
        group = self.keys.webhook_group(webhook_id)
        with unavailable():
            try:
                reply: Any = await self.redis.xreadgroup(group, me, {stream: ">"}, count=count)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await scripts.WEBHOOK_GROUP(
                    self.redis, [self.keys.webhook(workspace_id, webhook_id), stream], [group]
                )
                return []
        if not reply:
            return []
        return [_entry(sid, fields) for sid, fields in reply[0][1]]

    async def entry(self, workspace_id: str, stream_id: str) -> Entry | None:
        with unavailable():
            found = await self.redis.xrange(
                self.keys.events(workspace_id), stream_id, stream_id, count=1
            )
        return _entry(*found[0]) if found else None

    async def redrive(self, workspace_id: str, webhook_id: str, count: int = 10) -> list[str]:
        """Stream ids an admin asked to send again, oldest request first (taken off the list)."""
        with unavailable():
            raw: Any = await self.redis.lpop(
                self.keys.webhook_redrive(workspace_id, webhook_id), count
            )
        return [text(r) for r in raw or []]

    async def dead_letter(
        self, workspace_id: str, webhook_id: str, stream_id: str
    ) -> dict[str, Any] | None:
        with unavailable():
            raw = await self.redis.hget(self.keys.webhook_dead(workspace_id, webhook_id), stream_id)
        return cast(dict[str, Any], orjson.loads(raw)) if raw else None

    async def forget_dead(self, workspace_id: str, webhook_id: str, stream_id: str) -> None:
        with unavailable():
            await self.redis.hdel(self.keys.webhook_dead(workspace_id, webhook_id), stream_id)

    # -- outcomes ------------------------------------------------------------------------------
    async def settle(
        self,
        workspace_id: str,
        webhook_id: str,
        me: str,
        *,
        acks: Iterable[str] = (),
        logs: Iterable[bytes] = (),
        state: dict[str, str] | None = None,
        dead: tuple[str, bytes] | None = None,
        log_length: int = 100,
    ) -> bool:
        """Acknowledge ``acks``, append ``logs`` (oldest first), write ``state`` fields ('' to
        remove one), move ``dead`` = (stream id, JSON) to the dead letters: all in one script.
        Returns False if this process no longer holds the lease (only the acknowledgements
        were written)."""
        k = self.keys
        ack_list, log_list = list(acks), list(logs)
        pairs = [x for item in (state or {}).items() for x in item]
        with unavailable():
            held = await scripts.WEBHOOK_SETTLE(
                self.redis,
                [
                    k.webhook_lease(workspace_id, webhook_id),
                    k.events(workspace_id),
                    k.webhook(workspace_id, webhook_id),
                    k.webhook_log(workspace_id, webhook_id),
                    k.webhook_dead(workspace_id, webhook_id),
                ],
                [
                    me,
                    k.webhook_group(webhook_id),
                    log_length,
                    len(ack_list),
                    len(log_list),
                    len(pairs) // 2,
                    dead[0] if dead else "",
                    dead[1] if dead else b"",
                    *ack_list,
                    *log_list,
                    *pairs,
                ],
            )
        return bool(held)

    # -- processes and discovery ---------------------------------------------------------------
    async def heartbeat(self, me: str, now_ms: int, ttl: float) -> int:
        """Say this process delivers webhooks; the number of processes that do (the others
        said so within ``ttl`` seconds)."""
        key = self.keys.webhook_processes
        with unavailable():
            pipe = self.redis.pipeline(transaction=False)
            pipe.zadd(key, {me: now_ms})
            pipe.zremrangebyscore(key, "-inf", now_ms - int(ttl * 1000))
            pipe.zcard(key)
            replies = await pipe.execute()
        return max(1, int(replies[-1]))

    async def leave(self, me: str) -> None:
        with unavailable():
            await self.redis.zrem(self.keys.webhook_processes, me)

    async def webhooks(self) -> list[tuple[str, str, bool]]:
        """Every webhook of every workspace: (workspace id, webhook id, enabled)."""
        k = self.keys
        with unavailable():
            workspaces = sorted(text(w) for w in await self.redis.smembers(k.webhook_workspaces))
            if not workspaces:
                return []
            pipe = self.redis.pipeline(transaction=False)
            for ws in workspaces:
                pipe.smembers(k.webhooks(ws))
            members = await pipe.execute()
            pairs = [
                (ws, text(m)) for ws, ids in zip(workspaces, members, strict=True) for m in ids
            ]
            if not pairs:
                return []
            pipe = self.redis.pipeline(transaction=False)
            for ws, wh in pairs:
                pipe.hget(k.webhook(ws, wh), "enabled")
            enabled = await pipe.execute()
        return [(ws, wh, e == b"1") for (ws, wh), e in zip(pairs, enabled, strict=True)]
