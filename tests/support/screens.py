"""Screen pairing as tests drive it over HTTP: a screen asks for a code, an owner approves it, the
screen takes its token."""

from __future__ import annotations

from typing import Any

from support.server import Workspace


async def start(client: Any) -> dict[str, Any]:
    """A new pairing, as a screen asks for it."""
    resp = await client.post("/v1/pairings")
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def poll(client: Any, device_code: str) -> Any:
    return await client.post("/v1/pairings/poll", json={"device_code": device_code})


async def approve(client: Any, ws: Workspace, code: str, **grant: Any) -> Any:
    body = {"code": code, "role": "kitchen", **grant}
    return await client.post(f"{ws.base}/screens", headers=ws.auth("admin"), json=body)


async def paired(client: Any, ws: Workspace, **grant: Any) -> dict[str, Any]:
    """A screen paired end to end: the poll's approved answer (token, workspace_id, screen)."""
    pairing = await start(client)
    resp = await approve(client, ws, pairing["user_code"], **grant)
    assert resp.status_code == 201, resp.text
    resp = await poll(client, pairing["device_code"])
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
