"""``POST /orders/{id}/recall`` (write scope, or a screen allowed to bump): undo the last status
change (see domain/recall.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog.domain import inputs
from orderlog.domain.recall import recall_command
from orderlog.http.common import WORKSPACE, JSONResponse, against_workflow, authorize, read_json
from orderlog.http.state import state


async def recall(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "status")
    order_id = inputs.order_id(request.path_params["order_id"], "order_id")
    data, _ = await read_json(request)
    actor, version = inputs.recall(data)
    st = state(request)
    order = await st.orders.get(ws, order_id)
    window = (await st.workspaces.workspace(ws))["settings"]["recall_window_seconds"]
    command = recall_command(order, datetime.now(UTC), window, actor, version)
    # a status since removed from a custom workflow is a 422 (the store checks it is known)
    result = await against_workflow(
        request, ws, lambda wf: st.orders.change_status(ws, command, wf)
    )
    return JSONResponse(result.to_json() | {"changed": result.changed})


routes = [
    Route(
        f"{WORKSPACE}/orders/{{order_id}}/recall",
        recall,
        methods=["POST"],
        name="recall_order",
    )
]
