"""The OpenAPI 3.1 description of every HTTP route, built here in one place from the real limits
(domain/inputs.py, domain/search.py, domain/workspace.py, http/live.py), and ``GET
/openapi.json`` serving it. tests/http/test_openapi.py keeps it equal to the routes the app
serves; tests/e2e/test_fuzz.py fuzzes the server against it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog import __version__
from orderlog.domain import screens, webhooks, workspace
from orderlog.domain.inputs import (
    MAX_BATCH,
    MAX_ITEMS,
    MAX_METADATA,
    MAX_NAME,
    MAX_NOTES,
    MAX_QUANTITY,
    MAX_REF,
    MAX_USERNAME,
)
from orderlog.domain.model import (
    JS_SAFE_INTEGER,
    MAX_STATUSES,
    PRIORITIES,
    ROLE_HANDED_TO,
    ROLE_PREPARER,
)
from orderlog.domain.model import STATUS_NAME as STATUS_NAME_PATTERN
from orderlog.domain.search import DEFAULT_LIMIT, MAX_LIMIT
from orderlog.http.common import WORKSPACE, JSONResponse
from orderlog.http.live import MAX_WAIT
from orderlog.store.workspaces import TICKET_TTL_MS


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


BODY = (
    "JSON, optionally sent with `Content-Encoding: gzip`; the body limit holds as sent and as "
    "decoded (413), and any other encoding is a 415"
)


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "description": BODY,
        "content": {"application/json": {"schema": schema}},
    }


def query_param(
    name: str, description: str, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _error("Malformed JSON, or a broken gzip body"),
    "401": _error("Missing or unknown API key"),
    "403": _error("Key of another workspace, or without the scope"),
    "404": _error("Not found"),
    "409": _error("Illegal transition or version conflict"),
    "410": _error("The pairing expired or was used: start a new one"),
    "413": _error("Body too large"),
    "415": _error("Not JSON, or a Content-Encoding other than gzip (see Accept-Encoding)"),
    "422": _error("Invalid input; `field` names it"),
    "429": _error("Rate limited"),
    "503": _error("Redis unreachable; retry after Retry-After"),
}


def errors(*codes: str) -> dict[str, Any]:
    return {c: ERRORS[c] for c in codes}


def int_range_pattern(high: int) -> str:
    """A regex for the decimal numbers 1..high without leading zeros (a numeric string id)."""
    digits = str(high)
    alternatives = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, d in enumerate(digits):  # same length as high: equal on a prefix, then smaller
        rest = len(digits) - i - 1
        low = "1" if i == 0 else "0"
        if int(d) > int(low):
            alternatives.append(f"{digits[:i]}[{low}-{int(d) - 1}][0-9]{{{rest}}}")
    alternatives.append(digits)
    return "^(?:" + "|".join(alternatives) + ")$"


# What inputs.text() accepts: at most `limit` characters, no control characters (free text may
# hold tabs and newlines), and (unless it may be empty) something besides whitespace.
def text(limit: int, *, free: bool = False, empty: bool = False) -> dict[str, Any]:
    ctl = "\\x00-\\x08\\x0b-\\x1f\\x7f" if free else "\\x00-\\x1f\\x7f"
    pattern = f"^[^{ctl}]*$" if empty else f"^[^{ctl}]*[^\\s{ctl}][^{ctl}]*$"
    return {"type": "string", "maxLength": limit, "pattern": pattern}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


# Roblox's JSONEncode turns an empty Lua table into [] (or {}): accepted where a value is optional.
EMPTY = [{"type": "null"}, {"type": "array", "maxItems": 0}, {"type": "object", "maxProperties": 0}]

USER_ID = {
    "oneOf": [
        {"type": "integer", "minimum": -(2**63 - 1), "maximum": 2**63 - 1},
        {"type": "string", "pattern": int_range_pattern(2**63 - 1)},
        {
            "type": "string",
            "pattern": "^[A-Za-z0-9_.@-]*[A-Za-z_.@-][A-Za-z0-9_.@-]*$",
            "maxLength": 64,
        },
    ]
}
NAME = text(MAX_USERNAME)
DISPLAY_NAME = nullable({**text(MAX_USERNAME, empty=True), "description": '"" or null: none'})
STATUS = {"type": "string", "maxLength": 32, "pattern": "^ *[a-z][a-z0-9_]* *$"}

CREATE_PROPERTIES: dict[str, Any] = {
    "customer": ref("Participant"),
    "actor": ref("Actor"),
    "items": {
        "anyOf": [
            {"type": "array", "maxItems": MAX_ITEMS, "items": ref("Item")},
            {"type": "null"},
            {"type": "object", "maxProperties": 0},
        ]
    },
    "status": nullable(STATUS),
    "metadata": {
        "anyOf": [
            {"type": "object", "description": f"at most {MAX_METADATA} bytes of JSON"},
            *EMPTY[:2],
        ],
    },
    "priority": {
        "anyOf": [{"enum": list(PRIORITIES)}, {"type": "null"}],
        "description": "rush tickets come first on kitchen screens and are marked; "
        "default (and null): normal",
    },
}
VERSION = nullable({"type": "integer", "description": "fail with 409 unless at this version"})
STATUS_PROPERTIES: dict[str, Any] = {
    "status": STATUS,
    "actor": ref("Actor"),
    "handed_to": {
        "anyOf": [ref("Participant"), *EMPTY],
        "description": "the recipient, for a status with the handed_to role; re-sent for an order "
        "already there with another recipient, it is recorded as a change (order.updated)",
    },
    "reason": nullable(text(MAX_NOTES, free=True)),
    "version": VERSION,
}
PRIORITY_PROPERTIES: dict[str, Any] = {
    "priority": {"enum": list(PRIORITIES)},
    "actor": ref("Actor"),
    "version": VERSION,
}
REF = {
    "anyOf": [text(MAX_REF), {"type": "integer"}, {"type": "null"}],
    "description": "echoed in this op's result exactly as sent; refs match by their text "
    'without surrounding blanks (1 and "1" are one ref)',
}


def batch_change(op: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A batch operation on an existing order, named by ``id`` or by an earlier op's ``ref``."""
    return {
        "type": "object",
        "required": ["op", op],
        "anyOf": [{"required": ["id"]}, {"required": ["order_ref"]}],
        "additionalProperties": False,
        "properties": {
            "op": {"const": op},
            "ref": REF,
            "id": nullable({"type": "string", "pattern": "^[0-9a-f]{24}$"}),
            "order_ref": REF,
            **properties,
        },
    }


BATCH = f"""Up to {MAX_BATCH} operations, applied in order in one atomic step; one result
each, in the same order, carrying the operation's `ref` exactly as sent.

- **Operations**: `create` (the body of POST /orders), `status` (of POST /orders/{{id}}/status)
  and `priority` (of POST /orders/{{id}}/priority); the last two name their order by `id` or by
  the `order_ref` of a create earlier in the batch.
- **Per operation** (the answer is 200; that op's result has `ok: false` with its `statusCode`,
  `error` and `message`; the operations after it still apply): 404 an order that does not
  exist, 409 an illegal transition, a `version` that does not match, a priority change of an
  order in a final status, or an `order_ref` whose create failed.
- **The whole batch** (nothing is written): 422 when any operation is invalid (a field, an
  unknown status, a status an order cannot start in, an `order_ref` naming no earlier create, a
  ref used twice; `field` names it as `operations[i]....`), and 400, 401, 403, 413, 415, 429,
  503 as for any write."""

STATUS_NAME = {"type": "string", "pattern": STATUS_NAME_PATTERN.pattern}
WORKFLOW_FORMAT = f"""A custom workflow for `PUT /workflow`: the statuses in board order and
the moves between them. Every other field is optional.

- `statuses`: 1 to {MAX_STATUSES}, each a name (`[a-z][a-z0-9_]{{0,31}}`) or an object
  `{{"name", "label"?, "terminal"?, "role"?}}`. At least one is terminal (`true`: the order is
  done; nothing may leave it). `role` says what a change into the status records:
  `{ROLE_PREPARER}` (its actor is the order's preparer) or `{ROLE_HANDED_TO}` (its `handed_to`
  is the recipient, its actor who handed over).
- `transitions`: `{{"status": ["status it may move to", ...]}}`; a status left out, or a
  terminal one, has no moves. Re-sending an order's current status is always a no-op.
- `initial`: the statuses an order may be created in (default: all); `default_status`: the one
  it is created in when the request names none (default: the first of `initial`).

- `migrate`: `{{"removed status": "status of the new workflow", ...}}`: where the orders of
  each status the change removes move. Removing a status orders are in without moving them is
  a 409 naming each such status and how many orders are in it; the moves happen in the same
  atomic step as the change, each with a history entry (`reason` "workflow changed") and an
  `order.status_changed` event, then live clients get a `workflow.changed` event (see
  /asyncapi.json). Orders in a removed final status are finished and keep it.

Anything else, an unknown status named anywhere, or a move out of a terminal status is a 422
naming the field. `DELETE /workflow` goes back to the default workflow (its body, optional, may
be `{{"migrate": {{...}}}}`); what `GET /workflow` answers may be sent back as is."""

MIGRATE = {
    "anyOf": [
        *EMPTY,
        {
            "type": "object",
            "description": "removed status -> the status of the new workflow its orders move to",
            "additionalProperties": STATUS_NAME,
        },
    ]
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "statusCode", "message"],
        "properties": {
            "error": {"type": "string"},
            "statusCode": {"type": "integer"},
            "message": {"type": "string"},
            "field": {"type": "string"},
        },
    },
    "Participant": {
        "oneOf": [
            {
                "type": "object",
                "required": ["user_id", "username"],
                "additionalProperties": False,
                "properties": {
                    "user_id": USER_ID,
                    "username": NAME,
                    "display_name": DISPLAY_NAME,
                },
            },
            {
                "type": "object",
                "required": ["UserId", "Name"],
                "additionalProperties": False,
                "properties": {"UserId": USER_ID, "Name": NAME, "DisplayName": DISPLAY_NAME},
            },
        ]
    },
    "Actor": {
        "oneOf": [
            ref("Participant"),
            {
                "type": "integer",
                "enum": [1, 2, 3, 4],
                "description": "1 POS, 2 Kiosk, 3 Mobile, 4 NPC",
            },
            {"type": "string", "enum": ["1", "2", "3", "4"]},
            *EMPTY,
        ]
    },
    "ParticipantOut": {
        "type": ["object", "null"],
        "properties": {
            "user_id": {
                "anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": JS_SAFE_INTEGER},
                    {"type": "string"},
                    {"type": "null"},
                ],
                "description": f"a number up to {JS_SAFE_INTEGER} (2^53 - 1, what JavaScript "
                "holds exactly); larger ids, ids of 0 and below and string ids are strings; null "
                "for a system actor",
            },
            "username": {"type": "string"},
            "display_name": {"type": "string"},
            "system_id": {"type": "integer"},
        },
    },
    "Item": {
        "oneOf": [
            text(MAX_NAME),
            {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": text(MAX_NAME),
                    "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
                    "notes": nullable(text(MAX_NOTES, free=True, empty=True)),
                },
            },
        ]
    },
    "ItemOut": {
        "type": "object",
        "required": ["name", "quantity"],
        "properties": {
            "name": {"type": "string"},
            "quantity": {"type": "integer"},
            "notes": {"type": "string"},
            "done": {
                "type": "boolean",
                "description": "marked done at a kitchen (POST /items/{index}/done); absent on "
                "orders stored before marks were kept: not done",
            },
        },
    },
    "CreateOrder": {
        "type": "object",
        "required": ["customer"],
        "additionalProperties": False,
        "properties": CREATE_PROPERTIES,
    },
    "StatusChange": {
        "type": "object",
        "required": ["status"],
        "additionalProperties": False,
        "properties": STATUS_PROPERTIES,
    },
    "PriorityChange": {
        "type": "object",
        "required": ["priority"],
        "additionalProperties": False,
        "properties": PRIORITY_PROPERTIES,
    },
    "ItemDone": {
        "type": "object",
        "required": ["done"],
        "additionalProperties": False,
        "properties": {
            "done": {"type": "boolean", "description": "true: made; false: not yet"},
            "actor": ref("Actor"),
            "version": VERSION,
        },
    },
    "Order": {
        "type": "object",
        "required": [
            "id",
            "order_number",
            "workspace_id",
            "status",
            "items",
            "customer",
            "created_at",
            "updated_at",
            "status_since",
            "version",
            "priority",
        ],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
            "order_number": {"type": "integer"},
            "workspace_id": {"type": "string"},
            "status": {"type": "string"},
            "items": {"type": "array", "items": ref("ItemOut")},
            "priority": {"enum": list(PRIORITIES)},
            "customer": ref("ParticipantOut"),
            "cashier": ref("ParticipantOut"),
            "preparer": ref("ParticipantOut"),
            "handed_to": ref("ParticipantOut"),
            "handed_by": ref("ParticipantOut"),
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "status_since": {
                "type": "string",
                "format": "date-time",
                "description": "when the order entered its current status (its creation, or "
                "the last change of status; a change that keeps the status, such as a new "
                "recipient of a handed_to order, leaves it)",
            },
            "version": {"type": "integer"},
            "metadata": {"type": "object"},
            "history": {"type": "array", "items": {"type": "object"}},
        },
    },
    "OrderResult": {
        "type": "object",
        "required": ["error", "id", "order_number", "order"],
        "properties": {
            "error": {"type": "null"},
            "id": {"type": "string"},
            "order_number": {"type": "integer"},
            "order": ref("Order"),
            "changed": {"type": "boolean"},
        },
    },
    "Batch": {
        "type": "object",
        "required": ["operations"],
        "additionalProperties": False,
        "properties": {
            "operations": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH,
                "items": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["op", "customer"],
                            "additionalProperties": False,
                            "properties": {
                                "op": {"const": "create"},
                                "ref": REF,
                                **CREATE_PROPERTIES,
                            },
                        },
                        batch_change("status", STATUS_PROPERTIES),
                        batch_change("priority", PRIORITY_PROPERTIES),
                    ]
                },
            }
        },
    },
    "BatchResults": {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {
                "type": "array",
                "description": "one per operation, in order",
                "items": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["ref", "ok", "statusCode", "error", "id", "order"],
                            "properties": {
                                "ref": {"type": ["string", "integer", "null"]},
                                "ok": {"const": True},
                                "statusCode": {"enum": [200, 201]},
                                "error": {"type": "null"},
                                "id": {"type": "string"},
                                "order_number": {"type": "integer"},
                                "order": ref("Order"),
                                "changed": {"type": "boolean"},
                            },
                        },
                        {
                            "type": "object",
                            "required": ["ref", "ok", "statusCode", "error", "message"],
                            "properties": {
                                "ref": {"type": ["string", "integer", "null"]},
                                "ok": {"const": False},
                                "statusCode": {"enum": [404, 409]},
                                "error": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    ]
                },
            }
        },
    },
    "Workflow": {
        "type": "object",
        "description": "A workspace's statuses in board order and the moves between them",
        "required": ["statuses", "transitions", "initial", "default_status", "custom"],
        "properties": {
            "statuses": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "label", "terminal"],
                    "properties": {
                        "name": STATUS_NAME,
                        "label": {"type": "string"},
                        "terminal": {"type": "boolean"},
                        "role": {"enum": [ROLE_PREPARER, ROLE_HANDED_TO]},
                    },
                },
            },
            "transitions": {
                "type": "object",
                "description": "status -> the statuses it may move to",
                "additionalProperties": {"type": "array", "items": STATUS_NAME},
            },
            "initial": {
                "type": "array",
                "items": STATUS_NAME,
                "description": "the statuses an order may start in",
            },
            "default_status": {**STATUS_NAME, "description": "where an order starts by default"},
            "custom": {"type": "boolean", "description": "false: the default workflow"},
        },
    },
    "WorkflowIn": {
        "type": "object",
        "description": WORKFLOW_FORMAT,
        "required": ["statuses", "transitions"],
        "additionalProperties": False,
        "properties": {
            "statuses": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_STATUSES,
                "items": {
                    "oneOf": [
                        STATUS_NAME,
                        {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": STATUS_NAME,
                                "label": {
                                    "type": "string",
                                    "minLength": 1,
                                    "maxLength": 64,
                                    "description": "default: the name, capitalised, _ as spaces",
                                },
                                "terminal": {"type": "boolean", "default": False},
                                "role": {
                                    "anyOf": [
                                        {"enum": [ROLE_PREPARER, ROLE_HANDED_TO]},
                                        {"type": "null"},
                                    ],
                                    "description": "default: the default workflow's role for "
                                    "this name (preparing: preparer, handed_to: handed_to)",
                                },
                            },
                        },
                    ]
                },
            },
            "transitions": {
                "type": "object",
                "description": "status -> the statuses it may move to; a terminal status has "
                "none; a status left out has none",
                "additionalProperties": {"type": "array", "items": STATUS_NAME},
            },
            "initial": {
                "type": "array",
                "minItems": 1,
                "items": STATUS_NAME,
                "description": "default: every status",
            },
            "default_status": {**STATUS_NAME, "description": "default: the first initial status"},
            "custom": {"type": "boolean", "description": "ignored (a GET answer may be PUT back)"},
            "migrate": MIGRATE,
        },
    },
    "Workspace": {
        "type": "object",
        "required": ["id", "name", "created_at", "settings"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "created_at": {"type": ["string", "null"], "format": "date-time"},
            "settings": {
                **workspace.schema(),
                "required": [setting.name for setting in workspace.SETTINGS],
            },
        },
    },
}

WS_PARAM = {
    "name": "workspace_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
}
ORDER_PARAM = {
    "name": "order_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
}
IDEM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "the first answer is replayed for 24 h to a retry with this key and the same "
    "body (compared as parsed JSON: key order and whitespace do not matter); another body is a "
    "422",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
SECURE: list[dict[str, list[str]]] = [{"bearer": []}]

PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "summary": "The process is up",
            "security": [],
            "responses": {"200": ok({"type": "object"})},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Redis is reachable",
            "security": [],
            "responses": {"200": ok({"type": "object"}), **errors("503")},
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": ok({"type": "object"})},
        }
    },
    "/asyncapi.json": {
        "get": {
            "summary": "The live protocol (WebSocket and Server-Sent Events frames, close codes) "
            "as an AsyncAPI 3.0 document",
            "security": [],
            "responses": {"200": ok({"type": "object"})},
        }
    },
    f"{WORKSPACE}/orders": {
        "post": {
            "summary": "Create an order (write scope)",
            "parameters": [WS_PARAM, IDEM],
            "requestBody": json_body(ref("CreateOrder")),
            "responses": {
                "201": ok(ref("OrderResult"), "Created"),
                **errors("400", "401", "403", "413", "415", "422", "429", "503"),
            },
        },
    },
    f"{WORKSPACE}/orders/{{order_id}}": {
        "get": {
            "summary": "One order with its history",
            "parameters": [WS_PARAM, ORDER_PARAM],
            "responses": {
                "200": ok(ref("Order")),
                **errors("401", "403", "404", "422", "429", "503"),
            },
        },
    },
    f"{WORKSPACE}/orders/by-number/{{number}}": {
        "get": {
            "summary": "One order by its number",
            "parameters": [
                WS_PARAM,
                {
                    "name": "number",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                },
            ],
            "responses": {
                "200": ok(ref("Order")),
                **errors("401", "403", "404", "422", "429", "503"),
            },
        },
    },
    f"{WORKSPACE}/orders/{{order_id}}/status": {
        "post": {
            "summary": "Change an order's status (write scope, or a screen allowed to bump)",
            "parameters": [WS_PARAM, ORDER_PARAM, IDEM],
            "requestBody": json_body(ref("StatusChange")),
            "responses": {
                "200": ok(ref("OrderResult")),
                **errors("400", "401", "403", "404", "409", "413", "415", "422", "429", "503"),
            },
        },
    },
    f"{WORKSPACE}/orders/{{order_id}}/priority": {
        "post": {
            "summary": "Change an open order's priority (write scope, or a screen allowed to bump)",
            "description": "Re-sending the order's priority changes nothing (`changed` false). "
            "A change is a new version, a history entry (`priority`, the status kept) and an "
            "`order.priority_changed` event. An order in a final status keeps its priority "
            "(409).",
            "parameters": [WS_PARAM, ORDER_PARAM, IDEM],
            "requestBody": json_body(ref("PriorityChange")),
            "responses": {
                "200": ok(ref("OrderResult")),
                **errors("400", "401", "403", "404", "409", "413", "415", "422", "429", "503"),
            },
        },
    },
    f"{WORKSPACE}/orders/{{order_id}}/items/{{index}}/done": {
        "post": {
            "summary": "Mark an item of an open order done or not done (write scope, or a "
            "screen allowed to bump)",
            "description": "Marking an item as it already is changes nothing (`changed` false). "
            "A change is a new version, a history entry (`item`: the index, `done`) and an "
            "`order.item_done` event; a recall clears every mark. 404: no such order, or no "
            "item at `index`; 409: a `version` that does not match, or an order in a final "
            "status.",
            "parameters": [
                WS_PARAM,
                ORDER_PARAM,
                {
                    "name": "index",
                    "in": "path",
                    "required": True,
                    "description": "the item's position in the order's items, from 0",
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ITEMS - 1},
                },
                IDEM,
            ],
            "requestBody": json_body(ref("ItemDone")),
            "responses": {
                "200": ok(ref("OrderResult")),
                **errors("400", "401", "403", "404", "409", "413", "415", "422", "429", "503"),
            },
        },
    },
    f"{WORKSPACE}/batch": {
        "post": {
            "summary": f"Up to {MAX_BATCH} creates, status and priority changes, in order "
            "(write scope)",
            "description": BATCH,
            "parameters": [WS_PARAM, IDEM],
            "requestBody": json_body(ref("Batch")),
            "responses": {
                "200": ok(ref("BatchResults"), "One result per operation (404/409 per op)"),
                **errors("400", "401", "403", "413", "415", "422", "429", "503"),
            },
        },
    },
    WORKSPACE: {
        "get": {
            "summary": "The workspace and its settings",
            "parameters": [WS_PARAM],
            "responses": {"200": ok(ref("Workspace")), **errors("401", "403", "503")},
        }
    },
    f"{WORKSPACE}/settings": {
        "patch": {
            "summary": "Change workspace settings (admin)",
            "description": "Only the settings sent change. A warning age at or after the late "
            "age (`age_warn_seconds` >= `age_late_seconds`, counting the stored value of the "
            "one not sent) is a 422 naming `age_warn_seconds`, and nothing changes.",
            "parameters": [WS_PARAM],
            "requestBody": json_body(workspace.schema()),
            "responses": {
                "200": ok(ref("Workspace")),
                **errors("400", "401", "403", "415", "422", "503"),
            },
        },
    },
    f"{WORKSPACE}/workflow": {
        "get": {
            "summary": "The workspace's workflow",
            "parameters": [WS_PARAM],
            "responses": {"200": ok(ref("Workflow")), **errors("401", "403", "503")},
        },
        "put": {
            "summary": "Set a custom workflow (admin)",
            "parameters": [WS_PARAM],
            "description": WORKFLOW_FORMAT,
            "requestBody": json_body(ref("WorkflowIn")),
            "responses": {
                "200": ok(ref("Workflow")),
                **errors("400", "401", "403", "409", "415", "422", "503"),
            },
        },
        "delete": {
            "summary": "Back to the default workflow (admin)",
            "parameters": [WS_PARAM],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"migrate": MIGRATE},
                        }
                    }
                },
            },
            "responses": {
                "200": ok(ref("Workflow")),
                **errors("400", "401", "403", "409", "415", "422", "503"),
            },
        },
    },
    f"{WORKSPACE}/keys": {
        "get": {
            "summary": "API keys of the workspace (admin)",
            "parameters": [WS_PARAM],
            "responses": {"200": ok({"type": "object"}), **errors("401", "403", "503")},
        },
        "post": {
            "summary": "Create an API key (admin); the key is shown once",
            "parameters": [WS_PARAM],
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["scope"],
                    "properties": {
                        "scope": {"enum": ["read", "write", "admin"]},
                        "label": {"type": "string", "maxLength": 100},
                    },
                }
            ),
            "responses": {
                "201": ok({"type": "object"}),
                **errors("400", "401", "403", "415", "422", "503"),
            },
        },
    },
    f"{WORKSPACE}/keys/{{key_id}}": {
        "delete": {
            "summary": "Revoke an API key (admin)",
            "parameters": [
                WS_PARAM,
                {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {"200": ok({"type": "object"}), **errors("401", "403", "404", "503")},
        },
    },
}


# -- live (http/live.py; the protocol itself: docs/protocol.md) --------------------------------
STATUS_FILTER = query_param(
    "status", "comma-separated statuses: only orders entering or leaving them"
)
TICKET_PARAM = query_param(
    "ticket", "a ticket from POST /tickets, instead of the Authorization header"
)
LIVE_PATHS, LIVE_SCHEMAS = (
    {
        f"{WORKSPACE}/live": {
            "get": {
                "summary": "The live WebSocket (read scope): a snapshot, then every change",
                "description": "A WebSocket upgrade (`Connection: Upgrade`, `Upgrade: websocket`, "
                "RFC 6455). Its frames, the messages a client may send and the close codes are "
                "in the AsyncAPI document at /asyncapi.json (prose: docs/protocol.md). "
                "Credentials: `Authorization: Bearer <read key>`, `?ticket=`, or a first "
                '`{"type": "auth", "token"}` message. A handshake refused before the socket '
                "opens is plain HTTP with the JSON error body; a request without the upgrade "
                "that passes the same checks is a 426.",
                "parameters": [
                    WS_PARAM,
                    query_param("cursor", "resume after this cursor"),
                    STATUS_FILTER,
                    TICKET_PARAM,
                ],
                "responses": {
                    "101": {"description": "Switching Protocols: the WebSocket (/asyncapi.json)"},
                    "426": _error("Upgrade Required: not a WebSocket request (Upgrade: websocket)"),
                    **errors("401", "403", "422", "429", "503"),
                },
            }
        },
        f"{WORKSPACE}/events/stream": {
            "get": {
                "summary": "Live events as Server-Sent Events (read scope; docs/protocol.md)",
                "parameters": [
                    WS_PARAM,
                    query_param("cursor", "resume after this cursor (or the Last-Event-ID header)"),
                    STATUS_FILTER,
                    TICKET_PARAM,
                ],
                "responses": {
                    "200": {
                        "description": "text/event-stream: snapshot or reset, then events",
                        # One schema per event (as schemathesis and OpenAPI 3.2 read it).
                        "content": {
                            "text/event-stream": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "data": {"type": "string"},
                                        "event": {"type": "string"},
                                        "id": {"type": "string"},
                                        "retry": {"type": "integer"},
                                    },
                                }
                            }
                        },
                    },
                    **errors("401", "403", "422", "503"),
                },
            }
        },
        f"{WORKSPACE}/events": {
            "get": {
                "summary": "Long-poll the events after a cursor (read scope; docs/protocol.md)",
                "parameters": [
                    WS_PARAM,
                    query_param("after", "the cursor of the last answer; absent: start (snapshot)"),
                    query_param(
                        "wait",
                        "seconds to wait for an event when there is none yet",
                        {"type": "number", "minimum": 0, "maximum": MAX_WAIT},
                    ),
                    STATUS_FILTER,
                    TICKET_PARAM,
                ],
                "responses": {
                    "200": ok(ref("Poll")),
                    **errors("401", "403", "422", "503"),
                },
            }
        },
        f"{WORKSPACE}/tickets": {
            "post": {
                "summary": f"A single-use ticket ({TICKET_TTL_MS // 1000} s) for a browser's live "
                "connection (read)",
                "parameters": [WS_PARAM],
                "responses": {
                    "201": ok(
                        {
                            "type": "object",
                            "required": ["ticket", "expires_in"],
                            "properties": {
                                "ticket": {"type": "string"},
                                "expires_in": {"type": "integer"},
                            },
                        },
                        "Created",
                    ),
                    **errors("401", "403", "503"),
                },
            }
        },
    },
    {
        "Poll": {
            "type": "object",
            "required": ["events", "cursor"],
            "properties": {
                "events": {"type": "array", "items": {"type": "object"}},
                "cursor": {"type": "string"},
                "orders": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": "on a start (no `after`) or a reset: the active orders",
                },
                "reset": {
                    "type": "string",
                    "description": "the `after` cursor could not be resumed: why",
                },
            },
        }
    },
)


# -- search, CSV, stats (http/search.py) -------------------------------------------------------
TIME = {"type": "string", "format": "date-time"}
FILTER_PARAMS = [
    query_param("status", "one or several statuses, comma-separated (any of them)"),
    query_param("customer_id", "the customer's user id"),
    query_param("customer", "the customer's username at order time (case-insensitive)"),
    query_param("staff_id", "a staff member's user id, any role (see role)"),
    query_param("staff", "a staff member's username, any role (case-insensitive)"),
    query_param(
        "role", "restrict staff/staff_id to a role", {"enum": ["cashier", "preparer", "handed_to"]}
    ),
    query_param("number", "the order number", {"type": "integer", "minimum": 1}),
    query_param("item", "an item name (case-insensitive)"),
    query_param("from", "created at or after (ISO 8601)", TIME),
    query_param("to", "created before (ISO 8601)", TIME),
    query_param("q", "free text: every word must appear in a username, display name or item"),
]
SEARCH_ERRORS = errors("401", "403", "422", "429", "503")
SEARCH_PATHS, SEARCH_SCHEMAS = (
    {
        f"{WORKSPACE}/orders": {
            "get": {
                "summary": "Search orders, newest first (read scope)",
                "parameters": [
                    WS_PARAM,
                    *FILTER_PARAMS,
                    query_param(
                        "limit",
                        "orders per page",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_LIMIT,
                            "default": DEFAULT_LIMIT,
                        },
                    ),
                    query_param("cursor", "next_cursor of the previous page"),
                ],
                "responses": {
                    "200": ok(ref("SearchPage"), "A page of orders"),
                    **SEARCH_ERRORS,
                },
            }
        },
        f"{WORKSPACE}/orders.csv": {
            "get": {
                "summary": "Every order matching the filters, as CSV (read scope)",
                "parameters": [
                    WS_PARAM,
                    *FILTER_PARAMS,
                    query_param(
                        "bom",
                        "1: start with a UTF-8 byte order mark, for Excel",
                        {"enum": ["0", "1", "false", "true"]},
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "CSV, one row per order, newest first (docs/search.md); "
                        "the items column holds the order's items as a JSON array of item objects",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **SEARCH_ERRORS,
                },
            }
        },
        f"{WORKSPACE}/stats": {
            "get": {
                "summary": "Counts, speed of service, staff leaderboard, abuse flags of the orders "
                "matching the filters (read scope)",
                "parameters": [
                    WS_PARAM,
                    *(p for p in FILTER_PARAMS if p["name"] not in ("from", "to")),
                    query_param(
                        "from", "created at or after (ISO 8601; default: to - 7 days)", TIME
                    ),
                    query_param("to", "created before (ISO 8601; default: now)", TIME),
                ],
                "responses": {
                    "200": ok(
                        {"type": "object"},
                        "The report (docs/search.md); durations in seconds, rounded to the ms",
                    ),
                    **SEARCH_ERRORS,
                },
            }
        },
    },
    {
        "SearchPage": {
            "type": "object",
            "required": ["orders", "next_cursor"],
            "properties": {
                "orders": {"type": "array", "items": ref("Order")},
                "next_cursor": {"type": ["string", "null"]},
            },
        }
    },
)


# -- recall (http/recall.py) ---------------------------------------------------------------
RECALL_PATHS = {
    f"{WORKSPACE}/orders/{{order_id}}/recall": {
        "post": {
            "summary": "Undo the order's last status change within the recall window (write, or "
            "a screen allowed to bump)",
            "parameters": [WS_PARAM, ORDER_PARAM],
            "requestBody": json_body(
                {
                    "anyOf": [
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "actor": ref("Actor"),
                                "version": nullable(
                                    {
                                        "type": "integer",
                                        "description": "the version to undo; else 409 (no "
                                        "double undo)",
                                    }
                                ),
                            },
                        },
                        {"type": "array", "maxItems": 0, "description": "Roblox's empty table"},
                    ]
                }
            ),
            "responses": {
                "200": ok(ref("OrderResult")),
                **errors("400", "401", "403", "404", "409", "415", "422", "503"),
            },
        }
    }
}


# -- screen pairing (http/screens.py; RFC 8628's device flow) ------------------------------------
SCREEN = {
    "type": "object",
    "required": ["screen_id", "role", "can_bump", "label", "page", "paired"],
    "properties": {
        "screen_id": {"type": "string"},
        "role": {"enum": list(screens.ROLES)},
        "station": {"type": ["string", "null"]},
        "can_bump": {"type": "boolean"},
        "label": {"type": "string"},
        "page": {"type": "string", "description": "where the screen goes once paired"},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "last_seen": {"type": ["string", "null"], "format": "date-time"},
        "paired": {"type": "boolean", "description": "the screen took its token"},
    },
}
SCREEN_PARAM = {
    "name": "screen_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}
SCREEN_PATHS: dict[str, Any]
SCREEN_SCHEMAS: dict[str, Any]
SCREEN_PATHS, SCREEN_SCHEMAS = (
    {
        "/v1/pairings": {
            "post": {
                "summary": "A screen without credentials asks to be paired: a code to show "
                f"(valid {screens.CODE_SECONDS // 60} min, once), a QR code of the page where an "
                "owner approves it, and a device code to poll with (no credentials; rate "
                "limited per client)",
                "security": [],
                "responses": {
                    "201": ok(ref("Pairing"), "Created"),
                    **errors("429", "503"),
                },
            }
        },
        "/v1/pairings/poll": {
            "post": {
                "summary": "The screen asks whether it was approved: 202 pending, 200 with its "
                "screen token (given once), 410 expired or used (no credentials)",
                "security": [],
                "requestBody": json_body(
                    {
                        "type": "object",
                        "required": ["device_code"],
                        "properties": {"device_code": {"type": "string"}},
                    }
                ),
                "responses": {
                    "200": ok(
                        {
                            "type": "object",
                            "required": ["status", "token", "workspace_id", "screen"],
                            "properties": {
                                "status": {"const": "approved"},
                                "token": {"type": "string", "description": "keep it secret"},
                                "workspace_id": {"type": "string"},
                                "screen": ref("Screen"),
                            },
                        },
                        "Approved: the screen token",
                    ),
                    "202": ok(
                        {
                            "type": "object",
                            "required": ["status", "expires_in", "interval"],
                            "properties": {
                                "status": {"const": "pending"},
                                "expires_in": {"type": "integer"},
                                "interval": {"type": "integer"},
                            },
                        },
                        "Not approved yet: ask again after `interval` seconds",
                    ),
                    **errors("400", "410", "413", "415", "422", "429", "503"),
                },
            }
        },
        f"{WORKSPACE}/screens": {
            "get": {
                "summary": "The workspace's paired screens with their last-seen times (admin)",
                "parameters": [WS_PARAM],
                "responses": {
                    "200": ok(
                        {
                            "type": "object",
                            "required": ["screens"],
                            "properties": {"screens": {"type": "array", "items": ref("Screen")}},
                        }
                    ),
                    **errors("401", "403", "404", "503"),
                },
            },
            "post": {
                "summary": "Approve the screen showing `code` (admin; attempts rate limited per "
                "workspace)",
                "parameters": [WS_PARAM],
                "requestBody": json_body(
                    {
                        "type": "object",
                        "required": ["code", "role"],
                        "properties": {
                            "code": {"type": "string", "description": "the letters shown"},
                            "role": {"enum": list(screens.ROLES)},
                            "station": {
                                "type": ["string", "null"],
                                "pattern": screens.STATION.pattern,
                                "description": "a kitchen screen's station",
                            },
                            "can_bump": {
                                "type": "boolean",
                                "description": "a kitchen screen may change status and recall",
                            },
                            "label": {"type": "string", "maxLength": screens.MAX_LABEL},
                        },
                    }
                ),
                "responses": {
                    "201": ok(
                        {
                            "type": "object",
                            "required": ["screen"],
                            "properties": {"screen": ref("Screen")},
                        },
                        "Approved: the screen takes its token at its next poll",
                    ),
                    **errors("400", "401", "403", "404", "413", "415", "422", "429", "503"),
                },
            },
        },
        f"{WORKSPACE}/screens/{{screen_id}}": {
            "delete": {
                "summary": "Revoke a screen: its token stops working and its live connections "
                "close within 2 s; it shows a pairing code again (admin)",
                "parameters": [WS_PARAM, SCREEN_PARAM],
                "responses": {"200": ok({"type": "object"}), **errors("401", "403", "404", "503")},
            }
        },
        "/v1/me": {
            "get": {
                "summary": "What the caller's key or screen token is: its workspace, scope and "
                "label (a screen's role and station too)",
                "responses": {
                    "200": ok(
                        {
                            "type": "object",
                            "required": ["key_id", "workspace_id", "scope"],
                            "properties": {
                                "key_id": {"type": "string"},
                                "workspace_id": {"type": "string"},
                                "scope": {
                                    "enum": ["read", "write", "admin", "screen", "screen_bump"]
                                },
                                "label": {"type": "string"},
                                "role": {"type": "string"},
                                "station": {"type": "string"},
                                "screen": ref("Screen"),
                            },
                        }
                    ),
                    **errors("401", "403", "503"),
                },
            }
        },
    },
    {
        "Screen": SCREEN,
        "Pairing": {
            "type": "object",
            "required": [
                "device_code",
                "user_code",
                "verification_uri",
                "verification_uri_complete",
                "qr",
                "expires_in",
                "interval",
            ],
            "properties": {
                "device_code": {"type": "string", "description": "the screen keeps it secret"},
                "user_code": {"type": "string", "pattern": f"^[{screens.ALPHABET}]{{6}}$"},
                "user_code_display": {"type": "string"},
                "verification_uri": {"type": "string"},
                "verification_uri_complete": {"type": "string"},
                "qr": {
                    "type": "string",
                    "description": "verification_uri_complete as an SVG data: URI",
                },
                "expires_in": {"type": "integer"},
                "interval": {"type": "integer"},
            },
        },
    },
)


METRICS_PATHS = {
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (metrics token, or loopback when none is set)",
            "security": [{"bearer": []}, {}],
            "responses": {
                "200": {
                    "description": "Prometheus text format 0.0.4",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **errors("401", "403"),
            },
        }
    }
}


# -- webhooks (http/webhooks.py; delivery: outbound/, docs/webhooks.md) -------------------------
WEBHOOK_PARAM = {
    "name": "webhook_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^wh_[0-9a-f]{16}$"},
}
DELIVERY_PARAM = {
    "name": "delivery_id",
    "in": "path",
    "required": True,
    "description": "the event's stream id (a delivery's or dead letter's `delivery_id`)",
    "schema": {"type": "string", "pattern": "^[0-9]{1,20}-[0-9]{1,20}$"},
}
# Every order event with what it means (webhooks.EVENT_MEANINGS), for descriptions.
EVENT_TYPES = "; ".join(f"`{name}`: {what}" for name, what in webhooks.EVENT_MEANINGS.items())
EVENT_NAME = {"enum": list(webhooks.EVENTS)}
WEBHOOK_FIELDS: dict[str, Any] = {
    "url": {
        "type": "string",
        "maxLength": webhooks.MAX_URL,
        "description": "http(s) URL; a Discord webhook URL with format discord. Public "
        "addresses only unless ORDERLOG_WEBHOOK_ALLOW_PRIVATE",
    },
    "events": {
        "type": "array",
        "minItems": 1,
        "items": EVENT_NAME,
        "default": list(webhooks.DEFAULT_EVENTS),
        "description": f"the event types delivered: {EVENT_TYPES}. Without it: "
        f"{', '.join(webhooks.DEFAULT_EVENTS)} (the others are asked for by name)",
    },
    "statuses": {
        "type": "array",
        "items": STATUS,
        "description": "only events after which the order is in one of these statuses (the "
        "status it moved to, or the one it stays in); empty: all",
    },
    "label": text(webhooks.MAX_LABEL, empty=True),
    "enabled": {"type": "boolean"},
}
WHEN = {"type": ["string", "null"], "format": "date-time"}
# What an event carries besides type, cursor, event, previous_status and order
# (webhooks.EVENT_FIELDS names them by event), and the rules saying which events carry which:
# the live feed's frames (http/asyncapi.py) and a webhook's body alike.
EVENT_MEMBERS: dict[str, Any] = {
    "priority": {"enum": list(PRIORITIES), "description": "the order's priority now"},
    "item": {"type": "integer", "minimum": 0, "description": "the item's index in order.items"},
    "done": {"type": "boolean", "description": "the item's mark now"},
}
EVENT_MEMBER_RULES = [
    {
        "if": {"required": ["event"], "properties": {"event": {"const": name}}},
        "then": {"required": list(members)},
    }
    for name, members in webhooks.EVENT_FIELDS.items()
]
WEBHOOK_SCHEMAS: dict[str, Any] = {
    "WebhookCreate": {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {**WEBHOOK_FIELDS, "format": {"enum": list(webhooks.FORMATS)}},
    },
    "WebhookChange": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **WEBHOOK_FIELDS,
            "format": {"enum": list(webhooks.FORMATS), "description": "cannot change"},
        },
    },
    "Webhook": {
        "type": "object",
        "required": ["id", "url", "events", "statuses", "format", "enabled", "health"],
        "properties": {
            "id": {"type": "string"},
            "url": {"type": "string", "description": "query and long path segments masked"},
            "events": {"type": "array", "items": {"type": "string"}},
            "statuses": {"type": "array", "items": {"type": "string"}},
            "format": {"enum": list(webhooks.FORMATS)},
            "label": {"type": "string"},
            "enabled": {"type": "boolean"},
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
            "has_secret": {"type": "boolean"},
            "secret_rotated_at": WHEN,
            "previous_secret_expires_at": WHEN,
            "disabled_reason": {"type": ["string", "null"]},
            "disabled_at": WHEN,
            "health": ref("WebhookHealth"),
        },
    },
    "WebhookWithSecret": {
        "allOf": [ref("Webhook")],
        "type": "object",
        "required": ["secret"],
        "properties": {
            "secret": {
                "type": ["string", "null"],
                "description": "whsec_...: shown only now (null for Discord)",
            }
        },
    },
    "WebhookHealth": {
        "type": "object",
        "required": ["state", "undelivered", "lag_seconds", "dead_letters"],
        "properties": {
            "state": {"enum": ["pending", "healthy", "failing", "disabled"]},
            "last_success_at": WHEN,
            "last_failure_at": WHEN,
            "last_error": {"type": ["string", "null"]},
            "last_status_code": {"type": ["integer", "null"]},
            "failing_since": WHEN,
            "next_retry_at": WHEN,
            "retrying": {"type": ["string", "null"], "description": "the event being retried"},
            "undelivered": {"type": "integer"},
            "lag_seconds": {"type": "number", "description": "age of the oldest undelivered"},
            "dead_letters": {"type": "integer"},
        },
    },
    "DeliveryAttempt": {
        "type": "object",
        "required": ["outcome", "at"],
        "properties": {
            "delivery_id": {"type": ["string", "null"]},
            "events": {"type": "array", "items": {"type": "string"}},
            "event": {"type": ["string", "null"]},
            "order_number": {"type": ["integer", "null"]},
            "attempt": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "outcome": {"enum": ["delivered", "retrying", "dead", "disabled", "failed", "lost"]},
            "status_code": {"type": ["integer", "null"]},
            "latency_ms": {"type": ["number", "null"]},
            "error": {"type": ["string", "null"]},
            "next_retry_at": WHEN,
            "manual": {"type": "boolean"},
        },
    },
    "DeadLetter": {
        "type": "object",
        "required": ["delivery_id", "error", "dead_at"],
        "properties": {
            "delivery_id": {"type": "string"},
            "event": {"type": "string"},
            "order_number": {"type": ["integer", "null"]},
            "attempts": {"type": "integer"},
            "error": {"type": "string"},
            "dead_at": {"type": "string", "format": "date-time"},
        },
    },
    "WebhookEvent": {
        "type": "object",
        "description": "The body of a JSON webhook delivery: the live feed's event frame "
        "(docs/protocol.md); `webhook.test` from POST .../test has no cursor and no order",
        "required": ["type", "cursor", "event", "previous_status", "order"],
        "properties": {
            "type": {"const": "event"},
            "cursor": {"type": ["string", "null"]},
            "event": {
                "enum": [*webhooks.EVENTS, webhooks.TEST],
                "description": EVENT_TYPES,
            },
            "previous_status": {"type": ["string", "null"]},
            "order": {"anyOf": [ref("Order"), {"type": "null"}]},
            **EVENT_MEMBERS,
        },
        "allOf": EVENT_MEMBER_RULES,
    },
}
ADMIN_ERRORS = ("401", "403", "404", "429", "503")
WEBHOOK_PATHS: dict[str, Any] = {
    f"{WORKSPACE}/webhooks": {
        "get": {
            "summary": "The workspace's webhooks with their health (admin)",
            "parameters": [WS_PARAM],
            "responses": {
                "200": ok(
                    {
                        "type": "object",
                        "required": ["webhooks", "events", "default_events"],
                        "properties": {
                            "webhooks": {"type": "array", "items": ref("Webhook")},
                            "events": {
                                "type": "array",
                                "items": EVENT_NAME,
                                "description": "every event type a webhook may ask for",
                            },
                            "default_events": {
                                "type": "array",
                                "items": EVENT_NAME,
                                "description": "what a webhook created without events gets",
                            },
                        },
                    }
                ),
                **errors("401", "403", "429", "503"),
            },
        },
        "post": {
            "summary": "Create a webhook (admin); its signing secret is shown once",
            "parameters": [WS_PARAM],
            "requestBody": json_body(ref("WebhookCreate")),
            "responses": {
                "201": ok(ref("WebhookWithSecret"), "Created"),
                **errors("400", "401", "403", "409", "413", "415", "422", "429", "503"),
            },
        },
    },
    f"{WORKSPACE}/webhooks/{{webhook_id}}": {
        "get": {
            "summary": "One webhook with its health (admin)",
            "parameters": [WS_PARAM, WEBHOOK_PARAM],
            "responses": {"200": ok(ref("Webhook")), **errors(*ADMIN_ERRORS)},
        },
        "patch": {
            "summary": "Change a webhook: URL, filters, label, enabled (admin)",
            "parameters": [WS_PARAM, WEBHOOK_PARAM],
            "requestBody": json_body(ref("WebhookChange")),
            "responses": {
                "200": ok(ref("Webhook")),
                **errors("400", "413", "415", "422", *ADMIN_ERRORS),
            },
        },
        "delete": {
            "summary": "Delete a webhook and what it had not delivered (admin)",
            "parameters": [WS_PARAM, WEBHOOK_PARAM],
            "responses": {"200": ok({"type": "object"}), **errors(*ADMIN_ERRORS)},
        },
    },
    f"{WORKSPACE}/webhooks/{{webhook_id}}/rotate-secret": {
        "post": {
            "summary": "A new signing secret, shown once; the old one signs too for 24 h (admin)",
            "parameters": [WS_PARAM, WEBHOOK_PARAM],
            "responses": {
                "200": ok(ref("WebhookWithSecret")),
                **errors("422", *ADMIN_ERRORS),
            },
        },
    },
    f"{WORKSPACE}/webhooks/{{webhook_id}}/test": {
        "post": {
            "summary": "Send a `webhook.test` event now and say how it went (admin)",
            "parameters": [WS_PARAM, WEBHOOK_PARAM],
            "responses": {"200": ok(ref("DeliveryAttempt")), **errors(*ADMIN_ERRORS)},
        },
    },
    f"{WORKSPACE}/webhooks/{{webhook_id}}/deliveries": {
        "get": {
            "summary": "The last 100 delivery attempts and the dead letters (admin)",
            "parameters": [WS_PARAM, WEBHOOK_PARAM],
            "responses": {
                "200": ok(
                    {
                        "type": "object",
                        "required": ["deliveries", "dead_letters"],
                        "properties": {
                            "deliveries": {"type": "array", "items": ref("DeliveryAttempt")},
                            "dead_letters": {"type": "array", "items": ref("DeadLetter")},
                        },
                    }
                ),
                **errors(*ADMIN_ERRORS),
            },
        },
    },
    f"{WORKSPACE}/webhooks/{{webhook_id}}/deliveries/{{delivery_id}}/retry": {
        "post": {
            "summary": "Send an event again: a dead letter, the one waiting to be retried "
            "(now), or any still in the stream (admin)",
            "parameters": [WS_PARAM, WEBHOOK_PARAM, DELIVERY_PARAM],
            "responses": {
                "202": ok(
                    {
                        "type": "object",
                        "required": ["delivery_id", "queued"],
                        "properties": {
                            "delivery_id": {"type": "string"},
                            "queued": {"enum": ["dead", "due", "again"]},
                        },
                    },
                    "Accepted",
                ),
                **errors(*ADMIN_ERRORS),
            },
        },
    },
}
SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "the event's id, the same on every retry: de-duplicate by it",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "Unix seconds of this attempt",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per valid secret, "
        "space-separated (Standard Webhooks)",
        "schema": {"type": "string"},
    },
]
# OpenAPI 3.1's top-level `webhooks`: what orderlog sends to receivers.
OUTBOUND = {
    "orderEvent": {
        "post": {
            "summary": "An order event, to a webhook of format json",
            "description": "Signed per the Standard Webhooks specification. Answer 2xx within "
            "10 s; anything else is retried with backoff for 24 h, in order. docs/webhooks.md",
            "parameters": SIGNATURE_HEADERS,
            "requestBody": json_body(ref("WebhookEvent")),
            "responses": {
                "200": {"description": "Delivered (any 2xx)"},
                "410": {"description": "Gone: orderlog disables the webhook"},
                "429": {"description": "Throttled: retried after Retry-After"},
            },
        }
    }
}


def _rate_limited(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation that takes a key may answer 429 (domain/ratelimit.py): the document says
    so even where a route's own list forgot it."""
    for item in paths.values():
        for op in item.values():
            if op.get("security") != [] and "429" not in op["responses"]:
                op["responses"]["429"] = ERRORS["429"]
    return paths


def _bounded_bodies(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation that reads a JSON body may answer 413 past the body limit
    (http/common.read_body): the document says so even where a route's own list forgot it."""
    for item in paths.values():
        for op in item.values():
            if "requestBody" in op and "413" not in op["responses"]:
                op["responses"]["413"] = ERRORS["413"]
    return paths


@cache
def document() -> dict[str, Any]:
    paths = {**PATHS}
    for more in (
        LIVE_PATHS,
        SEARCH_PATHS,
        RECALL_PATHS,
        SCREEN_PATHS,
        METRICS_PATHS,
        WEBHOOK_PATHS,
    ):
        for path, operations in more.items():
            paths[path] = {**paths.get(path, {}), **operations}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "orderlog",
            "version": __version__,
            "description": "A real-time order log; the Hyra Order Logging API and beyond.",
        },
        "paths": _bounded_bodies(_rate_limited(paths)),
        "webhooks": OUTBOUND,
        "components": {
            "schemas": {
                **SCHEMAS,
                **LIVE_SCHEMAS,
                **SEARCH_SCHEMAS,
                **SCREEN_SCHEMAS,
                **WEBHOOK_SCHEMAS,
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": SECURE,
    }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document())


routes = [Route("/openapi.json", openapi_json, methods=["GET"], name="openapi")]
