"""The webhook admin API in process (httpx against the app): who may call it, what it accepts
and refuses, what it shows (never a secret twice, never a full URL), and its answers' shapes."""

from __future__ import annotations

from typing import Any

import pytest

from support.api import assert_error
from support.server import Workspace

URL = "https://hooks.example.com/orders?token=abc123"
DISCORD = "https://discord.com/api/webhooks/1122334455/" + "t" * 68


async def create(client: Any, ws: Workspace, **body: Any) -> Any:
    return await client.post(
        f"{ws.base}/webhooks", headers=ws.auth("admin"), json={"url": URL, **body}
    )


async def test_webhooks_api_create_shows_the_secret_once(client: Any, workspace: Workspace) -> None:
    """201 with a whsec_ secret; later reads say only that there is one, and mask the URL."""
    resp = await create(client, workspace, label="ranking bot", statuses=["completed"])
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert made["secret"].startswith("whsec_")
    assert made["id"].startswith("wh_")
    assert made["url"] == "https://hooks.example.com/orders?…"
    assert made["events"] == ["order.created", "order.status_changed", "order.updated"]
    assert made["statuses"] == ["completed"]
    assert made["health"]["state"] == "pending"
    assert made["health"]["undelivered"] == 0
    shown = (
        await client.get(f"{workspace.base}/webhooks/{made['id']}", headers=workspace.auth("admin"))
    ).json()
    listed = (
        await client.get(f"{workspace.base}/webhooks", headers=workspace.auth("admin"))
    ).json()
    for view in (shown, listed["webhooks"][0]):
        assert "secret" not in view
        assert view["has_secret"] is True
        assert "abc123" not in str(view)
    discord = (await create(client, workspace, url=DISCORD, format="discord")).json()
    assert discord["secret"] is None
    assert discord["has_secret"] is False
    assert "t" * 68 not in str(discord)


@pytest.mark.parametrize("scope", ["read", "write"])
async def test_webhooks_api_needs_an_admin_key(
    client: Any, workspace: Workspace, scope: str
) -> None:
    """Read and write keys get 403 on every webhook route."""
    resp = await client.post(
        f"{workspace.base}/webhooks", headers=workspace.auth(scope), json={"url": URL}
    )
    assert_error(resp, 403)
    assert_error(await client.get(f"{workspace.base}/webhooks", headers=workspace.auth(scope)), 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "gopher://x.example/"}, "url"),
        ({"url": "http://127.0.0.1/"}, "url"),
        ({"events": ["order.eaten"]}, "events[0]"),
        ({"statuses": ["burnt"]}, "statuses[0]"),
        ({"format": "discord"}, "url"),
        ({"url": DISCORD}, "format"),
        ({"secret": "mine"}, "secret"),
    ],
)
async def test_webhooks_api_refuses_bad_fields(
    client: Any, workspace: Workspace, body: dict[str, Any], field: str
) -> None:
    """A wrong field is a 422 naming it."""
    assert assert_error(await create(client, workspace, **body), 422)["field"] == field


async def test_webhooks_api_kitchen_events_are_opt_in(client: Any, workspace: Workspace) -> None:
    """The priority and item events may be named (at creation, by PATCH); a webhook created
    without events does not get them; the listing offers every event and the default ones, as
    the OpenAPI document does; an unknown event is a 422 listing the known ones."""
    admin = workspace.auth("admin")
    kitchen = await create(client, workspace, events=["order.item_done", "order.priority_changed"])
    assert kitchen.status_code == 201, kitchen.text
    assert kitchen.json()["events"] == ["order.priority_changed", "order.item_done"]
    plain = (await create(client, workspace)).json()
    assert plain["events"] == ["order.created", "order.status_changed", "order.updated"]
    patched = await client.patch(
        f"{workspace.base}/webhooks/{plain['id']}",
        headers=admin,
        json={"events": ["order.item_done", "order.created"]},
    )
    assert patched.json()["events"] == ["order.created", "order.item_done"]
    listing = (await client.get(f"{workspace.base}/webhooks", headers=admin)).json()
    assert listing["events"] == [
        "order.created",
        "order.status_changed",
        "order.updated",
        "order.priority_changed",
        "order.item_done",
    ]
    assert listing["default_events"] == plain["events"]
    doc = (await client.get("/openapi.json")).json()["components"]["schemas"]
    for schema in ("WebhookCreate", "WebhookChange"):
        events = doc[schema]["properties"]["events"]
        assert events["items"]["enum"] == listing["events"]
        assert events["default"] == listing["default_events"]
        assert all(f"`{name}`" in events["description"] for name in listing["events"])
    delivered = doc["WebhookEvent"]["properties"]["event"]["enum"]
    assert delivered == [*listing["events"], "webhook.test"]
    refused = assert_error(await create(client, workspace, events=["order.created", "eaten"]), 422)
    assert refused["field"] == "events[1]"
    assert refused["message"].endswith(", ".join(listing["events"]))


async def test_webhooks_api_patch_delete_and_404s(client: Any, workspace: Workspace) -> None:
    """PATCH changes filters and enabled; the format cannot change; DELETE removes the webhook
    (then every route of it is a 404), and an unknown or malformed id is a 404 too."""
    made = (await create(client, workspace)).json()
    one = f"{workspace.base}/webhooks/{made['id']}"
    admin = workspace.auth("admin")
    patched = await client.patch(
        one, headers=admin, json={"enabled": False, "events": ["order.created"], "label": "x"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is False
    assert patched.json()["events"] == ["order.created"]
    assert patched.json()["health"]["state"] == "disabled"
    bad = await client.patch(one, headers=admin, json={"format": "discord"})
    assert assert_error(bad, 422)["field"] == "format"
    assert (await client.delete(one, headers=admin)).json() == {"id": made["id"], "deleted": True}
    for method, path in [
        ("GET", one),
        ("DELETE", one),
        ("GET", f"{one}/deliveries"),
        ("POST", f"{one}/test"),
        ("POST", f"{one}/rotate-secret"),
        ("POST", f"{one}/deliveries/1-0/retry"),
        ("GET", f"{workspace.base}/webhooks/not-a-webhook"),
    ]:
        assert_error(await client.request(method, path, headers=admin), 404)


async def test_webhooks_api_rotation_answers_and_limits(client: Any, workspace: Workspace) -> None:
    """Rotation answers the new secret once and when the old one stops signing; a Discord
    webhook has none (422); the 21st webhook is a 409."""
    made = (await create(client, workspace)).json()
    admin = workspace.auth("admin")
    rotated = await client.post(
        f"{workspace.base}/webhooks/{made['id']}/rotate-secret", headers=admin
    )
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (None, made["secret"])
    assert rotated.json()["previous_secret_expires_at"]
    discord = (await create(client, workspace, url=DISCORD, format="discord")).json()
    refused = await client.post(
        f"{workspace.base}/webhooks/{discord['id']}/rotate-secret", headers=admin
    )
    assert_error(refused, 422)
    for _ in range(18):
        assert (await create(client, workspace)).status_code == 201
    assert_error(await create(client, workspace), 409)


async def test_webhooks_api_test_send_reports_the_failure(
    client: Any, workspace: Workspace
) -> None:
    """POST .../test answers how the attempt went (here: refused, the host resolving to a
    loopback address) and the attempt is in the delivery log."""
    made = (await create(client, workspace, url="https://localhost/hook")).json()
    admin = workspace.auth("admin")
    resp = await client.post(f"{workspace.base}/webhooks/{made['id']}/test", headers=admin)
    assert resp.status_code == 200, resp.text
    attempt = resp.json()
    assert attempt["outcome"] == "failed"
    assert attempt["event"] == "webhook.test"
    assert attempt["error"].startswith("refused: localhost resolves to ")
    assert attempt["status_code"] is None
    log = await client.get(f"{workspace.base}/webhooks/{made['id']}/deliveries", headers=admin)
    assert log.json()["deliveries"] == [attempt]
