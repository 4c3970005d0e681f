"""/openapi.json describes every HTTP route the app serves, and nothing it does not."""

from __future__ import annotations

from typing import Any

from starlette.routing import Mount, Route, WebSocketRoute

from orderlog.app import create_app
from support.schemas import component, errors


async def test_openapi_lists_every_route_and_method(client: Any, settings: Any) -> None:
    """Every Route of the app (method and path) is in the document, and vice versa."""
    doc = (await client.get("/openapi.json")).json()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for route in create_app(settings).routes:
        if isinstance(route, Mount | WebSocketRoute):  # not HTTP: docs/protocol.md has them
            continue
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                served.add((route.path, method))
    assert served == documented


async def test_openapi_error_schema_is_referenced(client: Any) -> None:
    """Error responses share one schema with error, statusCode and message."""
    doc = (await client.get("/openapi.json")).json()
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "statusCode", "message"]


def validator(doc: dict[str, Any], name: str) -> Any:
    return component(doc, f"/components/schemas/{name}")


async def test_openapi_workflow_and_workspace_schemas_fit_real_answers(
    client: Any, workspace: Any
) -> None:
    """Workflow, WorkflowIn and Workspace are real schemas: the answers of GET/PUT/DELETE
    /workflow and GET / fit them, a documented PUT body is accepted, a GET answer may be PUT
    back, and bodies the schema refuses are refused by the server too."""
    doc = (await client.get("/openapi.json")).json()
    workflow, workflow_in, ws = (validator(doc, n) for n in ("Workflow", "WorkflowIn", "Workspace"))
    url = f"{workspace.base}/workflow"
    admin = workspace.auth("admin")
    default = (await client.get(url, headers=workspace.auth("read"))).json()
    assert errors(workflow, default) == []
    assert errors(workflow_in, default) == []  # what GET answers may be PUT back
    custom = {
        "statuses": [
            "submitted",
            {"name": "baking", "label": "In the oven", "role": "preparer"},
            {"name": "done", "terminal": True},
        ],
        "transitions": {"submitted": ["baking"], "baking": ["done"]},
        "initial": ["submitted"],
    }
    assert errors(workflow_in, custom) == []
    put = await client.put(url, headers=admin, json=custom)
    assert put.status_code == 200, put.text
    assert errors(workflow, put.json()) == []
    again = await client.put(url, headers=admin, json=put.json())
    assert again.status_code == 200, again.text
    assert again.json() == put.json()
    for bad in (
        {"statuses": ["a"]},
        {**custom, "colour": "red"},
        {**custom, "statuses": ["Bad Name", "done"]},
    ):
        assert errors(workflow_in, bad) != []
        assert (await client.put(url, headers=admin, json=bad)).status_code == 422
    assert errors(workflow, (await client.delete(url, headers=admin)).json()) == []
    got = await client.get(workspace.base, headers=workspace.auth("read"))
    assert errors(ws, got.json()) == []
    patched = await client.patch(
        f"{workspace.base}/settings", headers=admin, json={"recall_window_seconds": 30}
    )
    assert errors(ws, patched.json()) == []


async def test_openapi_batch_results_schema_fits_real_answers(client: Any, workspace: Any) -> None:
    """A batch answer with successes and per-operation failures fits BatchResults."""
    ops = [
        {"op": "create", "ref": 1, "customer": {"UserId": 5, "Name": "a"}},
        {"op": "status", "ref": "x", "order_ref": 1, "status": "preparing"},
        {"op": "status", "id": "f" * 24, "status": "preparing"},
        {"op": "status", "order_ref": "1", "status": "submitted"},
    ]
    resp = await client.post(
        f"{workspace.base}/batch", headers=workspace.auth(), json={"operations": ops}
    )
    doc = (await client.get("/openapi.json")).json()
    assert errors(validator(doc, "BatchResults"), resp.json()) == []
    assert [r["ok"] for r in resp.json()["results"]] == [True, True, False, False]


async def test_openapi_live_is_documented_and_plain_get_is_426(client: Any, workspace: Any) -> None:
    """GET /live is in the document (101, and its refusals); without a WebSocket upgrade it is
    a 426 naming the protocol."""
    doc = (await client.get("/openapi.json")).json()
    live = doc["paths"]["/v1/workspaces/{workspace_id}/live"]["get"]
    assert {"101", "401", "403", "422", "426"} <= set(live["responses"])
    assert "/asyncapi.json" in live["description"]
    resp = await client.get(f"{workspace.base}/live", headers=workspace.auth("read"))
    assert resp.status_code == 426
    assert resp.json()["statusCode"] == 426
    assert resp.headers["upgrade"] == "websocket"


async def test_openapi_every_body_may_be_too_large(client: Any, workspace: Any) -> None:
    """Each operation that reads a JSON body documents the 413 its size limit gives, and the
    server gives it (here: workspace settings, whose own list once left it out)."""
    doc = (await client.get("/openapi.json")).json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                assert "413" in op["responses"], f"{method.upper()} {path}"
    resp = await client.patch(
        f"{workspace.base}/settings",
        content=b'{"allergen_words": ["' + b"a" * 70_000 + b'"]}',
        headers={**workspace.auth("admin"), "Content-Type": "application/json"},
    )
    assert resp.status_code == 413
    assert resp.json()["statusCode"] == 413
