"""Screen pairing (RFC 8628's device flow) and paired screens' tokens over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orderlog.domain.screens import ALPHABET, CODE_SECONDS
from support.api import assert_error, new_order, set_status
from support.live import close_of, http, recv
from support.metrics import samples
from support.screens import approve, bearer, paired, poll, start
from support.server import Workspace


async def test_pairing_start_gives_code_qr_and_device_code(client: Any) -> None:
    """A screen without credentials gets six unambiguous letters, a QR code of the approval
    page with the code, a secret device code, 10 minutes and a poll interval."""
    pairing = await start(client)
    code = pairing["user_code"]
    assert len(code) == 6
    assert set(code) <= set(ALPHABET)
    assert pairing["user_code_display"] == f"{code[:3]}-{code[3:]}"
    assert pairing["verification_uri_complete"].endswith(f"/index.html?pair={code}#pair")
    assert pairing["qr"].startswith("data:image/svg+xml")
    assert pairing["expires_in"] == CODE_SECONDS == 600
    assert pairing["interval"] == 2
    assert pairing["device_code"].startswith(code + ".")
    assert len(pairing["device_code"]) > 40
    resp = await poll(client, pairing["device_code"])
    assert resp.status_code == 202
    assert resp.json()["status"] == "pending"
    assert 590 <= resp.json()["expires_in"] <= 600


async def test_pairing_approved_screen_reads_but_cannot_write(
    client: Any, workspace: Workspace, redis: Any
) -> None:
    """An approved read-only screen's token reads the workspace, gets live tickets and searches;
    it cannot create, change or administer; the raw token is nowhere in Redis."""
    got = await paired(client, workspace, role="board", label="Front TV")
    token = got["token"]
    assert token.startswith("ols_")
    assert got["workspace_id"] == workspace.id
    screen = got["screen"]
    assert screen["role"] == "board"
    assert screen["label"] == "Front TV"
    assert screen["can_bump"] is False
    assert screen["page"] == "/board.html"
    base = workspace.base
    order = await new_order(client, workspace)
    for path in ("", "/workflow", f"/orders/{order['id']}", "/orders?limit=5", "/stats"):
        resp = await client.get(base + path, headers=bearer(token))
        assert resp.status_code == 200, (path, resp.text)
    resp = await client.post(f"{base}/tickets", headers=bearer(token))
    assert resp.status_code == 201
    me = (await client.get("/v1/me", headers=bearer(token))).json()
    assert me["scope"] == "screen"
    assert me["screen"]["screen_id"] == screen["screen_id"]
    denied = [
        await client.post(f"{base}/orders", headers=bearer(token), json={"customer": 1}),
        await client.post(
            f"{base}/orders/{order['id']}/status",
            headers=bearer(token),
            json={"status": "preparing"},
        ),
        await client.post(f"{base}/orders/{order['id']}/recall", headers=bearer(token), json={}),
        await client.get(f"{base}/screens", headers=bearer(token)),
        await client.get(f"{base}/keys", headers=bearer(token)),
        await client.patch(f"{base}/settings", headers=bearer(token), json={}),
    ]
    for resp in denied:
        assert_error(resp, 403)
    assert "screen may not" in denied[1].json()["message"]
    dump = b"".join([k + (await redis.dump(k) or b"") for k in await redis.keys("*")])
    assert token.encode() not in dump
    secret = token.split("_", 2)[2]  # ols_<screen id>_<secret>: the secret may hold "_" too
    assert len(secret) == 32
    assert secret.encode() not in dump


async def test_pairing_bump_screen_changes_status_and_recalls(
    client: Any, workspace: Workspace
) -> None:
    """A kitchen screen allowed to bump moves orders and recalls them (with an
    Idempotency-Key), but still cannot create orders or send batches."""
    got = await paired(client, workspace, role="kitchen", station="grill", can_bump=True)
    token = got["token"]
    assert got["screen"]["page"] == "/kitchen.html?station=grill"
    order = await new_order(client, workspace, status="waiting_for_preparation")
    resp = await client.post(
        f"{workspace.base}/orders/{order['id']}/status",
        headers=bearer(token) | {"Idempotency-Key": "bump-1"},
        json={"status": "preparing", "version": order["order"]["version"]},
    )
    assert resp.status_code == 200, resp.text
    resp = await client.post(
        f"{workspace.base}/orders/{order['id']}/recall",
        headers=bearer(token),
        json={"version": resp.json()["order"]["version"]},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["order"]["status"] == "waiting_for_preparation"
    resp = await client.post(
        f"{workspace.base}/batch",
        headers=bearer(token),
        json={"operations": [{"op": "status", "id": order["id"], "status": "preparing"}]},
    )
    assert_error(resp, 403)


async def test_pairing_code_works_once(client: Any, workspace: Workspace) -> None:
    """A code approved once is refused the second time; once the screen took its token the
    device code is gone (410) and the token is the only credential made."""
    pairing = await start(client)
    assert (await approve(client, workspace, pairing["user_code"])).status_code == 201
    again = await approve(client, workspace, pairing["user_code"].lower(), role="pickup")
    assert "No screen is waiting" in assert_error(again, 404)["message"]
    assert (await poll(client, pairing["device_code"])).status_code == 200
    assert_error(await poll(client, pairing["device_code"]), 410)
    reused = await approve(client, workspace, pairing["user_code"])
    assert_error(reused, 404)
    listed = (await client.get(f"{workspace.base}/screens", headers=workspace.auth("admin"))).json()
    assert len(listed["screens"]) == 1


async def test_pairing_expired_code_refused(client: Any, workspace: Workspace, redis: Any) -> None:
    """A code past its 10 minutes (its key's expiry, run down here) cannot be approved and its
    screen's poll answers 410 (the screen then asks for a new code)."""
    pairing = await start(client)
    (key,) = await redis.keys(f"*pair:{{{pairing['user_code']}}}")
    assert 590_000 < await redis.pttl(key) <= 600_000
    await redis.pexpire(key, 1)
    await asyncio.sleep(0.05)
    resp = await approve(client, workspace, pairing["user_code"])
    assert "No screen is waiting" in assert_error(resp, 404)["message"]
    resp = await poll(client, pairing["device_code"])
    assert "expired" in assert_error(resp, 410)["message"]


async def test_pairing_wrong_device_code_learns_nothing(client: Any, workspace: Workspace) -> None:
    """A device code with the right user code but another secret is refused like an expired one
    and never gets the token; malformed ones are refused too."""
    pairing = await start(client)
    assert (await approve(client, workspace, pairing["user_code"])).status_code == 201
    forged = pairing["user_code"] + "." + "A" * 43
    assert_error(await poll(client, forged), 410)
    for bad in ("", "nonsense", "BCDFGH.short"):
        resp = await poll(client, bad)
        assert resp.status_code in (410, 422), resp.text
    assert_error(await client.post("/v1/pairings/poll", json={}), 422)
    assert (await poll(client, pairing["device_code"])).status_code == 200


async def test_pairing_approval_input_is_checked(client: Any, workspace: Workspace) -> None:
    """Approvals need an admin key, a well-formed code and a possible grant (422 naming the
    field otherwise)."""
    pairing = await start(client)
    code = pairing["user_code"]
    resp = await client.post(
        f"{workspace.base}/screens", headers=workspace.auth("write"), json={"code": code}
    )
    assert_error(resp, 403)
    cases = [
        ({"code": "AEIOU1", "role": "kitchen"}, "code"),
        ({"code": code, "role": "till"}, "role"),
        ({"code": code, "role": "pickup", "can_bump": True}, "can_bump"),
        ({"code": code, "role": "board", "station": "grill"}, "station"),
        ({"code": code, "role": "kitchen", "station": "{bad}"}, "station"),
        ({"code": code, "role": "kitchen", "label": "x" * 61}, "label"),
    ]
    for body, field in cases:
        resp = await client.post(
            f"{workspace.base}/screens", headers=workspace.auth("admin"), json=body
        )
        assert assert_error(resp, 422)["field"] == field, body
    spaced = f"{code[:3].lower()} {code[3:]}"
    assert (await approve(client, workspace, spaced, role="pickup")).status_code == 201


async def test_pairing_guesses_are_rate_limited_and_counted(
    client: Any, workspace: Workspace
) -> None:
    """Approval attempts are limited per workspace (10 at once): wrong codes answer 404 until
    then, 429 after, and both show in orderlog_screen_pairings_total."""
    statuses = []
    for i in range(12):
        guess = ALPHABET[i] * 6
        statuses.append((await approve(client, workspace, guess)).status_code)
    assert statuses == [404] * 10 + [429] * 2
    got = samples((await client.get("/metrics")).text)
    name = "orderlog_screen_pairings_total"
    assert got[(name, (("outcome", "unknown_code"),))] == 10
    assert got[(name, (("outcome", "approve_limited"),))] == 2


async def test_pairing_start_is_rate_limited_per_client(client: Any) -> None:
    """One client address may start 20 pairings at once, then gets 429 with Retry-After."""
    codes = [(await client.post("/v1/pairings")).status_code for _ in range(21)]
    assert codes == [201] * 20 + [429]
    resp = await client.post("/v1/pairings")
    assert_error(resp, 429)
    assert int(resp.headers["retry-after"]) >= 1


async def test_screens_listed_with_last_seen_then_revoked(
    client: Any, workspace: Workspace
) -> None:
    """The list shows label, role and last-seen; DELETE revokes: the token is refused at once
    and the screen leaves the list. A screen id is not an API key."""
    got = await paired(client, workspace, role="pickup", label="Counter")
    token, screen_id = got["token"], got["screen"]["screen_id"]
    admin = workspace.auth("admin")
    (listed,) = (await client.get(f"{workspace.base}/screens", headers=admin)).json()["screens"]
    assert listed["label"] == "Counter"
    assert listed["role"] == "pickup"
    assert listed["last_seen"] is None
    assert listed["paired"] is True
    assert (await client.get(workspace.base, headers=bearer(token))).status_code == 200
    (listed,) = (await client.get(f"{workspace.base}/screens", headers=admin)).json()["screens"]
    assert listed["last_seen"] is not None
    assert_error(await client.delete(f"{workspace.base}/keys/{screen_id}", headers=admin), 404)
    resp = await client.delete(f"{workspace.base}/screens/{screen_id}", headers=admin)
    assert resp.json() == {"screen_id": screen_id, "workspace_id": workspace.id, "revoked": True}
    assert_error(await client.get(workspace.base, headers=bearer(token)), 401)
    assert (await client.get(f"{workspace.base}/screens", headers=admin)).json()["screens"] == []
    assert_error(await client.delete(f"{workspace.base}/screens/{screen_id}", headers=admin), 404)


async def test_screen_revoked_between_approval_and_pickup_gets_nothing(
    client: Any, workspace: Workspace
) -> None:
    """An owner who revokes an approved screen before it came for its token leaves it none."""
    pairing = await start(client)
    screen = (await approve(client, workspace, pairing["user_code"])).json()["screen"]
    admin = workspace.auth("admin")
    await client.delete(f"{workspace.base}/screens/{screen['screen_id']}", headers=admin)
    assert_error(await poll(client, pairing["device_code"]), 410)
    assert (await client.get(f"{workspace.base}/screens", headers=admin)).json()["screens"] == []


async def test_me_says_what_a_key_is(client: Any, workspace: Workspace, state: Any) -> None:
    """GET /v1/me answers any key with its workspace and scope, and a wrong or missing key with
    401 (the sign-in page checks keys with it before keeping them)."""
    for scope in ("read", "write", "admin"):
        resp = await client.get("/v1/me", headers=workspace.auth(scope))
        assert resp.json()["scope"] == scope
        assert resp.json()["workspace_id"] == workspace.id
        assert "sha256" not in resp.text
    other_id, other_keys = await state.workspaces.create_workspace("Other")
    resp = await client.get("/v1/me", headers=bearer(other_keys["read"]))
    assert resp.json()["workspace_id"] == other_id
    assert_error(await client.get("/v1/me", headers=bearer("olk_nope")), 401)
    assert_error(await client.get("/v1/me"), 401)


async def test_revoked_screen_live_socket_closes(server: str, workspace: Workspace) -> None:
    """A screen's open live socket (opened with a ticket from its token) closes with 4001 within
    the key-check interval of its revocation."""
    from websockets.asyncio.client import connect

    async with http(server) as client:
        got = await paired(client, workspace, role="board")
        ticket = (
            await client.post(f"{workspace.base}/tickets", headers=bearer(got["token"]))
        ).json()["ticket"]
        url = server.replace("http://", "ws://") + f"{workspace.base}/live?ticket={ticket}"
        async with asyncio.timeout(10):
            conn = await connect(url)
        try:
            assert (await recv(conn))["type"] == "snapshot"
            await client.delete(
                f"{workspace.base}/screens/{got['screen']['screen_id']}",
                headers=workspace.auth("admin"),
            )
            assert await close_of(conn, 5) == (4001, "The screen was revoked.")
        finally:
            await conn.close()


@pytest.mark.parametrize("scope", ["read", "write"])
async def test_status_route_scopes_unchanged_for_keys(
    client: Any, workspace: Workspace, scope: str
) -> None:
    """Keys keep their scopes: a write key changes status, a read key does not."""
    order = await new_order(client, workspace)
    ws = Workspace(workspace.id, {"write": workspace.keys[scope]})
    resp = await set_status(client, ws, order["id"], "preparing")
    assert resp.status_code == (200 if scope == "write" else 403)
