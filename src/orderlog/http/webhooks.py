"""Outbound webhooks over HTTP (admin scope): create, list, change, delete, rotate the secret,
send a test, see deliveries and send one again. Delivery itself is outbound/ (docs/webhooks.md).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog.domain import webhooks
from orderlog.http.common import WORKSPACE, JSONResponse, authorize, read_json
from orderlog.http.state import State, state
from orderlog.store.webhooks import Webhook

BASE = f"{WORKSPACE}/webhooks"
ONE = f"{BASE}/{{webhook_id}}"


async def _admin(request: Request) -> tuple[State, str]:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "admin")
    return state(request), ws


async def _shown(st: State, hook: Webhook) -> dict[str, Any]:
    return {**hook.to_json(), "health": await st.webhooks.health(hook)}


async def list_webhooks(request: Request) -> Response:
    """The webhooks, and the events one may ask for (the settings page offers these)."""
    st, ws = await _admin(request)
    return JSONResponse(
        {
            "webhooks": [await _shown(st, h) for h in await st.webhooks.all(ws)],
            "events": list(webhooks.EVENTS),
            "default_events": list(webhooks.DEFAULT_EVENTS),
        }
    )


async def create_webhook(request: Request) -> Response:
    st, ws = await _admin(request)
    data, _ = await read_json(request)
    workflow = await st.workspaces.workflow(ws)
    spec = webhooks.parse_spec(
        data, workflow.names, allow_private=st.settings.webhook_allow_private
    )
    hook, secret = await st.webhooks.create(ws, spec)
    st.outbound.refresh(ws, hook.id)
    return JSONResponse({**await _shown(st, hook), "secret": secret}, status_code=201)


async def get_webhook(request: Request) -> Response:
    st, ws = await _admin(request)
    hook = await st.webhooks.get(ws, request.path_params["webhook_id"])
    return JSONResponse(await _shown(st, hook))


async def patch_webhook(request: Request) -> Response:
    st, ws = await _admin(request)
    hook = await st.webhooks.get(ws, request.path_params["webhook_id"])
    data, _ = await read_json(request)
    workflow = await st.workspaces.workflow(ws)
    spec = webhooks.apply_changes(
        hook.spec, data, workflow.names, allow_private=st.settings.webhook_allow_private
    )
    hook = await st.webhooks.update(ws, hook.id, spec)
    st.outbound.refresh(ws, hook.id)
    return JSONResponse(await _shown(st, hook))


async def delete_webhook(request: Request) -> Response:
    st, ws = await _admin(request)
    webhook_id = request.path_params["webhook_id"]
    await st.webhooks.delete(ws, webhook_id)
    st.outbound.refresh(ws, webhook_id)
    return JSONResponse({"id": webhook_id, "deleted": True})


async def rotate_secret(request: Request) -> Response:
    st, ws = await _admin(request)
    hook, secret = await st.webhooks.rotate(ws, request.path_params["webhook_id"])
    st.outbound.refresh(ws, hook.id)
    return JSONResponse({**await _shown(st, hook), "secret": secret})


async def test_webhook(request: Request) -> Response:
    st, ws = await _admin(request)
    hook = await st.webhooks.get(ws, request.path_params["webhook_id"])
    return JSONResponse(await st.outbound.send_test(hook))


async def list_deliveries(request: Request) -> Response:
    st, ws = await _admin(request)
    webhook_id = request.path_params["webhook_id"]
    return JSONResponse(
        {
            "deliveries": await st.webhooks.deliveries(ws, webhook_id),
            "dead_letters": await st.webhooks.dead_letters(ws, webhook_id),
        }
    )


async def retry_delivery(request: Request) -> Response:
    st, ws = await _admin(request)
    webhook_id = request.path_params["webhook_id"]
    delivery_id = request.path_params["delivery_id"]
    how = await st.webhooks.retry(ws, webhook_id, delivery_id)
    st.outbound.refresh(ws, webhook_id)
    return JSONResponse({"delivery_id": delivery_id, "queued": how}, status_code=202)


routes = [
    Route(BASE, list_webhooks, methods=["GET"], name="list_webhooks"),
    Route(BASE, create_webhook, methods=["POST"], name="create_webhook"),
    Route(ONE, get_webhook, methods=["GET"], name="get_webhook"),
    Route(ONE, patch_webhook, methods=["PATCH"], name="patch_webhook"),
    Route(ONE, delete_webhook, methods=["DELETE"], name="delete_webhook"),
    Route(f"{ONE}/rotate-secret", rotate_secret, methods=["POST"], name="rotate_webhook_secret"),
    Route(f"{ONE}/test", test_webhook, methods=["POST"], name="test_webhook"),
    Route(f"{ONE}/deliveries", list_deliveries, methods=["GET"], name="list_webhook_deliveries"),
    Route(
        f"{ONE}/deliveries/{{delivery_id}}/retry",
        retry_delivery,
        methods=["POST"],
        name="retry_webhook_delivery",
    ),
]
