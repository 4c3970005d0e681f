"""The one exception tree of orderlog's domain.

::

    OrderLogError                     (status 500: never raised itself)
     +-- BadRequest              400  malformed JSON, unreadable body
     +-- Unauthorized            401  missing or unknown key
     +-- Forbidden               403  a key of another workspace, or without the scope
     +-- NotFound                404  no such order, workspace, key or route
     +-- Conflict                409  stale version, a request racing its own idempotency key
     |    +-- InvalidTransition  409  the workflow forbids going from one status to another
     |    +-- StatusesInUse      409  a new workflow removes statuses orders are in
     |    +-- WorkflowChanged    409  the workflow changed while a request was checked
     +-- Gone                    410  a screen pairing that expired or was used
     +-- PayloadTooLarge         413  body over the limit
     +-- UnsupportedMediaType    415  not application/json, or not encoded as gzip or identity
     +-- InvalidInput            422  a field is wrong; carries the field's path
     +-- UpgradeRequired         426  a plain HTTP request to a WebSocket-only route
     +-- RateLimited             429  over the key's rate; carries retry_after
     +-- StoreUnavailable        503  Redis unreachable or timing out; carries retry_after
     +-- ServerKeyUnavailable    503  the server key (sealing.py) is missing, unreadable or not
                                      the one that sealed a value
          +-- NotReplicated      503  written on the master, on too few replicas in time

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


class StatusesInUse(Conflict):
    def __init__(self, held: dict[str, int]) -> None:
        self.held = held
        listed = ", ".join(f"{s} ({n} order{'s' if n != 1 else ''})" for s, n in held.items())
        example = next(iter(held))
        super().__init__(
            f"The new workflow removes statuses that orders are in: {listed}. Move them in the "
            f'same request: "migrate": {{"{example}": "<a status of the new workflow>"}}.'
        )


class WorkflowChanged(Conflict):
    def __init__(self) -> None:
        super().__init__("The workflow changed while this request was being checked; retry.")


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


class UnsupportedEncoding(UnsupportedMediaType):
    """A Content-Encoding the server does not decode (it answers which it does, RFC 7694)."""

    ACCEPTED = "gzip"

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        OrderLogError.__init__(
            self, f"Content-Encoding must be gzip or identity (none), not {encoding}."
        )

    def headers(self) -> dict[str, str]:
        return {"Accept-Encoding": self.ACCEPTED}


class InvalidInput(OrderLogError):
    status_code = 422

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class UpgradeRequired(OrderLogError):
    status_code = 426

    def __init__(self, protocol: str = "websocket") -> None:
        self.protocol = protocol
        super().__init__(f"This route speaks {protocol} only: send an upgrade request.")

    def headers(self) -> dict[str, str]:
        return {"Upgrade": self.protocol, "Connection": "Upgrade"}


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


class NotReplicated(StoreUnavailable):
    """A write the master has, but fewer replicas than asked for confirmed in time: it is
    committed, and lost only if that master fails before a replica has it. A retry with the
    same Idempotency-Key answers the stored result once enough replicas have it."""

    def __init__(self, acked: int, wanted: int, timeout: float) -> None:
        self.acked = acked
        self.wanted = wanted
        super().__init__(
            f"Written on the Redis master, but only {acked} of {wanted} replicas confirmed it "
            f"within {timeout:g} s; it would be lost if that master failed now. Retry with the "
            "same Idempotency-Key: the stored result is answered once replicas have it."
        )
