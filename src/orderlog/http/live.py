"""Live delivery edges: the WebSocket, Server-Sent Events, long-poll and tickets.

All three transports run the same ``Feed`` over the same ``Hub`` subscription; they differ only
in framing. The protocol is documented for client authors in docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from orderlog.auth import Principal, bearer
from orderlog.errors import (
    Forbidden,
    InvalidInput,
    OrderLogError,
    StoreUnavailable,
    Unauthorized,
    UpgradeRequired,
)
from orderlog.http.common import WORKSPACE, JSONResponse, authorize, check_rate
from orderlog.http.errors import error_response
from orderlog.http.middleware import KEY_ID, SEND
from orderlog.http.state import State, state
from orderlog.live.feed import Feed
from orderlog.live.framelog import Frames
from orderlog.live.frames import Cursor, Frame
from orderlog.live.hub import GoingAway, Overflow, Subscription
from orderlog.ops.serving import DIRECT, text_frames
from orderlog.store.workspaces import TICKET_TTL_MS

log = logging.getLogger("orderlog.live")

AUTH_TIMEOUT = 5.0  # seconds a socket may take to send its first-message auth
KEY_CHECK_INTERVAL = 1.0  # a revoked key's open connections close within ~2 s
FLOOD_WINDOW = 10.0  # seconds
FLOOD_MAX = 30  # client messages per window before 1008
SSE_HEARTBEAT = 15.0
MAX_WAIT = 30.0
CLOSE_TIMEOUT = 5.0  # a close frame stuck behind a full buffer: give up and drop the socket

# close codes (docs/protocol.md)
UNAUTHORIZED = 4001
FORBIDDEN = 4003
SLOW_CONSUMER = 4008
POLICY = 1008
TRY_AGAIN = 1013
GOING_AWAY = 1001
# Every code a live socket may close with: (code, meaning, what a client does). 1009 and 1012
# come from uvicorn (a message over ops/serving.py's WS_MAX_MESSAGE; a stop without draining).
CLOSE_CODES = (
    (1000, "normal", "-"),
    (
        GOING_AWAY,
        "server going away: it drains on SIGTERM (a deploy, a scale-down)",
        "reconnect with your cursor",
    ),
    (
        POLICY,
        "policy: too many messages, an invalid filter after first-message auth",
        "fix the client",
    ),
    (1009, "a message over 64 KiB", "fix the client"),
    (1011, "internal error (a bug)", "reconnect with your cursor"),
    (1012, "server restarting: it stopped without draining", "reconnect with your cursor"),
    (TRY_AGAIN, "the store is unavailable", "reconnect with backoff, with your cursor"),
    (
        UNAUTHORIZED,
        "unauthorized: bad key or ticket, no auth within 5 s, key revoked",
        "get a valid key or ticket",
    ),
    (FORBIDDEN, "forbidden: not a read key of this workspace", "use the right key"),
    (
        SLOW_CONSUMER,
        "slow consumer: you fell too far behind (`ORDERLOG_LIVE_QUEUE_EVENTS` / `_BYTES`)",
        "reconnect with your cursor",
    ),
)


def origin_allowed(conn: HTTPConnection, allowed: tuple[str, ...]) -> bool:
    """No Origin (not a browser), an allowed one, or the server's own (same host and port)."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    host = conn.headers.get("host", "")
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


async def _credentials(conn: HTTPConnection) -> Principal | None:
    """The caller from an ``Authorization: Bearer`` header or a ``?ticket=``; None if neither."""
    auth = state(conn).auth
    token = bearer(conn.headers.get("authorization"))
    ticket = conn.query_params.get("ticket")
    if token:
        principal = await auth.authenticate(token)
    elif ticket:
        # Keep the ticket out of the server's access log (it logs the scope's query string).
        kept = [(k, v) for k, v in conn.query_params.multi_items() if k != "ticket"]
        conn.scope["query_string"] = urlencode(kept).encode()
        principal = await auth.redeem_ticket(ticket)
    else:
        return None
    conn.scope[KEY_ID] = principal.key_id  # the access log: the id, not the key
    return principal


@dataclass(frozen=True, slots=True)
class Query:
    statuses: frozenset[str] | None
    feed: Feed


async def _query(conn: HTTPConnection, principal: Principal, heartbeat: float | None) -> Query:
    """The caller may read the workspace; its status filter, checked against the workflow."""
    workspace_id = conn.path_params["workspace_id"]
    principal.require(workspace_id, "read")
    await check_rate(conn, workspace_id, principal)  # once per connect or poll
    st = state(conn)
    workflow = await st.workspaces.workflow(workspace_id)
    statuses: frozenset[str] | None = None
    raw = conn.query_params.get("status")
    if raw:
        statuses = frozenset(p.strip() for p in raw.split(",") if p.strip())
        for name in statuses:
            workflow.status(name)  # InvalidInput for an unknown status
    active = tuple(s for s in workflow.active if statuses is None or s in statuses)
    feed = Feed(
        st.hub.stream,
        workspace_id,
        active,
        heartbeat=heartbeat,
        on_resume=st.metrics.resumed,
    )
    return Query(statuses, feed)


def _cursor(text: str | None, field: str = "cursor") -> Cursor | None:
    return Cursor.parse(text, field) if text else None


# -- WebSocket ---------------------------------------------------------------------------------
def ws_texts(frames: list[Frame]) -> list[str]:
    """``ws_frames`` as the text messages to send; encoded once per drained ``Frames`` shared by
    many sockets (see live/framelog.py), not once per socket."""
    memo = frames.encoded if isinstance(frames, Frames) else None
    if memo is not None:
        texts = memo.get("ws")
        if texts is not None:
            return texts  # type: ignore[return-value]
    out = [data.decode() for data in ws_frames(frames)]
    if memo is not None:
        memo["ws"] = out
    return out


def ws_frames(frames: list[Frame]) -> list[bytes]:
    """What to send for the pending frames: one frame as is, consecutive events merged into one
    ``batch`` frame (one ASGI send per socket per drain, however many events)."""
    if len(frames) == 1:
        return [frames[0].data]
    out: list[bytes] = []
    run: list[bytes] = []
    for frame in frames:
        if frame.id is not None:
            run.append(frame.data)
            continue
        if run:
            out.append(_batch(run))
            run = []
        out.append(frame.data)
    if run:
        out.append(_batch(run))
    return out


def _batch(events: list[bytes]) -> bytes:
    if len(events) == 1:
        return events[0]
    return b'{"type":"batch","events":[' + b",".join(events) + b"]}"


def _close_code(exc: OrderLogError) -> int:
    return {401: UNAUTHORIZED, 403: FORBIDDEN, 503: TRY_AGAIN}.get(exc.status_code, POLICY)


def _reason(text: str) -> str:
    return text.encode()[:123].decode(errors="ignore")  # a close reason is at most 123 bytes


async def live_socket(websocket: WebSocket) -> None:
    st = state(websocket)
    try:
        if not origin_allowed(websocket, st.settings.allowed_origins):
            raise Forbidden("This origin may not open live connections.")
        cursor = _cursor(websocket.query_params.get("cursor"))
        principal = await _credentials(websocket)
        query = await _query(websocket, principal, None) if principal else None
    except OrderLogError as exc:
        await websocket.send_denial_response(error_response(exc))
        return
    await websocket.accept()
    try:
        if principal is None:
            principal = await _first_message_auth(websocket)
            if principal is None:
                return
            query = await _query(websocket, principal, None)
    except OrderLogError as exc:
        await _close(websocket, _close_code(exc), exc.message)
        return
    assert query is not None
    websocket.scope[KEY_ID] = principal.key_id  # the access log: the id, not the key
    code, reason = await _serve(websocket, st, principal, query, cursor)
    if code:
        await _close(websocket, code, reason)


async def _first_message_auth(websocket: WebSocket) -> Principal | None:
    """``{"type": "auth", "token": <read key or ticket>}`` within AUTH_TIMEOUT; None once the
    socket is closed."""
    try:
        async with asyncio.timeout(AUTH_TIMEOUT):
            message = await websocket.receive()
    except TimeoutError:
        await _close(websocket, UNAUTHORIZED, 'Send {"type":"auth","token":...} first.')
        return None
    if message["type"] == "websocket.disconnect":
        return None
    try:
        data = orjson.loads(message.get("text") or message.get("bytes") or b"")
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get("type") != "auth":
        raise Unauthorized('The first message must be {"type":"auth","token":...}.')
    token = data.get("token")
    return await state(websocket).auth.authenticate_any(token if isinstance(token, str) else None)


async def _serve(
    websocket: WebSocket, st: State, principal: Principal, query: Query, cursor: Cursor | None
) -> tuple[int, str]:
    """Run the socket until one side ends it; the close code and reason to send (0: none)."""
    workspace_id = websocket.path_params["workspace_id"]
    async with st.hub.subscribe(workspace_id, query.statuses) as sub:
        sender = asyncio.create_task(_send_frames(websocket, query.feed, sub, cursor))
        receiver = asyncio.create_task(_receive(websocket))
        watcher = st.auth.revoked(principal)  # one check per key for all its sockets
        tasks: set[asyncio.Future[Any]] = {sender, receiver, watcher}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            # bounded: a cancellation swallowed by a client library must not pin the socket
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
            for task in tasks:
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved; the ones that matter are read below
    if watcher in done:
        return UNAUTHORIZED, (
            "The screen was revoked." if principal.is_screen else "The API key was revoked."
        )
    if receiver in done:
        exc = receiver.exception()
        if exc is None and receiver.result():
            return POLICY, "Too many messages from the client."
        return 0, ""  # the client left
    exc = sender.exception()
    if isinstance(exc, GoingAway):
        return GOING_AWAY, "Server shutting down: reconnect with your last cursor."
    if isinstance(exc, Overflow):
        st.metrics.slow_consumer_closes.inc()
        return SLOW_CONSUMER, "Slow consumer: reconnect with your last cursor."
    if isinstance(exc, TimeoutError | StoreUnavailable):
        return TRY_AGAIN, "The order store is unavailable: reconnect with your last cursor."
    if isinstance(exc, WebSocketDisconnect | OSError):
        return 0, ""
    if exc is not None:
        log.error("live socket failed", exc_info=exc)
    return 1011, "Internal error: reconnect with your last cursor."


async def _send_frames(
    websocket: WebSocket, feed: Feed, sub: Subscription, cursor: Cursor | None
) -> None:
    # Each pass writes everything pending as one batch frame. The pace is the loop's: the hub
    # wakes a bounded number of senders per iteration (live/framelog.py, Waker), so the more
    # sockets and events, the longer a sweep over the sockets and the bigger each batch, and the
    # ingest requests keep their turn between the writes.
    # Data frames go to the server's own send (Edge stashes it): only the handshake and the
    # close need the middleware's eye, and a write of every socket is the fan-out's hot path.
    # Once live, the hub writes new frames straight to the connection while this task waits
    # (Subscription.write_to): the task sends only the snapshot or replay, and what the
    # connection could not take at once.
    send = websocket.scope.get(SEND) or websocket.send
    direct = websocket.scope.get(DIRECT)
    if direct is not None:
        sub.write_to(_Direct(direct))
    async with contextlib.aclosing(feed.frames(sub, cursor)) as frames:
        async for pending in frames:
            for text in ws_texts(pending):
                await send({"type": "websocket.send", "text": text})


class _Direct:
    """A live socket's frames written by the hub itself (``Subscription.write_to``), through
    the server's own connection (ops/serving.py ``DIRECT``): the bytes of a drained ``Frames``
    are made once for every socket that drained it."""

    __slots__ = ("_write", "ready")

    def __init__(self, conn: Any) -> None:
        self.ready = conn.can_write_now
        self._write = conn.write_now

    def write(self, frames: Frames) -> None:
        self._write(ws_wire(frames))


def ws_wire(frames: Frames) -> bytes:
    """``ws_frames`` as WebSocket frames on the wire, memoised on the shared ``Frames``."""
    wire = frames.encoded.get("wire")
    if wire is None:
        wire = frames.encoded["wire"] = text_frames(ws_frames(frames))
    return wire  # type: ignore[return-value]


async def _receive(websocket: WebSocket) -> bool:
    """Read the client until it leaves (False) or floods (True). ``{"type":"ping"}`` is
    answered with ``{"type":"pong"}``; anything else is ignored."""
    loop = asyncio.get_running_loop()
    times: deque[float] | None = None  # made at the first message: most sockets send none
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return False
        now = loop.time()
        if times is None:
            times = deque()
        times.append(now)
        while times[0] < now - FLOOD_WINDOW:
            times.popleft()
        if len(times) > FLOOD_MAX:
            return True
        if b'"ping"' in (message.get("text") or "").encode():
            await websocket.send({"type": "websocket.send", "text": '{"type":"pong"}'})


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    # A close frame waits behind everything buffered for a client that does not read: bound it.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await websocket.close(code, _reason(reason))


# -- Server-Sent Events ------------------------------------------------------------------------
def sse(frame: Frame) -> bytes:
    head = b"id: " + frame.cursor + b"\n" if frame.cursor else b""
    return head + b"data: " + frame.data + b"\n\n"


async def event_stream(request: Request) -> Response:
    st = state(request)
    if not origin_allowed(request, st.settings.allowed_origins):
        raise Forbidden("This origin may not open live connections.")
    principal = await _credentials(request)
    if principal is None:
        raise Unauthorized()
    query = await _query(request, principal, KEY_CHECK_INTERVAL)
    cursor = _cursor(request.query_params.get("cursor")) or _cursor(
        request.headers.get("last-event-id"), "Last-Event-ID"
    )
    workspace_id = request.path_params["workspace_id"]

    async def body() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        quiet_since = checked = loop.time()
        yield b"retry: 2000\n\n"
        async with st.hub.subscribe(workspace_id, query.statuses) as sub:
            frames = query.feed.frames(sub, cursor)
            try:
                async for pending in frames:
                    now = loop.time()
                    if now - checked >= KEY_CHECK_INTERVAL:
                        checked = now
                        if not await st.auth.still_valid(principal):
                            return
                    if pending:
                        quiet_since = now
                        yield b"".join(sse(f) for f in pending)
                    elif now - quiet_since >= SSE_HEARTBEAT:
                        quiet_since = now
                        yield b": keep-alive\n\n"
            except (Overflow, TimeoutError, StoreUnavailable):
                return  # EventSource reconnects with Last-Event-ID and resumes
            finally:
                await frames.aclose()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


# -- long-poll ---------------------------------------------------------------------------------
async def poll_events(request: Request) -> Response:
    st = state(request)
    principal = await _credentials(request)
    if principal is None:
        raise Unauthorized()
    query = await _query(request, principal, None)
    after = _cursor(request.query_params.get("after"), "after")
    raw_wait = request.query_params.get("wait", "0")
    try:
        wait = float(raw_wait)
    except ValueError:
        raise InvalidInput("wait", "must be a number of seconds") from None
    if not 0 <= wait <= MAX_WAIT:
        raise InvalidInput("wait", f"must be between 0 and {MAX_WAIT:g} seconds")
    workspace_id = request.path_params["workspace_id"]
    try:
        async with st.hub.subscribe(workspace_id, query.statuses) as sub:
            poll = await query.feed.poll(sub, after, wait)
    except TimeoutError:
        raise StoreUnavailable() from None
    body: dict[str, Any] = {
        "events": [orjson.Fragment(f.data) for f in poll.events],
        "cursor": poll.cursor.decode(),
    }
    if poll.snapshot is not None:
        body["orders"] = [orjson.Fragment(o) for o in poll.snapshot.orders]
    if poll.reset is not None:
        body["reset"] = poll.reset
    return JSONResponse(body)


async def live_over_http(request: Request) -> Response:
    """``GET /live`` without a WebSocket upgrade: the handshake's checks (origin, cursor,
    credentials, scope, rate, filter), then 426 naming the protocol to upgrade to."""
    if not origin_allowed(request, state(request).settings.allowed_origins):
        raise Forbidden("This origin may not open live connections.")
    _cursor(request.query_params.get("cursor"))
    principal = await _credentials(request)
    if principal is None:
        raise Unauthorized()
    await _query(request, principal, None)
    raise UpgradeRequired("websocket")


# -- tickets -----------------------------------------------------------------------------------
async def create_ticket(request: Request) -> Response:
    workspace_id = request.path_params["workspace_id"]
    principal = await authorize(request, workspace_id, "read")
    ticket = await state(request).workspaces.issue_ticket(principal)
    return JSONResponse({"ticket": ticket, "expires_in": TICKET_TTL_MS // 1000}, status_code=201)


socket_routes = [WebSocketRoute(f"{WORKSPACE}/live", live_socket, name="live")]
routes = [
    *socket_routes,
    Route(f"{WORKSPACE}/live", live_over_http, methods=["GET"], name="live_upgrade_required"),
    Route(f"{WORKSPACE}/events/stream", event_stream, methods=["GET"], name="event_stream"),
    Route(f"{WORKSPACE}/events", poll_events, methods=["GET"], name="poll_events"),
    Route(f"{WORKSPACE}/tickets", create_ticket, methods=["POST"], name="create_ticket"),
]
