"""Paired screens and their pairings, in Redis (the rules: domain/screens.py).

A pairing is one JSON string under its user code (``keys.pairing``), created with SET NX and a
10-minute expiry, so a code is never handed to two screens at once and disappears by itself.
Approval (pair_approve.lua) turns it from pending to approved exactly once and creates the
screen's record: a ``P:key:{K}`` hash like an API key's, without a token hash yet. The screen's
next poll takes the pairing (GETDEL: one poll wins) and sets the token hash (screen_token.lua,
HSETNX): the raw token exists only in that one reply. ``P:{W}:screens`` lists a workspace's
screens with their last-seen times.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import orjson

from orderlog.auth import SCREEN, SCREEN_BUMP, SCREEN_SCOPES, Principal, digest, new_screen_token
from orderlog.domain import screens
from orderlog.domain.ratelimit import Quota, RateCheck
from orderlog.errors import Conflict, Gone, NotFound
from orderlog.keys import Keys
from orderlog.store import scripts
from orderlog.store.client import RedisClient, text, unavailable
from orderlog.store.orders import limit
from orderlog.store.workspaces import WorkspaceStore, now_iso

EXPIRED = "This pairing has expired or was used already: the screen shows a new code."


@dataclass(frozen=True, slots=True)
class Pairing:
    """A new pairing: the code to show, the screen's secret, and for how long."""

    code: str
    device_code: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Poll:
    """A screen's poll: still pending (``token`` None), or its token and what it is."""

    expires_in: int = 0
    token: str | None = None
    workspace_id: str = ""
    screen: dict[str, Any] | None = None


class ScreenStore:
    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        workspaces: WorkspaceStore,
        code_seconds: int = screens.CODE_SECONDS,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.workspaces = workspaces
        self.code_seconds = code_seconds

    # -- the screen's side ---------------------------------------------------------------------
    async def start_pairing(self) -> Pairing:
        """A fresh code (drawn again on the rare clash with a live one) and its device code."""
        for _ in range(10):
            code = screens.new_code()
            device = screens.new_device_code(code)
            value = orjson.dumps({"device": digest(device), "state": "pending"})
            with unavailable():
                made = await self.redis.set(
                    self.keys.pairing(code), value, nx=True, px=self.code_seconds * 1000
                )
            if made:
                return Pairing(code, device, self.code_seconds)
        raise Conflict("No free pairing code: too many screens are pairing at once.")

    async def poll(self, device_code: str) -> Poll:
        """Pending, or the screen token (once: the pairing is gone after this answer).

        Raises:
            Gone: no pairing for this device code (expired, taken, or never made).
        """
        code = screens.code_of_device(device_code)
        if code is None:
            raise Gone(EXPIRED)
        key = self.keys.pairing(code)
        with unavailable():
            raw, ttl = await self._get_with_ttl(key)
        if raw is None:
            raise Gone(EXPIRED)
        pairing = orjson.loads(raw)
        if not hmac.compare_digest(pairing.get("device", ""), digest(device_code)):
            raise Gone(EXPIRED)
        if pairing["state"] != "approved":
            return Poll(expires_in=max(0, ttl // 1000))
        with unavailable():
            taken = await self.redis.getdel(key)  # a twin poll in flight gets None
        if taken is None:
            raise Gone(EXPIRED)
        screen_id = pairing["screen"]
        token = new_screen_token(screen_id)
        with unavailable():
            given = await scripts.SCREEN_TOKEN(
                self.redis, [self.keys.api_key(screen_id)], [digest(token)]
            )
        if not given:  # revoked before the screen came for it
            raise Gone(EXPIRED)
        screen = await self.screen(pairing["workspace"], screen_id)
        return Poll(token=token, workspace_id=pairing["workspace"], screen=screen)

    async def _get_with_ttl(self, key: str) -> tuple[bytes | str | None, int]:
        raw = await self.redis.get(key)
        ttl = await self.redis.pttl(key) if raw is not None else -2
        return raw, int(ttl)

    # -- the owner's side ------------------------------------------------------------------------
    async def code_exists(self, code: str) -> bool:
        with unavailable():
            return bool(await self.redis.exists(self.keys.pairing(code)))

    async def approve(self, workspace_id: str, code: str, grant: screens.Grant) -> dict[str, Any]:
        """Make the screen waiting with ``code`` a screen of the workspace.

        Raises:
            NotFound: no screen is waiting with this code (or it was approved already).
        """
        await self.workspaces.workspace(workspace_id)
        if not await self.code_exists(code):  # (before the slot draw below: guesses are cheap)
            raise NotFound(f"No screen is waiting with the code {screens.grouped(code)}.")
        screen_id = self.keys.slot_tag(workspace_id)
        grace_ms = screens.PICKUP_GRACE_SECONDS * 1000
        with unavailable():
            approved = await scripts.PAIR_APPROVE(
                self.redis, [self.keys.pairing(code)], [workspace_id, screen_id, grace_ms]
            )
        if approved != 1:
            raise NotFound(f"No screen is waiting with the code {screens.grouped(code)}.")
        # a record whose screen never came for its token is dropped from the list after this
        pair_until = int(time.time() * 1000) + self.code_seconds * 1000 + grace_ms
        with unavailable():
            await self.redis.hset(
                self.keys.api_key(screen_id),
                mapping={
                    "workspace": workspace_id,
                    "scope": SCREEN_BUMP if grant.can_bump else SCREEN,
                    "label": grant.label,
                    "role": grant.role,
                    "station": grant.station,
                    "created_at": now_iso(),
                    "pair_until": str(pair_until),
                },
            )
            await self.redis.hset(self.keys.screens(workspace_id), screen_id, "")
        return await self.screen(workspace_id, screen_id)

    async def screen(self, workspace_id: str, screen_id: str) -> dict[str, Any]:
        """One screen as the API shows it.

        Raises:
            NotFound: no such screen in the workspace.
        """
        record = await self.workspaces.key_record(screen_id)
        if not _is_screen_of(record, workspace_id):
            raise NotFound("Screen", screen_id)
        assert record is not None
        with unavailable():
            seen = await self.redis.hget(self.keys.screens(workspace_id), screen_id)
        return _screen_json(screen_id, record, text(seen) if seen else "")

    async def list(self, workspace_id: str) -> list[dict[str, Any]]:
        """The workspace's screens, newest first; screens that never came for their token
        after their pairing expired are dropped."""
        await self.workspaces.workspace(workspace_id)
        with unavailable():
            listed = await self.redis.hgetall(self.keys.screens(workspace_id))
        now_ms = time.time() * 1000
        out = []
        for raw_id, raw_seen in listed.items():
            screen_id = text(raw_id)
            record = await self.workspaces.key_record(screen_id)
            stale = record is not None and not record.get("sha256")
            if not _is_screen_of(record, workspace_id) or (
                stale and now_ms > float(record.get("pair_until") or 0)  # type: ignore[union-attr]
            ):
                await self._drop(workspace_id, screen_id, record)
                continue
            assert record is not None
            out.append(_screen_json(screen_id, record, text(raw_seen)))
        out.sort(key=lambda s: (s["created_at"] or "", s["screen_id"]), reverse=True)
        return out

    async def revoke(self, screen_id: str, workspace_id: str | None = None) -> dict[str, Any]:
        """Remove a screen: its token stops working within a second (auth.py's cache) and its
        live connections close with it.

        Raises:
            NotFound: no such screen (in ``workspace_id``, when given).
        """
        record = await self.workspaces.key_record(screen_id)
        ws = workspace_id or (record or {}).get("workspace", "")
        if not ws or not _is_screen_of(record, ws):
            raise NotFound("Screen", screen_id)
        await self._drop(ws, screen_id, record)
        return {"screen_id": screen_id, "workspace_id": ws, "revoked": True}

    async def _drop(self, workspace_id: str, screen_id: str, record: dict[str, str] | None) -> None:
        with unavailable():
            if _is_screen_of(record, workspace_id):
                await self.redis.delete(self.keys.api_key(screen_id))
            await self.redis.hdel(self.keys.screens(workspace_id), screen_id)

    async def seen(self, principal: Principal) -> None:
        """Note that a screen is in use now (Authenticator calls this, throttled)."""
        with unavailable():
            await scripts.SCREEN_SEEN(
                self.redis,
                [self.keys.screens(principal.workspace_id)],
                [principal.key_id, now_iso()],
            )

    # -- rate limits -----------------------------------------------------------------------------
    async def limit_client(self, client: str, rate: RateCheck) -> Quota:
        """Count one pairing asked for by ``client`` (its address; only a hash is kept)."""
        tag = hashlib.sha256(client.encode()).hexdigest()[:16]
        return await limit(self.redis, self.keys.pairing_client(tag), rate)

    async def limit_polls(self, device_code: str, rate: RateCheck) -> Quota | None:
        code = screens.code_of_device(device_code)
        if code is None:
            return None
        return await limit(self.redis, self.keys.pairing_polls(code), rate)

    async def limit_approvals(self, workspace_id: str, rate: RateCheck) -> Quota:
        return await limit(self.redis, self.keys.pairing_approvals(workspace_id), rate)


def _is_screen_of(record: dict[str, str] | None, workspace_id: str) -> bool:
    return (
        record is not None
        and record.get("workspace") == workspace_id
        and record.get("scope") in SCREEN_SCOPES
    )


def _screen_json(screen_id: str, record: dict[str, str], seen: str) -> dict[str, Any]:
    grant = screens.Grant(
        record.get("role", ""),
        record.get("station", ""),
        record.get("scope") == SCREEN_BUMP,
        record.get("label", ""),
    )
    return {
        "screen_id": screen_id,
        **grant.to_json(),
        "created_at": record.get("created_at"),
        "last_seen": seen or None,
        "paired": bool(record.get("sha256")),
    }
