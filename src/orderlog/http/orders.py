"""Ingest and read one order: the API the Roblox module and tills call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog.domain import inputs, model
from orderlog.errors import OrderLogError
from orderlog.http.common import (
    WORKSPACE,
    JSONResponse,
    against_workflow,
    authorize,
    idempotency,
    path_int,
    rate_check,
    read_json,
)
from orderlog.http.errors import error_body
from orderlog.http.state import state
from orderlog.store.orders import Result, only


async def _apply(
    request: Request,
    parse: Callable[[Any], list[model.Command]],
    *,
    batch: bool = False,
    action: str = "write",
) -> tuple[list[model.Command], list[Result]]:
    """The shared path of every write: key, body, commands, workflow, one store call."""
    ws = request.path_params["workspace_id"]
    principal = await authorize(request, ws, action, rate_in_write=True)
    data, _ = await read_json(request)
    commands = parse(data)
    orders = state(request).orders
    key = idempotency(request, principal, data)
    rate = rate_check(request)  # checked inside write.lua: still one round trip
    results = await against_workflow(
        request, ws, lambda wf: orders.apply(ws, commands, wf, key, batch=batch, rate=rate)
    )
    return commands, results


async def create_order(request: Request) -> Response:
    _, results = await _apply(request, lambda data: [inputs.create_order(data)])
    return JSONResponse(only(results).to_json(), status_code=201)


async def change_status(request: Request) -> Response:
    order_id = inputs.order_id(request.path_params["order_id"], "order_id")
    # "status": also a kitchen screen allowed to bump (auth.ALLOWED)
    _, results = await _apply(
        request, lambda data: [inputs.change_status(data, order_id)], action="status"
    )
    result = only(results)
    return JSONResponse(result.to_json() | {"changed": result.changed})


async def batch(request: Request) -> Response:
    commands, results = await _apply(request, inputs.batch, batch=True)
    out = []
    for command, result in zip(commands, results, strict=True):
        if isinstance(result, OrderLogError):
            entry = {
                "ref": command.ref,
                "ok": False,
                **error_body(result.status_code, result.message),
            }
        else:
            status = 201 if isinstance(command, model.CreateOrder) else 200
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


routes = [
    Route(f"{WORKSPACE}/orders", create_order, methods=["POST"], name="create_order"),
    Route(
        f"{WORKSPACE}/orders/by-number/{{number}}",
        get_by_number,
        methods=["GET"],
        name="get_by_number",
    ),
    Route(f"{WORKSPACE}/orders/{{order_id}}", get_order, methods=["GET"], name="get_order"),
    Route(
        f"{WORKSPACE}/orders/{{order_id}}/status",
        change_status,
        methods=["POST"],
        name="change_status",
    ),
    Route(f"{WORKSPACE}/batch", batch, methods=["POST"], name="batch"),
]
