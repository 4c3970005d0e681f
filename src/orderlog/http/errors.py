"""The one place errors become responses: ``{"error", "statusCode", "message"}``."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog.errors import OrderLogError, RateLimited, StoreUnavailable
from orderlog.http.common import JSONResponse, settle_rate
from orderlog.http.middleware import ERROR

log = logging.getLogger("orderlog.errors")


def error_body(status: int, message: str) -> dict[str, object]:
    return {"error": HTTPStatus(status).phrase, "statusCode": status, "message": message}


def error_response(exc: OrderLogError) -> Response:
    body = error_body(exc.status_code, exc.message)
    if hasattr(exc, "field"):
        body["field"] = exc.field
    headers = exc.headers()
    if isinstance(exc, RateLimited):
        headers |= {
            "X-RateLimit-Limit": str(exc.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(max(1, round(exc.reset))),
        }
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


async def on_orderlog_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OrderLogError)
    if exc.status_code < 500 and not isinstance(exc, RateLimited):
        try:
            await settle_rate(request)
        except RateLimited as limited:
            exc = limited
        except StoreUnavailable:
            pass  # the client's own error stands, without a quota to show
    request.scope[ERROR] = type(exc).__name__  # the access log counts Redis errors
    if exc.status_code >= 500:
        log.warning(
            "%s %s -> %d %s", request.method, request.url.path, exc.status_code, exc.message
        )
    return error_response(exc)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    headers = dict(exc.headers or {})
    allowed = allowed_methods(request) if status in (404, 405) else []
    if allowed:  # a route has this path, not this method (the static mount answered 404)
        status = 405
        headers["Allow"] = ", ".join(allowed)
    message = {
        404: f"No route {request.url.path}.",
        405: f"{request.method} is not allowed on {request.url.path}.",
    }.get(status, str(exc.detail))
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (Starlette's 405 names only the methods of
    the first route matching the path, and one path may have a route per method)."""
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if isinstance(route, Route) and regex is not None and regex.match(request.url.path):
            methods |= route.methods or set()
    return sorted(methods)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    # A 500 is always a bug: log it with its traceback, tell the client no more than that.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body(500, "Internal error; this is a bug in orderlog."), status_code=500
    )


HANDLERS = {
    OrderLogError: on_orderlog_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
