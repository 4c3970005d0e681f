"""The AsyncAPI 3.0 description of the live protocol (the WebSocket and Server-Sent Events frames,
what a client may send, the close codes), built here in one place from the real constants
(domain/webhooks.py, live/frames.py, http/live.py, ops/serving.py) and the order and event
schemas of the OpenAPI document, and ``GET /asyncapi.json`` serving it. docs/protocol.md is
the prose; tests/e2e/test_asyncapi.py validates frames captured from a running server against
these schemas.

The document describes the server: it *sends* frames and *receives* a client's messages.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog import __version__
from orderlog.domain.webhooks import EVENTS
from orderlog.http.common import WORKSPACE, JSONResponse
from orderlog.http.live import (
    AUTH_TIMEOUT,
    CLOSE_CODES,
    FLOOD_MAX,
    FLOOD_WINDOW,
    MAX_WAIT,
    SSE_HEARTBEAT,
)
from orderlog.http.openapi import EVENT_MEMBER_RULES, EVENT_MEMBERS, EVENT_TYPES, SCHEMAS
from orderlog.live.frames import RESET_REASONS, STATES
from orderlog.ops.serving import WS_MAX_MESSAGE
from orderlog.store.workspaces import TICKET_TTL_MS


def schema(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def message(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/messages/{name}"}


def frame(
    kind: str,
    properties: dict[str, Any],
    description: str,
    optional: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A frame's payload schema: a JSON object whose ``type`` is ``kind``; every property of
    ``properties`` is always present (orderlog never leaves one out), those of ``optional`` in
    some frames, and nothing else is."""
    return {
        "type": "object",
        "description": description,
        "required": ["type", *properties],
        "additionalProperties": False,
        "properties": {"type": {"const": kind}, **properties, **(optional or {})},
    }


CURSOR = {
    "type": "string",
    "pattern": "^[0-9a-f]{1,32}:[0-9]{1,20}-[0-9]{1,20}$",
    "description": "<epoch>:<stream id>: keep the last one, resume with it; opaque",
}
STATUS_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"}

FRAMES: dict[str, Any] = {
    "Snapshot": frame(
        "snapshot",
        {"cursor": CURSOR, "orders": {"type": "array", "items": schema("Order")}},
        "Every non-terminal order (matching the filter), by number: replace your state with it.",
    ),
    "Event": {
        **frame(
            "event",
            {
                "cursor": CURSOR,
                "event": {
                    "enum": list(EVENTS),
                    "description": f"{EVENT_TYPES}. In an event that keeps the status, "
                    "previous_status is the order's status.",
                },
                "previous_status": {"anyOf": [STATUS_NAME, {"type": "null"}]},
                "order": schema("Order"),
            },
            "One change of one order, in commit order; `order.version` only grows.",
            optional=EVENT_MEMBERS,
        ),
        "allOf": EVENT_MEMBER_RULES,
    },
    "WorkflowChanged": frame(
        "event",
        {
            "cursor": CURSOR,
            "event": {"const": "workflow.changed"},
            "workflow": schema("Workflow"),
        },
        "The workspace's workflow changed (PUT or DELETE /workflow), after the events of the "
        "orders the change moved: redraw what depends on it (a board's columns). Every client "
        "gets it, whatever its filter; an event without `order` is about the workspace.",
    ),
    "Batch": frame(
        "batch",
        {
            "events": {
                "type": "array",
                "minItems": 2,
                "items": {"anyOf": [schema("EventFrame"), schema("WorkflowChanged")]},
            }
        },
        "Several changes at once (under load, or a resume): the event frames, in order. "
        "WebSocket only.",
    ),
    "Reset": frame(
        "reset",
        {"reason": {"enum": list(RESET_REASONS)}},
        "The cursor could not be resumed (expired: older than the stream keeps; epoch: the "
        "stream was lost or the cursor is another server's; unknown_cursor: ahead of the "
        "stream). A snapshot follows at once.",
    ),
    "Status": frame(
        "status",
        {"state": {"enum": list(STATES)}},
        "The server lost (reconnecting) or regained (live) its link to the store; events missed "
        "meanwhile follow once it is back.",
    ),
    "Pong": frame("pong", {}, 'The answer to a client\'s {"type": "ping"}.'),
    "Auth": frame(
        "auth",
        {"token": {"type": "string", "description": "a read key or a ticket"}},
        f"First-message authentication: the first message within {AUTH_TIMEOUT:g} s of a socket "
        "opened without credentials.",
    ),
    "Ping": frame("ping", {}, "Answered with a pong: a browser's way to detect a dead link."),
}
# The Batch frame's items are event frames: one schema, referenced under its own name so the
# Event message and the Batch frame share it.
SCHEMAS_HERE = {
    "EventFrame": FRAMES["Event"],
    **{name: value for name, value in FRAMES.items() if name != "Event"},
}


def _messages() -> dict[str, Any]:
    out = {}
    for name in FRAMES:
        payload = schema("EventFrame" if name == "Event" else name)
        out[name] = {
            "name": name.lower(),
            "title": f"{name} frame",
            "contentType": "application/json",
            "payload": payload,
        }
    return out


CLOSE_TABLE = "\n".join(
    ["| code | meaning | what to do |", "|---|---|---|"]
    + [f"| {code} | {meaning} | {todo} |" for code, meaning, todo in CLOSE_CODES]
)
WS_DESCRIPTION = f"""A workspace's orders, live: a snapshot (or, with `?cursor=`, the events
after it), then every change, as JSON text frames. Authenticate with `Authorization: Bearer
<read key>`, `?ticket=` (`POST /tickets`: single use, {TICKET_TTL_MS // 1000} s) or a first
`auth` message. `?status=a,b` keeps the orders entering or leaving those statuses.

A handshake refused before the socket opens is plain HTTP with the JSON error body: 401, 403,
422 (a bad cursor or filter), 429, 503. A client may send `ping` and (first) `auth`; a message
over {WS_MAX_MESSAGE // 1024} KiB closes the socket with 1009, more than {FLOOD_MAX} in
{FLOOD_WINDOW:g} s with 1008. The server closes with:

{CLOSE_TABLE}
"""
SSE_DESCRIPTION = f"""The same frames as Server-Sent Events (never a batch: one event per
message). Each SSE message's `data:` is one frame; snapshots and events carry their cursor as
the message's `id:`, so `Last-Event-ID` (or `?cursor=`) resumes. A `: keep-alive` comment comes
after {SSE_HEARTBEAT:g} s of silence; a client that falls too far behind sees the stream end and
reconnects with its last id. The long-poll (`GET /events?after=&wait=`, at most {MAX_WAIT:g} s)
carries the same event frames in JSON answers: see /openapi.json."""

WS_BINDING = {
    "method": "GET",
    "query": {
        "type": "object",
        "properties": {
            "cursor": {**CURSOR, "description": "resume after this cursor"},
            "status": {"type": "string", "description": "comma-separated statuses"},
            "ticket": {"type": "string", "description": "a ticket from POST /tickets"},
        },
    },
    "headers": {
        "type": "object",
        "properties": {
            "Authorization": {"type": "string", "description": "Bearer <read key>"},
            "Origin": {
                "type": "string",
                "description": "a browser's: the server's own origin or ORDERLOG_ALLOWED_ORIGINS",
            },
        },
    },
    "bindingVersion": "0.1.0",
}
SERVER_FRAMES = ["Snapshot", "Event", "WorkflowChanged", "Batch", "Reset", "Status", "Pong"]
SSE_FRAMES = ["Snapshot", "Event", "WorkflowChanged", "Reset", "Status"]
CLIENT_MESSAGES = ["Auth", "Ping"]
PARAMETERS = {"workspace_id": {"description": "the workspace's id"}}


def _channel_messages(names: list[str]) -> dict[str, Any]:
    return {name: message(name) for name in names}


def _operation(action: str, channel: str, names: list[str], summary: str) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names],
    }


@cache
def document() -> dict[str, Any]:
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "orderlog live protocol",
            "version": __version__,
            "description": "A workspace's orders as they change, in commit order, nothing lost "
            "across reconnects (docs/protocol.md). The HTTP API is /openapi.json.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "websocket": {
                "host": "{host}",
                "protocol": "ws",
                "description": "wss:// behind TLS",
                "variables": {"host": {"default": "127.0.0.1:8000"}},
            },
            "http": {
                "host": "{host}",
                "protocol": "http",
                "description": "Server-Sent Events; https:// behind TLS",
                "variables": {"host": {"default": "127.0.0.1:8000"}},
            },
        },
        "channels": {
            "live": {
                "address": f"{WORKSPACE}/live",
                "title": "WebSocket",
                "description": WS_DESCRIPTION,
                "servers": [{"$ref": "#/servers/websocket"}],
                "parameters": PARAMETERS,
                "messages": _channel_messages(SERVER_FRAMES + CLIENT_MESSAGES),
                "bindings": {"ws": WS_BINDING},
                "x-close-codes": [
                    {"code": code, "meaning": meaning, "action": todo}
                    for code, meaning, todo in CLOSE_CODES
                ],
            },
            "eventStream": {
                "address": f"{WORKSPACE}/events/stream",
                "title": "Server-Sent Events",
                "description": SSE_DESCRIPTION,
                "servers": [{"$ref": "#/servers/http"}],
                "parameters": PARAMETERS,
                "messages": _channel_messages(SSE_FRAMES),
            },
        },
        "operations": {
            "sendLiveFrames": _operation(
                "send", "live", SERVER_FRAMES, "What a WebSocket client receives"
            ),
            "receiveLiveMessages": _operation(
                "receive", "live", CLIENT_MESSAGES, "What a WebSocket client may send"
            ),
            "sendEventStream": _operation(
                "send", "eventStream", SSE_FRAMES, "What an SSE client receives"
            ),
        },
        "components": {
            "messages": _messages(),
            "schemas": {
                **SCHEMAS_HERE,
                "Order": SCHEMAS["Order"],
                "Workflow": SCHEMAS["Workflow"],
                "ParticipantOut": SCHEMAS["ParticipantOut"],
                "ItemOut": SCHEMAS["ItemOut"],
            },
        },
    }


async def asyncapi_json(request: Request) -> Response:
    return JSONResponse(document())


routes = [Route("/asyncapi.json", asyncapi_json, methods=["GET"], name="asyncapi")]
