"""The one exception tree of orderlog's domain.

::

    OrderLogError                     (status 500: never raised itself)
     +-- BadRequest              400  malformed JSON, unreadable body
     +-- Unauthorized            401  missing or unknown key
     +-- Forbidden               403  a key of another workspace, or without the scope
     +-- NotFound                404  no such order, workspace, key or route
     +-- Conflict                409  stale version, a request racing its own idempotency key
     |    +-- InvalidTransition  409  the workflow forbids going from one status to another
     +-- Gone                    410  a screen pairing that expired or was used
     +-- PayloadTooLarge         413  body over the limit
     +-- UnsupportedMediaType    415  not application/json
     +-- InvalidInput            422  a field is wrong; carries the field's path
     +-- RateLimited             429  over the key's rate; carries retry_after
     +-- StoreUnavailable        503  Redis unreachable or timing out; carries retry_after
     +-- ServerKeyUnavailable    503  the server key (sealing.py) is missing, unreadable or not
                                      the one that sealed a value

Each carries data and builds its message from it. ``routes/errors.py`` maps the tree to
``{"error", "statusCode", "message"}`` bodies in one place.
"""

from __future__ import annotations

import math
from http import HTTPStatus


class OrderLogError(Exception):
    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def reason(self) -> str:
        return HTTPStatus(self.status_code).phrase

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(OrderLogError):
    status_code = 400


class Unauthorized(OrderLogError):
    status_code = 401

    def __init__(self, message: str = "A valid API key is required.") -> None:
        super().__init__(message)

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="orderlog"'}


class Forbidden(OrderLogError):
    status_code = 403


class NotFound(OrderLogError):
    status_code = 404

    def __init__(self, what: str, ident: object = None) -> None:
        self.what = what
        self.ident = ident
        super().__init__(
            f"{what} {ident!s} not found." if ident is not None else f"{what} not found."
        )


class Conflict(OrderLogError):
    status_code = 409


class InvalidTransition(Conflict):
    def __init__(self, current: str, target: str, order_id: str | None = None) -> None:
        self.current = current
        self.target = target
        self.order_id = order_id
        super().__init__(f"Cannot move an order from {current!r} to {target!r}.")


class Gone(OrderLogError):
    status_code = 410


class PayloadTooLarge(OrderLogError):
    status_code = 413

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"The request body is larger than {limit} bytes.")

    def headers(self) -> dict[str, str]:
        # Close the connection: otherwise the server keeps reading (and dropping) the rest of a
        # huge body to reach the next keep-alive request.
        return {"Connection": "close"}


class UnsupportedMediaType(OrderLogError):
    status_code = 415

    def __init__(self, content_type: str) -> None:
        self.content_type = content_type
        shown = content_type or "none"
        super().__init__(f"Content-Type must be application/json, not {shown}.")


class InvalidInput(OrderLogError):
    status_code = 422

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class RateLimited(OrderLogError):
    status_code = 429

    def __init__(self, retry_after: float, limit: int = 0, reset: float = 0.0) -> None:
        self.retry_after = retry_after
        self.limit = limit
        self.reset = reset
        # Retry-After counts whole seconds; the message quotes the same wait, rounded up so a
        # refusal a few microseconds from the next slot never reads "retry in 0.0 s".
        self.wait_s = max(1, math.ceil(retry_after))
        super().__init__(f"Too many requests; retry in {self.wait_s} s.")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.wait_s)}


class StoreUnavailable(OrderLogError):
    status_code = 503

    def __init__(self, message: str = "The order store is unavailable.", retry_after: int = 1):
        self.retry_after = retry_after
        super().__init__(message)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServerKeyUnavailable(OrderLogError):
    """The server key that seals secrets at rest cannot be had (a configuration problem of this
    server, not of the request)."""

    status_code = 503
