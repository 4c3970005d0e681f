"""What every HTTP route shares: its path prefix, JSON bodies within limits, orjson responses, the
caller's key and its rate limit, the Idempotency-Key."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import Response

from orderlog.auth import SCREEN, SCREEN_BUMP, Principal, bearer
from orderlog.domain.inputs import parse_json
from orderlog.domain.ratelimit import Limit, RateCheck
from orderlog.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from orderlog.http.middleware import KEY_ID, RATE
from orderlog.http.state import state
from orderlog.settings import Settings
from orderlog.store.orders import Idempotency

WORKSPACE = "/v1/workspaces/{workspace_id}"  # every workspace route's prefix


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def read_body(request: Request) -> bytes:
    """The raw body; 415 unless JSON, 413 past the limit (reading stops there: a huge chunked
    body is never buffered)."""
    limit = state(request).settings.max_body_bytes
    ctype = request.headers.get("content-type", "")
    mime = ctype.split(";", 1)[0].strip().lower()
    if mime != "application/json" and not (
        mime.startswith("application/") and mime.endswith("+json")
    ):
        raise UnsupportedMediaType(ctype)
    length = request.headers.get("content-length")
    if length is not None:
        try:
            if int(length) > limit:
                raise PayloadTooLarge(limit)
        except ValueError:
            raise BadRequest("Content-Length is not a number.") from None
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        # The client left mid-body: nothing was written; the answer reaches no one, but it
        # must not be counted (or logged) as a server bug.
        raise BadRequest("The client disconnected before the body was complete.") from None
    return b"".join(chunks)


async def read_json(request: Request) -> tuple[Any, bytes]:
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
    token = bearer(request.headers.get("authorization"))
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
    if not deferred:
        await st.orders.rate_check(workspace_id, check)


def rate_check(request: Request) -> RateCheck | None:
    """This request's rate check, for a write route to pass to the store."""
    return request.scope.get(RATE)


def idempotency(request: Request, principal: Principal, body: bytes) -> Idempotency | None:
    """The request's Idempotency-Key, scoped to the API key, with a hash of what it asks."""
    header = request.headers.get("idempotency-key")
    if header is None:
        return None
    if not 0 < len(header) <= 255 or not header.isprintable():
        raise InvalidInput("Idempotency-Key", "must be 1 to 255 printable characters")
    digest = hashlib.sha256(f"{principal.key_id}\n{header}".encode()).hexdigest()
    body_hash = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
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
    rate, burst = {
        "read": (settings.rate_read, settings.rate_read_burst),
        SCREEN: (settings.rate_read, settings.rate_read_burst),  # a screen reads like a kiosk
        SCREEN_BUMP: (settings.rate_read, settings.rate_read_burst),
        "write": (settings.rate_write, settings.rate_write_burst),
        "admin": (settings.rate_admin, settings.rate_admin_burst),
    }.get(scope, (0.0, 0))
    if rate <= 0:
        return None
    return Limit(rate, max(1, burst))
