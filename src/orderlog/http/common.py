"""What every HTTP route shares: JSON bodies within limits, orjson responses, the caller's key."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import Response

from orderlog.auth import Principal, bearer
from orderlog.domain.inputs import parse_json
from orderlog.domain.ratelimit import RateCheck, limit_for
from orderlog.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from orderlog.http.state import State
from orderlog.store.orders import Idempotency


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def state(request: Request) -> State:
    return request.state.orderlog  # type: ignore[no-any-return]


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
    request.scope["orderlog.key_id"] = principal.key_id  # for the access log: the id, never the key
    await check_rate(request, workspace_id, principal, deferred=rate_in_write)
    return principal


async def check_rate(
    conn: HTTPConnection, workspace_id: str, principal: Principal, *, deferred: bool = False
) -> None:
    """Count the request against its key's limit (429 past it); ``deferred``: the write script
    will, with ``rate_check(request)``. Live connections call this once per connect or poll."""
    st: State = conn.state.orderlog
    limit = limit_for(st.settings, principal.scope)
    if limit is None:
        return
    check = RateCheck(principal.key_id, limit)
    conn.scope["orderlog.rate"] = check
    if not deferred:
        await st.orders.rate_check(workspace_id, check)


def rate_check(request: Request) -> RateCheck | None:
    """This request's rate check, for a write route to pass to the store."""
    return request.scope.get("orderlog.rate")


class RateLimitHeaders:
    """ASGI middleware: ``X-RateLimit-*`` headers on every response to a checked request (a 429
    carries its own, from routes/errors.py)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] != 429:
                check = scope.get("orderlog.rate")
                if check is not None and check.quota is not None:
                    message = {**message, "headers": [*message["headers"], *check.quota.headers()]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


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
