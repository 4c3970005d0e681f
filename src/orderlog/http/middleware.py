"""One log line per HTTP request and per WebSocket session, and the request metrics.

A pure ASGI middleware (no BaseHTTPMiddleware: it would buffer streamed SSE responses). It logs
the method, the route *template* (``/v1/workspaces/{workspace_id}/orders``, never the path with
its ids or the query string, which may carry a ticket), the status (for a WebSocket: the close
code), the duration and the id of the API key (``authorize`` puts it in the scope), never a key.
Plain text by default, one JSON object per line with ``ORDERLOG_LOG_JSON``.

It also counts requests and moves the live-client gauges: a WebSocket from its accept to its
end, an SSE stream (``text/event-stream`` response) from its first byte to its end.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderlog.ops.metrics import Metrics

log = logging.getLogger("orderlog.access")

KEY_ID = "orderlog.key_id"  # set by routes.http.authorize (and the live edges)
ERROR = "orderlog.error"  # set by routes.errors for domain errors: the exception's class name


def route_name(scope: Scope) -> tuple[str, str]:
    """(route template, route name) of the matched route; bounded values for unmatched paths."""
    route = scope.get("route")
    if route is None:
        return "-", "unmatched"
    path = getattr(route, "path", "") or "/"
    name = getattr(route, "name", None) or "static"
    return path, name


class AccessLog:
    def __init__(self, app: ASGIApp, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = scope.get("state", {}).get("orderlog")
        metrics: Metrics | None = state.extras.get("metrics") if state is not None else None
        websocket = scope["type"] == "websocket"
        seen: dict[str, Any] = {"status": 0, "transport": None}

        async def observe(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                seen["status"] = message["status"]
                if _is_event_stream(message):
                    _live(metrics, seen, "sse")
            elif kind == "websocket.accept":
                seen["status"] = 101
                _live(metrics, seen, "websocket")
            elif kind == "websocket.close":
                seen["status"] = message.get("code", 1000)
            elif kind == "websocket.http.response.start":
                seen["status"] = message["status"]  # refused before the handshake
            await send(message)

        async def receive_observed() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and seen["status"] == 101:
                seen["status"] = message.get("code", 1005)  # the client closed first
            return message

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
        path, name = route_name(scope)
        method = "WS" if scope["type"] == "websocket" else scope["method"]
        if metrics is not None:
            if scope["type"] == "http":
                metrics.request(method, name, status, seconds)
            if scope.get(ERROR) == "StoreUnavailable":
                metrics.redis_errors.labels("request").inc()
        if not self.enabled:
            return
        key_id = scope.get(KEY_ID) or "-"
        client = scope.get("client")
        log.info(
            "%s %s %s %d %.1fms key=%s",
            client[0] if client else "-",
            method,
            path,
            status,
            seconds * 1000,
            key_id,
            extra={
                "access": {
                    "client": client[0] if client else None,
                    "method": method,
                    "route": path,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "key_id": scope.get(KEY_ID),
                }
            },
        )


def _is_event_stream(message: Message) -> bool:
    for name, value in message.get("headers", ()):
        if name.lower() == b"content-type":
            return bool(value.startswith(b"text/event-stream"))
    return False


def _live(metrics: Metrics | None, seen: dict[str, Any], transport: str) -> None:
    seen["transport"] = transport
    if metrics is not None:
        metrics.clients.labels(transport).inc()


# -- formatting --------------------------------------------------------------------------------
class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and an access line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # which of several workers
        }
        access = getattr(record, "access", None)
        if access is not None:
            data.update(access)
        else:
            data["message"] = record.getMessage()
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(data).decode()


def log_config(json: bool, level: str = "INFO") -> dict[str, Any]:
    """``logging.config.dictConfig`` for ``uvicorn.run(log_config=...)``: orderlog's loggers and
    uvicorn's error log on stderr, plain or JSON; uvicorn's own access log is off (ours is on)."""
    formatter = (
        {"()": f"{__name__}.JSONFormatter"}
        if json
        else {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "loggers": {
            "orderlog": {"handlers": ["main"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["main"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
