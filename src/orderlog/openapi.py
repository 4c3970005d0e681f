"""The OpenAPI 3.1 description of every HTTP route (kept true by tests/test_openapi.py).

Routes added by later modules register their paths with ``add_paths``.
"""

from __future__ import annotations

from typing import Any

from . import __version__
from .inputs import MAX_BATCH, MAX_ITEMS, MAX_NAME, MAX_NOTES, MAX_REF, MAX_USERNAME
from .store.workspaces import DEFAULT_SETTINGS

WS = "/v1/workspaces/{workspace_id}"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


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
    "400": _error("Malformed JSON"),
    "401": _error("Missing or unknown API key"),
    "403": _error("Key of another workspace, or without the scope"),
    "404": _error("Not found"),
    "409": _error("Illegal transition or version conflict"),
    "413": _error("Body too large"),
    "415": _error("Not JSON"),
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
        "anyOf": [{"type": "object", "description": "at most 4 KiB of JSON"}, *EMPTY[:2]],
    },
}
STATUS_PROPERTIES: dict[str, Any] = {
    "status": STATUS,
    "actor": ref("Actor"),
    "handed_to": {"anyOf": [ref("Participant"), *EMPTY]},
    "reason": nullable(text(MAX_NOTES, free=True)),
    "version": nullable({"type": "integer", "description": "fail with 409 unless at this version"}),
}
REF = {"anyOf": [text(MAX_REF), {"type": "integer"}, {"type": "null"}]}

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
                    "display_name": nullable(NAME),
                },
            },
            {
                "type": "object",
                "required": ["UserId", "Name"],
                "additionalProperties": False,
                "properties": {"UserId": USER_ID, "Name": NAME, "DisplayName": nullable(NAME)},
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
            "user_id": {"type": ["integer", "string", "null"]},
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
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 10000},
                    "notes": nullable(text(MAX_NOTES, free=True, empty=True)),
                },
            },
        ]
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
            "version",
        ],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
            "order_number": {"type": "integer"},
            "workspace_id": {"type": "string"},
            "status": {"type": "string"},
            "items": {"type": "array"},
            "customer": ref("ParticipantOut"),
            "cashier": ref("ParticipantOut"),
            "preparer": ref("ParticipantOut"),
            "handed_to": ref("ParticipantOut"),
            "handed_by": ref("ParticipantOut"),
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
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
                        {
                            "type": "object",
                            "required": ["op", "status"],
                            "anyOf": [{"required": ["id"]}, {"required": ["order_ref"]}],
                            "additionalProperties": False,
                            "properties": {
                                "op": {"const": "status"},
                                "ref": REF,
                                "id": nullable({"type": "string", "pattern": "^[0-9a-f]{24}$"}),
                                "order_ref": {},
                                **STATUS_PROPERTIES,
                            },
                        },
                    ]
                },
            }
        },
    },
    "Workflow": {"type": "object"},
    "Workspace": {"type": "object"},
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
    f"{WS}/orders": {
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
    f"{WS}/orders/{{order_id}}": {
        "get": {
            "summary": "One order with its history",
            "parameters": [WS_PARAM, ORDER_PARAM],
            "responses": {
                "200": ok(ref("Order")),
                **errors("401", "403", "404", "422", "429", "503"),
            },
        },
    },
    f"{WS}/orders/by-number/{{number}}": {
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
    f"{WS}/orders/{{order_id}}/status": {
        "post": {
            "summary": "Change an order's status (write scope)",
            "parameters": [WS_PARAM, ORDER_PARAM, IDEM],
            "requestBody": json_body(ref("StatusChange")),
            "responses": {
                "200": ok(ref("OrderResult")),
                **errors("400", "401", "403", "404", "409", "413", "415", "422", "429", "503"),
            },
        },
    },
    f"{WS}/batch": {
        "post": {
            "summary": "Up to 100 creates and status changes, in order (write scope)",
            "parameters": [WS_PARAM, IDEM],
            "requestBody": json_body(ref("Batch")),
            "responses": {
                "200": ok({"type": "object", "required": ["results"]}),
                **errors("400", "401", "403", "413", "415", "422", "429", "503"),
            },
        },
    },
    WS: {
        "get": {
            "summary": "The workspace and its settings",
            "parameters": [WS_PARAM],
            "responses": {"200": ok(ref("Workspace")), **errors("401", "403", "503")},
        }
    },
    f"{WS}/settings": {
        "patch": {
            "summary": "Change workspace settings (admin)",
            "parameters": [WS_PARAM],
            "requestBody": json_body(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        name: {"type": "integer", "minimum": 1, "maximum": 10**7}
                        for name in DEFAULT_SETTINGS
                    },
                }
            ),
            "responses": {
                "200": ok(ref("Workspace")),
                **errors("400", "401", "403", "415", "422", "503"),
            },
        },
    },
    f"{WS}/workflow": {
        "get": {
            "summary": "The workspace's workflow",
            "parameters": [WS_PARAM],
            "responses": {"200": ok(ref("Workflow")), **errors("401", "403", "503")},
        },
        "put": {
            "summary": "Set a custom workflow (admin)",
            "parameters": [WS_PARAM],
            "requestBody": json_body(ref("Workflow")),
            "responses": {
                "200": ok(ref("Workflow")),
                **errors("400", "401", "403", "415", "422", "503"),
            },
        },
        "delete": {
            "summary": "Back to the default workflow (admin)",
            "parameters": [WS_PARAM],
            "responses": {"200": ok(ref("Workflow")), **errors("401", "403", "503")},
        },
    },
    f"{WS}/keys": {
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
    f"{WS}/keys/{{key_id}}": {
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


def add_paths(paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> None:
    """Document more routes; a path documented already gains the new methods."""
    for path, operations in paths.items():
        PATHS.setdefault(path, {}).update(operations)
    SCHEMAS.update(schemas or {})


def _rate_limited(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation that takes a key may answer 429 (ratelimit.py), so the document says so
    even where a route's own list forgot it."""
    for item in paths.values():
        for op in item.values():
            if op.get("security") != [] and "429" not in op["responses"]:
                op["responses"]["429"] = ERRORS["429"]
    return paths


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "orderlog",
            "version": __version__,
            "description": "A real-time order log; the Hyra Order Logging API and beyond.",
        },
        "paths": _rate_limited(PATHS),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": SECURE,
    }
