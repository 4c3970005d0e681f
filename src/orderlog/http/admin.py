"""Workspace administration over HTTP: workflow, settings and API keys (admin scope)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog.auth import SCREEN_SCOPES
from orderlog.domain.model import DEFAULT_WORKFLOW, Workflow, parse_workflow, plan_change
from orderlog.errors import InvalidInput, NotFound
from orderlog.http.common import WORKSPACE, JSONResponse, authorize, read_json
from orderlog.http.state import state


async def get_workflow(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "read_one")
    workflow = await state(request).workspaces.workflow(ws)
    return JSONResponse(workflow.to_json())


async def put_workflow(request: Request) -> Response:
    """A workflow of the workspace's own; ``"migrate": {removed status: new status}`` moves the
    orders of statuses it removes (without it, removing a status orders are in is a 409)."""
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "admin")
    data, _ = await read_json(request)
    if not isinstance(data, dict):
        raise InvalidInput("", "the workflow must be a JSON object")
    migrate = data.pop("migrate", None)
    return await _replace_workflow(request, parse_workflow(data), migrate)


async def delete_workflow(request: Request) -> Response:
    """Back to the default workflow; an optional body ``{"migrate": {...}}`` as for PUT."""
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "admin")
    migrate = None
    has_body = request.headers.get("content-length", "0") != "0"
    if has_body or "transfer-encoding" in request.headers:
        data, _ = await read_json(request)
        if not isinstance(data, dict) or set(data) - {"migrate"}:
            raise InvalidInput("", 'the body may only be {"migrate": {...}}')
        migrate = data.get("migrate")
    return await _replace_workflow(request, None, migrate)


async def _replace_workflow(request: Request, new: Workflow | None, migrate: Any) -> Response:
    """Check the change against the workflow as it is now and make it, orders moved, in one
    step (store/workflow.lua); the new workflow. None: back to the default."""
    ws = request.path_params["workspace_id"]
    st = state(request)
    current = await st.workspaces.workflow(ws, fresh=True)
    change = plan_change(current, new or DEFAULT_WORKFLOW, migrate)
    await st.orders.change_workflow(ws, current, new, change)
    st.workspaces.forget_workflow(ws)
    return JSONResponse((await st.workspaces.workflow(ws, fresh=True)).to_json())


async def get_workspace(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "read_one")
    return JSONResponse(await state(request).workspaces.workspace(ws))


async def patch_settings(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "admin")
    data, _ = await read_json(request)
    return JSONResponse(await state(request).workspaces.update_settings(ws, data))


async def list_keys(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "admin")
    return JSONResponse({"keys": await state(request).workspaces.list_keys(ws)})


async def create_key(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "admin")
    data, _ = await read_json(request)
    if not isinstance(data, dict):
        raise InvalidInput("", "must be a JSON object")
    scope = data.get("scope")
    label = data.get("label", "")
    if not isinstance(label, str):
        raise InvalidInput("label", "must be a string")
    if not isinstance(scope, str):
        raise InvalidInput("scope", "is required: read, write or admin")
    key_id, raw = await state(request).workspaces.create_key(ws, scope, label)
    return JSONResponse(
        {"key_id": key_id, "key": raw, "scope": scope, "label": label}, status_code=201
    )


async def revoke_key(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "admin")
    st = state(request)
    key_id = request.path_params["key_id"]
    record = await st.workspaces.key_record(key_id)
    if record is None or record["workspace"] != ws or record["scope"] in SCREEN_SCOPES:
        raise NotFound("Key", key_id)  # (a screen is revoked under /screens)
    result = await st.workspaces.revoke_key(key_id)
    st.auth.forget(key_id)
    return JSONResponse(result)


routes = [
    Route(WORKSPACE, get_workspace, methods=["GET"], name="get_workspace"),
    Route(f"{WORKSPACE}/settings", patch_settings, methods=["PATCH"], name="patch_settings"),
    Route(f"{WORKSPACE}/workflow", get_workflow, methods=["GET"], name="get_workflow"),
    Route(f"{WORKSPACE}/workflow", put_workflow, methods=["PUT"], name="put_workflow"),
    Route(f"{WORKSPACE}/workflow", delete_workflow, methods=["DELETE"], name="delete_workflow"),
    Route(f"{WORKSPACE}/keys", list_keys, methods=["GET"], name="list_keys"),
    Route(f"{WORKSPACE}/keys", create_key, methods=["POST"], name="create_key"),
    Route(f"{WORKSPACE}/keys/{{key_id}}", revoke_key, methods=["DELETE"], name="revoke_key"),
]
