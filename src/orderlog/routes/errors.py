"""The one place errors become responses: ``{"error", "statusCode", "message"}``."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import OrderLogError, RateLimited
from .http import JSONResponse

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
    request.scope["orderlog.error"] = type(exc).__name__  # the access log counts Redis errors
    if exc.status_code >= 500:
        log.warning(
            "%s %s -> %d %s", request.method, request.url.path, exc.status_code, exc.message
        )
    return error_response(exc)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {
        404: f"No route {request.url.path}.",
        405: f"{request.method} is not allowed on {request.url.path}.",
    }.get(exc.status_code, str(exc.detail))
    return JSONResponse(
        error_body(exc.status_code, message), status_code=exc.status_code, headers=exc.headers
    )


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
