"""What every HTTP route shares: its path prefix, JSON bodies within limits, orjson responses, the
caller's key and its rate limit, the Idempotency-Key."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from orderlog.auth import SCREEN, SCREEN_BUMP, Principal, bearer
from orderlog.domain.inputs import canonical_json, parse_json
from orderlog.domain.model import Workflow
from orderlog.domain.ratelimit import Limit, RateCheck
from orderlog.errors import (
    BadRequest,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedEncoding,
    UnsupportedMediaType,
    WorkflowChanged,
)
from orderlog.http.middleware import KEY_ID, RATE
from orderlog.http.state import state
from orderlog.settings import Settings
from orderlog.store.orders import Idempotency

WORKSPACE = "/v1/workspaces/{workspace_id}"  # every workspace route's prefix
DEFERRED = "orderlog.rate_deferred"  # the workspace of a write whose rate write.lua checks
HEADERS = "orderlog.headers"  # the request's headers by name (``header``)
T = TypeVar("T")


def header(conn: HTTPConnection, name: bytes) -> str | None:
    """The request's header ``name`` (lower-case; the first one when sent more than once), as
    Starlette's ``headers`` gives it (latin-1). The headers are put in a dict once per request:
    a write asks for five, and each of Starlette's lookups scans them all."""
    found: dict[bytes, bytes] | None = conn.scope.get(HEADERS)
    if found is None:
        found = conn.scope[HEADERS] = dict(reversed(conn.scope["headers"]))
    value = found.get(name)
    return None if value is None else value.decode("latin-1")


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class Gunzip:
    """A gzip body decoded as it arrives, never past ``limit`` bytes: a small body that inflates
    to gigabytes (a gzip bomb) stops at ``limit + 1`` decoded bytes with a 413. Several gzip
    members one after another decode as one body, as gzip(1) does."""

    def __init__(self, limit: int) -> None:
        self.room = limit
        self.limit = limit
        self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        out = []
        try:
            while data:
                # max_length 0 would mean "no bound": room + 1 is at least 1, and one byte past
                # the room is enough to know the body is too large.
                piece = self.decoder.decompress(data, self.room + 1)
                self.room -= len(piece)
                if self.room < 0:
                    raise PayloadTooLarge(self.limit)
                out.append(piece)
                data = self.decoder.unconsumed_tail
                if self.decoder.eof:  # the member ended: what follows is another member
                    data = self.decoder.unused_data
                    if data:
                        self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        except zlib.error as exc:
            raise BadRequest(f"The body is not valid gzip: {exc}") from None
        return b"".join(out)

    def close(self) -> None:
        if not self.decoder.eof:
            raise BadRequest("The gzip body ended before its end.")


async def read_body(request: Request) -> bytes:
    """The body (decoded when sent with ``Content-Encoding: gzip``); 415 unless JSON or for
    another encoding, 413 past the limit, both as sent and as decoded (reading stops there: a
    huge chunked body, or one that inflates without end, is never buffered)."""
    limit = state(request).settings.max_body_bytes
    ctype = header(request, b"content-type") or ""
    mime = ctype.split(";", 1)[0].strip().lower()
    if mime != "application/json" and not (
        mime.startswith("application/") and mime.endswith("+json")
    ):
        raise UnsupportedMediaType(ctype)
    encoding = (header(request, b"content-encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise UnsupportedEncoding(encoding)
    gunzip = Gunzip(limit) if encoding != "identity" else None
    length = header(request, b"content-length")
    if length is not None:
        try:
            if int(length) > limit:
                raise PayloadTooLarge(limit)
        except ValueError:
            raise BadRequest("Content-Length is not a number.") from None
    # The ASGI messages as they come (what Starlette's request.stream() does, without its
    # generator): most bodies are one message.
    chunks = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # The client left mid-body: nothing was written; the answer reaches no one, but it
            # must not be counted (or logged) as a server bug.
            raise BadRequest("The client disconnected before the body was complete.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        if chunk:
            chunks.append(gunzip.feed(chunk) if gunzip else chunk)
        if not message.get("more_body", False):
            break
    if gunzip:
        gunzip.close()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_json(request: Request) -> tuple[Any, bytes]:
    """The body parsed (400 unless JSON), and as read (decoded from gzip)."""
    body = await read_body(request)
    if not body.strip():
        raise BadRequest("The request body is empty; a JSON object is expected.")
    return parse_json(body), body


async def authorize(
    request: Request, workspace_id: str, action: str, *, rate_in_write: bool = False
) -> Principal:
    """The caller's key, allowed to do ``action`` in the workspace (401/403 otherwise), and
    within its rate limit (429). A write route passes ``rate_in_write=True`` and hands
    ``rate_check(request)`` to the store, which checks the limit inside write.lua (one round
    trip); every other request is checked here, by one small script."""
    token = bearer(header(request, b"authorization"))
    principal = await state(request).auth.authenticate(token)
    principal.require(workspace_id, action)
    request.scope[KEY_ID] = principal.key_id  # for the access log: the id, never the key
    await check_rate(request, workspace_id, principal, deferred=rate_in_write)
    return principal


async def check_rate(
    conn: HTTPConnection, workspace_id: str, principal: Principal, *, deferred: bool = False
) -> None:
    """Count the request against its key's limit (429 past it); ``deferred``: the write script
    will, with ``rate_check(request)``. Live connections call this once per connect or poll."""
    st = state(conn)
    limit = limit_for(st.settings, principal.scope)
    if limit is None:
        return
    check = RateCheck(principal.key_id, limit)
    conn.scope[RATE] = check
    if deferred:
        conn.scope[DEFERRED] = workspace_id  # for settle_rate, should the write fail before
    else:
        await st.orders.rate_check(workspace_id, check)


async def settle_rate(conn: HTTPConnection) -> None:
    """Count a write whose check was left to write.lua but that failed before reaching it (a
    400, 413, 415 or 422): its answer then carries X-RateLimit-* as every answer to a request
    whose key was checked does, and a key past its limit gets the 429 it would have got had
    the check come first. Only failing requests pay this round trip: a write that reaches
    write.lua is checked there, in its one round trip.

    Raises:
        RateLimited: the key is past its limit.
        StoreUnavailable: Redis is away.
    """
    check: RateCheck | None = conn.scope.get(RATE)
    workspace_id = conn.scope.get(DEFERRED)
    if check is None or check.quota is not None or workspace_id is None:
        return
    await state(conn).orders.rate_check(workspace_id, check)


def rate_check(request: Request) -> RateCheck | None:
    """This request's rate check, for a write route to pass to the store."""
    return request.scope.get(RATE)


def idempotency(request: Request, principal: Principal, data: Any) -> Idempotency | None:
    """The request's Idempotency-Key, scoped to the API key, with a hash of what it asks: its
    method, path and parsed body in canonical form, so a retry that re-serialises the same JSON
    (another key order, other whitespace or escapes) is the same request."""
    key = header(request, b"idempotency-key")
    if key is None:
        return None
    if not 0 < len(key) <= 255 or not key.isprintable():
        raise InvalidInput("Idempotency-Key", "must be 1 to 255 printable characters")
    digest = hashlib.sha256(f"{principal.key_id}\n{key}".encode()).hexdigest()
    body_hash = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + canonical_json(data)
    ).hexdigest()
    return Idempotency(digest, body_hash)


def path_int(request: Request, name: str) -> int:
    raw = request.path_params[name]
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput(name, "must be an integer") from None
    if value <= 0:
        raise InvalidInput(name, "must be positive")
    return value


def limit_for(settings: Settings, scope: str) -> Limit | None:
    """The limit of a key of ``scope``; None when that scope's rate is 0 (unlimited)."""
    made, limits = _limits
    if made is not settings:  # made once per Settings (every request asks)
        limits = _limits_of(settings)
        _limits[:] = [settings, limits]
    limit: Limit | None = limits.get(scope)
    return limit


def _limits_of(settings: Settings) -> dict[str, Limit | None]:
    rates = {
        "read": (settings.rate_read, settings.rate_read_burst),
        SCREEN: (settings.rate_read, settings.rate_read_burst),  # a screen reads like a kiosk
        SCREEN_BUMP: (settings.rate_read, settings.rate_read_burst),
        "write": (settings.rate_write, settings.rate_write_burst),
        "admin": (settings.rate_admin, settings.rate_admin_burst),
    }
    return {
        scope: Limit(rate, max(1, burst)) if rate > 0 else None
        for scope, (rate, burst) in rates.items()
    }


_limits: list[Any] = [None, {}]  # [the Settings, its limits by scope]


async def against_workflow(
    request: HTTPConnection, workspace_id: str, write: Callable[[Workflow], Awaitable[T]]
) -> T:
    """``write`` checked against the workspace's workflow (cached for a second); once more
    against the workflow read afresh if it changed meanwhile (the store refuses a write checked
    against another version: ``WorkflowChanged``)."""
    workspaces = state(request).workspaces
    try:
        return await write(await workspaces.workflow(workspace_id))
    except WorkflowChanged:
        return await write(await workspaces.workflow(workspace_id, fresh=True))
