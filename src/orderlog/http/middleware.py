"""The one ASGI middleware every request and WebSocket session passes: the response headers every
answer carries, one access-log line, and the request metrics.

Pure ASGI with a single ``send`` wrapper (no BaseHTTPMiddleware: it would buffer streamed SSE
responses), so a request pays for one layer here, not one per concern:

- **Security headers** on every HTTP response: the CSP forbids inline script and anything from
  another host (the dashboards are plain files under ``static/`` that load only same-origin
  modules, styles and API calls; ``connect-src 'self'`` also covers ``ws://``/``wss://`` to the
  same host and port in CSP Level 3 browsers); no sniffing, no referrer, no framing.
- **X-RateLimit-*** on every response to a request whose key was checked, a WebSocket
  handshake refused after the check included (a 429 carries its own, from http/errors.py; a
  write that fails before write.lua checks it is checked by http/errors.py).
- **Access log**: the method, the route *template* (``/v1/workspaces/{workspace_id}/orders``,
  never the path with its ids or the query string, which may carry a ticket) or, for a static
  file and a path no route knows, the path itself (percent-encoded, shortened, any key or
  ticket in it redacted), the status (for a WebSocket: the close code), the duration and the id
  of the API key (``authorize`` puts it in the scope), never a key. Plain text by default, JSON
  lines with ``ORDERLOG_LOG_JSON``.
- **Metrics**: requests by route and status, and the live-client gauges: a WebSocket from its
  accept to its end, an SSE stream (``text/event-stream`` response) from its first byte to its
  end.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderlog.domain.ratelimit import RateCheck
from orderlog.http.state import app_state
from orderlog.ops.logging import access
from orderlog.ops.metrics import Metrics
from orderlog.ops.serving import CHECKED_HEAD, redact

KEY_ID = "orderlog.key_id"  # set by http.common.authorize (and the live edges)
ERROR = "orderlog.error"  # set by http.errors for domain errors: the exception's class name
RATE = "orderlog.rate"  # the request's RateCheck, set by http.common.check_rate
SEND = "orderlog.send"  # a WebSocket's own send, unobserved: for its data frames (http/live.py)

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


MAX_LOGGED_PATH = 200  # characters of a path the access log shows (a template is shorter)


def route_name(scope: Scope) -> tuple[str, str]:
    """(route template, route name) of the matched route; bounded values for unmatched paths."""
    route = scope.get("route")
    if route is None:
        return "-", "unmatched"
    path = getattr(route, "path", "") or "/"
    name = getattr(route, "name", None) or "static"
    return path, name


def logged_path(scope: Scope) -> str:
    """What the access log shows for the request's path: the route template, or where there is
    none (a static file: the mount at "/" catches every path no route knows) the path itself,
    fit for one log line: percent-encoded (no control characters, no spaces), cut to
    MAX_LOGGED_PATH characters, with any key or ticket a client put in it redacted."""
    route = scope.get("route")
    if route is not None and not isinstance(route, Mount):
        return route_name(scope)[0]
    shown = redact(quote(scope.get("path") or "/", safe="/:@!$&'()*+,;=~"))
    if len(shown) > MAX_LOGGED_PATH:
        shown = shown[: MAX_LOGGED_PATH - 3] + "..."
    return shown


class Edge:
    def __init__(self, app: ASGIApp, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = app_state(scope)
        metrics = state.metrics if state is not None else None
        websocket = scope["type"] == "websocket"
        seen: dict[str, Any] = {"status": 0, "transport": None}

        async def observe(message: Message) -> None:
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
                seen["status"] = status  # (a WebSocket: refused before the handshake)
                headers = [*message.get("headers", ()), *SECURITY_HEADERS]
                check: RateCheck | None = scope.get(RATE)
                if status != 429 and check is not None and check.quota is not None:
                    headers += check.quota.headers()
                message = {**message, "headers": headers}
                # (a checked head is a write's JSON answer: never a stream)
                if not message.get(CHECKED_HEAD) and _is_event_stream(message):
                    _live(metrics, seen, "sse")
            elif kind == "websocket.accept":
                seen["status"] = 101
                _live(metrics, seen, "websocket")
            elif kind == "websocket.close":
                seen["status"] = message.get("code", 1000)
            await send(message)

        async def receive_observed() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and seen["status"] == 101:
                seen["status"] = message.get("code", 1005)  # the client closed first
            return message

        if websocket:
            scope[SEND] = send
        try:
            await self.app(scope, receive_observed if websocket else receive, observe)
        except BaseException:
            if not seen["status"]:
                seen["status"] = 500
            raise
        finally:
            if seen["transport"] is not None and metrics is not None:
                metrics.clients.labels(seen["transport"]).dec()
            if websocket and seen["status"] == 101:
                seen["status"] = 1006  # ended without a close frame either way
            self._record(scope, metrics, seen["status"], time.perf_counter() - start)

    def _record(self, scope: Scope, metrics: Metrics | None, status: int, seconds: float) -> None:
        name = route_name(scope)[1]
        method = "WS" if scope["type"] == "websocket" else scope["method"]
        if metrics is not None:
            if scope["type"] == "http":
                metrics.request(method, name, status, seconds)
            if scope.get(ERROR) == "StoreUnavailable":
                metrics.redis_errors.labels("request").inc()
        if not self.access_log:
            return
        client = scope.get("client")
        path = logged_path(scope)
        access(client[0] if client else None, method, path, status, seconds, scope.get(KEY_ID))


def _is_event_stream(message: Message) -> bool:
    for name, value in message.get("headers", ()):
        if name.lower() == b"content-type":
            return bool(value.startswith(b"text/event-stream"))
    return False


def _live(metrics: Metrics | None, seen: dict[str, Any], transport: str) -> None:
    seen["transport"] = transport
    if metrics is not None:
        metrics.clients.labels(transport).inc()
