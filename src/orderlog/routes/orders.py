"""Ingest and read one order: the API the Roblox module and tills call."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import inputs
from ..errors import OrderLogError
from .errors import error_body
from .http import JSONResponse, authorize, idempotency, path_int, rate_check, read_json, state


async def create_order(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    principal = await authorize(request, ws, "write", rate_in_write=True)
    data, body = await read_json(request)
    command = inputs.create_order(data)
    st = state(request)
    workflow = await st.workspaces.workflow(ws)
    result = await st.orders.create(
        ws, command, workflow, idempotency(request, principal, body), rate_check(request)
    )
    return JSONResponse(result.to_json(), status_code=201)


async def change_status(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    principal = await authorize(request, ws, "write", rate_in_write=True)
    order_id = inputs.order_id(request.path_params["order_id"], "order_id")
    data, body = await read_json(request)
    command = inputs.change_status(data, order_id)
    st = state(request)
    workflow = await st.workspaces.workflow(ws)
    result = await st.orders.change_status(
        ws, command, workflow, idempotency(request, principal, body), rate_check(request)
    )
    return JSONResponse(result.to_json() | {"changed": result.changed})


async def batch(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    principal = await authorize(request, ws, "write", rate_in_write=True)
    data, body = await read_json(request)
    commands = inputs.batch(data)
    st = state(request)
    workflow = await st.workspaces.workflow(ws)
    results = await st.orders.apply(
        ws,
        commands,
        workflow,
        idempotency(request, principal, body),
        batch=True,
        rate=rate_check(request),
    )
    out = []
    for command, result in zip(commands, results, strict=True):
        if isinstance(result, OrderLogError):
            entry = {
                "ref": command.ref,
                "ok": False,
                **error_body(result.status_code, result.message),
            }
        else:
            status = 201 if isinstance(command, inputs.CreateOrder) else 200
            entry = {
                "ref": command.ref,
                "ok": True,
                "statusCode": status,
                **result.to_json(),
                "changed": result.changed,
            }
        out.append(entry)
    return JSONResponse({"results": out})


async def get_order(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "read_one")
    order_id = inputs.order_id(request.path_params["order_id"], "order_id")
    return JSONResponse(await state(request).orders.get(ws, order_id))


async def get_by_number(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "read_one")
    number = path_int(request, "number")
    return JSONResponse(await state(request).orders.get_by_number(ws, number))


W = "/v1/workspaces/{workspace_id}"
routes = [
    Route(f"{W}/orders", create_order, methods=["POST"], name="create_order"),
    Route(f"{W}/orders/by-number/{{number}}", get_by_number, methods=["GET"], name="get_by_number"),
    Route(f"{W}/orders/{{order_id}}", get_order, methods=["GET"], name="get_order"),
    Route(f"{W}/orders/{{order_id}}/status", change_status, methods=["POST"], name="change_status"),
    Route(f"{W}/batch", batch, methods=["POST"], name="batch"),
]
