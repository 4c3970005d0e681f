"""API keys, screen tokens, scopes and live-connection tickets. No Starlette here: routes call
``Authenticator``.

A key looks like ``olk_<key id: 12 hex>_<secret: 32 url-safe chars>`` (>= 190 random bits). Only
its SHA-256 is stored (under the public key id), compared in constant time. A screen token
(``ols_<screen id>_<secret>``) is the credential a paired screen holds (store/screens.py): its
record sits beside the API keys' and is checked by the same code, so revoking one closes its live
connections as fast as revoking a key. A ticket is a random single-use token for a browser's live
connection, stored as its SHA-256 for 60 s at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from orderlog.errors import Forbidden, StoreUnavailable, Unauthorized
from orderlog.singleflight import SingleFlight

SCOPES = ("read", "write", "admin")  # what an API key may have
# A paired screen's token: "screen" shows orders; "screen_bump" (a kitchen screen allowed to
# bump) may also change an order's status, recall it, mark its items done and set its priority,
# never create orders or administer.
SCREEN = "screen"
SCREEN_BUMP = "screen_bump"
SCREEN_SCOPES = (SCREEN, SCREEN_BUMP)
KEY_PREFIX = "olk_"
SCREEN_PREFIX = "ols_"
TICKET_PREFIX = "olt_"
TICKET_TAG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # a workspace id
SEEN_EVERY = 30.0  # seconds between two "last seen" writes for one screen (per process)
WATCH_EVERY = 1.0  # seconds between two checks of a live connection's key (``revoked``)

# What each action needs: a key of any listed scope. A screen reads what a read key reads (its
# pages search and ask for stats too), so a kiosk's read key and a paired screen are alike.
ALLOWED = {
    "read": frozenset({"read", "admin", *SCREEN_SCOPES}),  # search, live, stats, events
    "read_one": frozenset({"read", "write", "admin", *SCREEN_SCOPES}),  # one order, workspace
    "write": frozenset({"write", "admin"}),  # create, batch
    # a kitchen's actions: status change (a bump), recall, item done marks, priority
    "status": frozenset({"write", "admin", SCREEN_BUMP}),
    "admin": frozenset({"admin"}),  # keys, screens, workflow, settings
}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_key(key_id: str | None = None) -> tuple[str, str]:
    """A fresh (key id, raw key); the id is 12 hex digits (``Keys.slot_tag`` draws them)."""
    key_id = key_id or secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"


def new_screen_token(screen_id: str) -> str:
    """A fresh raw screen token for the screen record ``screen_id`` (12 hex digits)."""
    return f"{SCREEN_PREFIX}{screen_id}_{secrets.token_urlsafe(24)}"


def key_id_of(token: str) -> str | None:
    """The public id inside a raw key or screen token, or None if the token is not shaped like
    one. (The prefix is part of what is hashed: a key's secret under the other prefix fails.)"""
    if not token.startswith((KEY_PREFIX, SCREEN_PREFIX)):
        return None
    key_id, sep, secret = token[len(KEY_PREFIX) :].partition("_")  # (both prefixes: 4 chars)
    if not sep or len(key_id) != 12 or not secret:
        return None
    try:
        int(key_id, 16)
    except ValueError:
        return None
    return key_id


def new_ticket(workspace_id: str) -> str:
    """``olt_<workspace id>.<secret>``: the workspace id names where the ticket is kept (its
    hash tag is the workspace's, so on a cluster it lives on the workspace's master). ``.`` is
    in neither a workspace id nor a url-safe secret."""
    return f"{TICKET_PREFIX}{workspace_id}.{secrets.token_urlsafe(24)}"


def ticket_tag(ticket: str) -> str | None:
    """The workspace id inside a ticket built by ``new_ticket``, or None if not shaped so."""
    tag, sep, secret = ticket.removeprefix(TICKET_PREFIX).partition(".")
    if not ticket.startswith(TICKET_PREFIX) or not sep or not secret:
        return None
    if not TICKET_TAG.match(tag):
        return None
    return tag


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: one API key (or paired screen: ``role``, ``station``) of one workspace."""

    key_id: str
    workspace_id: str
    scope: str
    label: str = ""
    role: str = ""
    station: str = ""

    @property
    def is_screen(self) -> bool:
        return self.scope in SCREEN_SCOPES

    def require(self, workspace_id: str, action: str) -> None:
        """Raises Forbidden unless this key may do ``action`` in ``workspace_id``."""
        if workspace_id != self.workspace_id:
            raise Forbidden("This key belongs to another workspace.")
        if self.scope not in ALLOWED[action]:
            if self.is_screen:
                doing = "change orders" if SCREEN_BUMP in ALLOWED[action] else "do this"
                raise Forbidden(f"This screen may not {doing} (its pairing decides).")
            needed = " or ".join(s for s in sorted(ALLOWED[action]) if s in SCOPES)
            raise Forbidden(f"This needs a key with the {needed} scope; this key is {self.scope}.")

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "workspace_id": self.workspace_id,
            "scope": self.scope,
            "label": self.label,
            "role": self.role,
            "station": self.station,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Principal:
        return cls(
            data["key_id"],
            data["workspace_id"],
            data["scope"],
            data.get("label", ""),
            data.get("role", ""),
            data.get("station", ""),
        )


class KeyRecords(Protocol):
    async def key_record(self, key_id: str) -> dict[str, str] | None: ...
    async def redeem_ticket(self, ticket: str) -> Principal | None: ...


class Authenticator:
    """Checks bearer tokens. Key records are cached for ``cache_seconds`` (a revoked key stops
    working within that time); tickets are never cached: each is redeemed once, in Redis.

    ``seen`` records that a screen is in use (its "last seen"): called at most every
    SEEN_EVERY seconds per screen, from requests and from the live connections' key checks, so a
    screen that keeps one socket open for a day still shows as seen."""

    def __init__(
        self,
        records: KeyRecords,
        cache_seconds: float = 1.0,
        seen: Callable[[Principal], Awaitable[None]] | None = None,
    ) -> None:
        self.records = records
        self.cache_seconds = cache_seconds
        self.seen = seen
        self._seen_at: dict[str, float] = {}
        self._cache: dict[str, tuple[float, dict[str, str] | None]] = {}
        self._principals: dict[str, tuple[dict[str, str], Principal]] = {}
        # One read per key at a time: thousands of live sockets re-check their key each second,
        # and without this every one of them would read it from Redis when its entry expired.
        self._reads: SingleFlight[str, dict[str, str] | None, None] = SingleFlight()
        # The live connections' keys, checked once per key per WATCH_EVERY for all of them
        # (``revoked``): key id -> (principal, the futures of its connections).
        self._watched: dict[str, tuple[Principal, set[asyncio.Future[None]]]] = {}
        self._watcher: asyncio.Task[None] | None = None

    async def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized()
        key_id = key_id_of(token)
        if key_id is None:
            raise Unauthorized("The API key is not valid.")
        record = await self._record(key_id)
        if (
            record is None
            or record.get("revoked_at")
            or not hmac.compare_digest(record.get("sha256", ""), digest(token))
        ):
            raise Unauthorized("The API key is not valid.")
        made = self._principals.get(key_id)
        if made is None or made[0] is not record:  # one Principal per record read
            principal = Principal(
                key_id,
                record["workspace"],
                record["scope"],
                record.get("label", ""),
                record.get("role", ""),
                record.get("station", ""),
            )
            if len(self._principals) > 10_000:
                self._principals.clear()
            self._principals[key_id] = (record, principal)
        else:
            principal = made[1]
        if principal.is_screen:
            await self._mark_seen(principal)
        return principal

    async def still_valid(self, principal: Principal) -> bool:
        """For long-lived connections: False once the key is revoked (within the cache time)."""
        record = await self._record(principal.key_id)
        valid = record is not None and not record.get("revoked_at")
        if valid:
            await self._mark_seen(principal)
        return valid

    def revoked(self, principal: Principal) -> asyncio.Future[None]:
        """A future resolved once ``principal``'s key (or screen) is revoked, for a live
        connection to wait on beside its work; cancel it when the connection ends. One check per
        key every WATCH_EVERY seconds serves all its connections (``still_valid``, which also
        keeps a screen's last-seen time)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = self._watched.setdefault(principal.key_id, (principal, set()))
        entry[1].add(future)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(
                self._watch(), name="orderlog-key-watch"
            )
        return future

    async def _watch(self) -> None:
        while self._watched:
            await asyncio.sleep(WATCH_EVERY)
            for key_id, (principal, futures) in list(self._watched.items()):
                futures.difference_update([f for f in futures if f.done()])
                if not futures:
                    del self._watched[key_id]
                    continue
                try:
                    valid = await self.still_valid(principal)
                except StoreUnavailable:
                    continue  # a check missed, not a revocation: the next one decides
                if not valid:
                    for future in futures:
                        if not future.done():
                            future.set_result(None)

    async def close(self) -> None:
        """Stop the watch of the live connections' keys (the lifespan calls this)."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def _mark_seen(self, principal: Principal) -> None:
        if self.seen is None or not principal.is_screen:
            return
        now = time.monotonic()
        if now - self._seen_at.get(principal.key_id, -SEEN_EVERY) < SEEN_EVERY:
            return
        if len(self._seen_at) > 10_000:
            self._seen_at.clear()
        self._seen_at[principal.key_id] = now
        with contextlib.suppress(StoreUnavailable):  # a screen's last-seen time is best effort
            await self.seen(principal)

    async def redeem_ticket(self, ticket: str) -> Principal:
        if not ticket.startswith(TICKET_PREFIX):
            raise Unauthorized("The ticket is not valid.")
        principal = await self.records.redeem_ticket(ticket)
        if principal is None or not await self.still_valid(principal):
            raise Unauthorized("The ticket is not valid, was used already, or has expired.")
        return principal

    async def authenticate_any(self, token: str | None) -> Principal:
        """A key or a ticket (the first message of a live connection may carry either)."""
        if token and token.startswith(TICKET_PREFIX):
            return await self.redeem_ticket(token)
        return await self.authenticate(token)

    async def _record(self, key_id: str) -> dict[str, str] | None:
        hit = self._cache.get(key_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        flight = self._reads.get(key_id)
        if flight is None:
            flight = self._reads.start(key_id, self._read(key_id), None)
        elif hit is not None:
            return hit[1]  # being re-read: the previous answer, one read's time older, will do
        return await flight.result()

    async def _read(self, key_id: str) -> dict[str, str] | None:
        record = await self.records.key_record(key_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_id] = (time.monotonic() + self.cache_seconds, record)
        return record

    def forget(self, key_id: str) -> None:
        self._cache.pop(key_id, None)
        self._principals.pop(key_id, None)
        self._seen_at.pop(key_id, None)


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
