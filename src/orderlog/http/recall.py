"""``POST /orders/{id}/recall`` (write scope): undo the last status change (see recall.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog.domain import inputs
from orderlog.domain.recall import recall_command
from orderlog.errors import InvalidInput
from orderlog.http.common import JSONResponse, authorize, read_json, state
from orderlog.http.openapi import ORDER_PARAM, WS, WS_PARAM, add_paths, errors, json_body, ok, ref


async def recall(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "write")
    order_id = inputs.order_id(request.path_params["order_id"], "order_id")
    data, _ = await read_json(request)
    if not isinstance(data, dict) or set(data) - {"actor", "version"}:
        raise InvalidInput("", 'the body is {"actor"?: participant, "version"?: integer}')
    actor = None
    if data.get("actor") not in (None, [], {}):
        actor = inputs.participant(data["actor"], "actor", system=True)
    version = data.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise InvalidInput("version", "must be an integer")
    st = state(request)
    order = await st.orders.get(ws, order_id)
    window = (await st.workspaces.workspace(ws))["settings"]["recall_window_seconds"]
    command = recall_command(order, datetime.now(UTC), window, actor, version)
    # a status since removed from a custom workflow is a 422 (the store checks it is known)
    workflow = await st.workspaces.workflow(ws)
    result = await st.orders.change_status(ws, command, workflow)
    return JSONResponse(result.to_json() | {"changed": result.changed})


routes = [
    Route(
        "/v1/workspaces/{workspace_id}/orders/{order_id}/recall",
        recall,
        methods=["POST"],
        name="recall_order",
    )
]

add_paths(
    {
        f"{WS}/orders/{{order_id}}/recall": {
            "post": {
                "summary": "Undo the order's last status change within the recall window (write)",
                "parameters": [WS_PARAM, ORDER_PARAM],
                "requestBody": json_body(
                    {
                        "type": "object",
                        "properties": {
                            "actor": ref("Participant"),
                            "version": {
                                "type": "integer",
                                "description": "the version to undo; else 409 (no double undo)",
                            },
                        },
                    }
                ),
                "responses": {
                    "200": ok(ref("OrderResult")),
                    **errors("400", "401", "403", "404", "409", "415", "422", "503"),
                },
            }
        }
    }
)
