"""The hot routes, served without Starlette's router and exception layers: the writes
(create, status change, batch: POST) and the live WebSocket.

A write is most of what a busy server answers. Through Starlette it passes the exception
middleware, the router (a regex per route until one matches), the route's method check and the
endpoint wrapper, each with its own closure around ``send``: about a tenth of a create's CPU.
A live socket holds that chain of frames and closures for as long as it is open (memory per
connection), and each of its writes goes through the closures. ``HotRoutes`` sits right under
``Edge``: a POST whose path is a hot route's, or a WebSocket on the live route's path, goes
straight to that route's endpoint with the scope the router would have given it (``route``,
``endpoint``, ``path_params``). A write's exception goes to the app's own handlers
(http/errors.py), so the answer is the one the full stack gives, byte for byte; the live
endpoint answers its own errors (close codes), and one it lets escape is a bug that goes on up
to ServerErrorMiddleware, as through the full stack. Every other request, a hot path with
another method (405) or with a trailing slash, takes the full stack.
"""

from __future__ import annotations

from typing import Any

from starlette.convertors import StringConvertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from orderlog.http.common import JSONResponse
from orderlog.ops.serving import CHECKED_HEAD


class HotRoutes:
    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.posts = [r for r in routes if isinstance(r, Route) and r.methods == {"POST"}]
        self.sockets = [r for r in routes if isinstance(r, WebSocketRoute)]
        hot: list[Route | WebSocketRoute] = [*self.posts, *self.sockets]
        # Starlette's string convertor hands the matched text over as it is: the groups of the
        # route's own regex are its path parameters.
        assert all(
            isinstance(c, StringConvertor) for r in hot for c in r.param_convertors.values()
        ), "hot routes take string path parameters only"
        self.prefix = _common_prefix([r.path_format for r in hot])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        routes: list[Any] = []
        if kind == "http" and scope["method"] == "POST":
            routes = self.posts
        elif kind == "websocket":
            routes = self.sockets
        path = scope["path"] if routes else ""
        if path.startswith(self.prefix) and not scope.get("root_path"):
            for route in routes:
                match = route.path_regex.match(path)
                if match is not None:
                    scope["route"] = route
                    scope["endpoint"] = route.endpoint
                    scope["path_params"] = match.groupdict()
                    if kind == "websocket":
                        await route.endpoint(WebSocket(scope, receive=receive, send=send))
                    else:
                        await self._serve(route, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            # As Starlette's ExceptionMiddleware: the app's handler for the exception's class
            # answers; with none (a bug), the exception goes on up to ServerErrorMiddleware.
            handler = _handler(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
            exc.__traceback__ = None  # reused exception instances would accumulate tracebacks
            await response(scope, receive, send)
            return
        if type(response) is not JSONResponse or response.background is not None:
            await response(scope, receive, send)
            return
        # A write's answer: JSON made by the route, its headers too (content-type and -length),
        # so the server writes its head without checking each header again (ops/serving.py).
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
                CHECKED_HEAD: True,
            }
        )
        await send({"type": "http.response.body", "body": response.body})


def _handler(handlers: dict[Any, Any], exc: Exception) -> Any:
    """The handler ExceptionMiddleware would pick (``Exception`` and 500 are
    ServerErrorMiddleware's, not its own)."""
    if isinstance(exc, HTTPException) and exc.status_code != 500 and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls in handlers and cls is not Exception:
            return handlers[cls]
    return None


def _common_prefix(paths: list[str]) -> str:
    """The literal start all ``paths`` share, up to their first path parameter."""
    heads = [p.split("{", 1)[0] for p in paths]
    prefix = heads[0]
    for head in heads[1:]:
        while not head.startswith(prefix):
            prefix = prefix[:-1]
    return prefix
