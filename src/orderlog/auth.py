"""API keys, scopes and live-connection tickets. No Starlette here: routes call ``Authenticator``.

A key looks like ``olk_<key id: 12 hex>_<secret: 32 url-safe chars>`` (>= 190 random bits). Only
its SHA-256 is stored (under the public key id), compared in constant time. A ticket is a random
single-use token for a browser's live connection, stored as its SHA-256 for 60 s at most.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Protocol

from orderlog.errors import Forbidden, Unauthorized
from orderlog.singleflight import SingleFlight

SCOPES = ("read", "write", "admin")
KEY_PREFIX = "olk_"
TICKET_PREFIX = "olt_"
TICKET_TAG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # a workspace id

# What each action needs: a key of any listed scope.
ALLOWED = {
    "read": frozenset({"read", "admin"}),  # search, live, stats, events
    "read_one": frozenset({"read", "write", "admin"}),  # one order by id or number
    "write": frozenset({"write", "admin"}),  # create, status, batch
    "admin": frozenset({"admin"}),  # keys, workflow, settings
}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_key(key_id: str | None = None) -> tuple[str, str]:
    """A fresh (key id, raw key); the id is 12 hex digits (``Keys.slot_tag`` draws them)."""
    key_id = key_id or secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"


def key_id_of(token: str) -> str | None:
    """The public id inside a raw key, or None if the token is not shaped like one."""
    if not token.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = token[len(KEY_PREFIX) :].partition("_")
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
    """Who is calling: one API key of one workspace."""

    key_id: str
    workspace_id: str
    scope: str
    label: str = ""

    def require(self, workspace_id: str, action: str) -> None:
        """Raises Forbidden unless this key may do ``action`` in ``workspace_id``."""
        if workspace_id != self.workspace_id:
            raise Forbidden("This key belongs to another workspace.")
        if self.scope not in ALLOWED[action]:
            needed = " or ".join(sorted(ALLOWED[action]))
            raise Forbidden(f"This needs a key with the {needed} scope; this key is {self.scope}.")

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "workspace_id": self.workspace_id,
            "scope": self.scope,
            "label": self.label,
        }


class KeyRecords(Protocol):
    async def key_record(self, key_id: str) -> dict[str, str] | None: ...
    async def redeem_ticket(self, ticket: str) -> Principal | None: ...


class Authenticator:
    """Checks bearer tokens. Key records are cached for ``cache_seconds`` (a revoked key stops
    working within that time); tickets are never cached: each is redeemed once, in Redis."""

    def __init__(self, records: KeyRecords, cache_seconds: float = 1.0) -> None:
        self.records = records
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, dict[str, str] | None]] = {}
        # One read per key at a time: thousands of live sockets re-check their key each second,
        # and without this every one of them would read it from Redis when its entry expired.
        self._reads: SingleFlight[str, dict[str, str] | None, None] = SingleFlight()

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
        return Principal(key_id, record["workspace"], record["scope"], record.get("label", ""))

    async def still_valid(self, principal: Principal) -> bool:
        """For long-lived connections: False once the key is revoked (within the cache time)."""
        record = await self._record(principal.key_id)
        return record is not None and not record.get("revoked_at")

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


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
