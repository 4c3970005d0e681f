"""The webhooks of the owner tools (sign-in page) in a real browser: unlocked with the admin key,
they list the workspace's webhooks and their health, add one (showing its secret once), disable,
test and remove them; user text stays text."""

from __future__ import annotations

from typing import Any

import pytest

from orderlog.settings import Settings
from support import hooks
from support.browser import browser
from support.live import create, http
from support.receivers import SignedReceiver
from support.server import Workspace, running_server

pytestmark = pytest.mark.browser


async def test_webhooks_page_lists_adds_disables_tests_and_removes(
    settings: Settings, redis: Any, workspace: Workspace
) -> None:
    """Unlocked with the admin key: an existing webhook shows as healthy after a
    delivery; the form offers every event (the default ones ticked); a new Discord one is added
    with the events ticked; a JSON one shows its secret once; Disable, Send test and Remove act
    on the server."""
    from playwright.async_api import expect

    receiver = SignedReceiver()
    async with (
        running_server(receiver.app) as url,
        running_server(hooks.quick(settings)) as base,
        http(base) as client,
    ):
        made = await hooks.add(client, workspace, url, label="<b>till</b>")
        receiver.secrets.append(made["secret"])
        await create(client, workspace, 1)
        await receiver.wait_for(1)
        async with browser(base) as b:
            page = b.page
            await page.goto("/index.html")
            unlock = page.locator("#unlock")
            await unlock.locator('input[name="adminKey"]').fill(workspace.keys["admin"])
            await unlock.locator('button[type="submit"]').click()
            await expect(page.locator("#owner-tools")).to_be_visible(timeout=5000)
            row = page.locator(f'tr[data-webhook="{made["id"]}"]')
            await expect(row).to_contain_text("<b>till</b>", timeout=5000)  # as text
            await expect(row.locator(".health")).to_have_text("healthy")
            assert await page.locator("#webhooks-table b").count() == 0

            form = page.locator("#webhook-add")
            boxes = form.locator('input[name="events"]')
            await expect(boxes).to_have_count(5)
            assert await boxes.evaluate_all("(all) => all.map((b) => [b.value, b.checked])") == [
                ["order.created", True],
                ["order.status_changed", True],
                ["order.updated", True],
                ["order.priority_changed", False],
                ["order.item_done", False],
            ]
            await expect(form.locator("#webhook-events")).to_contain_text("Rush marks")
            await form.locator('input[name="url"]').fill(
                "https://discord.com/api/webhooks/123456/" + "z" * 68
            )
            await form.locator('select[name="format"]').select_option("discord")
            await form.locator('input[value="order.created"]').uncheck()
            await form.locator('input[value="order.item_done"]').check()
            await form.locator('input[value="waiting_for_pickup"]').check()
            await form.locator('input[name="label"]').fill("pickup channel")
            await form.locator('button[type="submit"]').click()
            await expect(page.locator("#webhooks-status")).to_have_text("Added.", timeout=5000)
            discord = page.locator("tr", has_text="pickup channel")
            await expect(discord).to_contain_text("Discord")
            await expect(discord).to_contain_text("to waiting_for_pickup")
            await expect(discord).to_contain_text("Items ticked done at a kitchen")
            await expect(form.locator('input[value="order.created"]')).to_be_checked()
            await expect(form.locator('input[value="order.item_done"]')).not_to_be_checked()
            await expect(discord.locator(".health")).to_have_text("pending")
            await expect(page.locator("#webhook-secret")).to_be_hidden()

            await form.locator('input[name="url"]').fill("https://hooks.example.com/in")
            await form.locator('select[name="format"]').select_option("json")
            await form.locator('button[type="submit"]').click()
            await expect(page.locator("#webhook-secret")).to_contain_text("whsec_", timeout=5000)

            await row.get_by_role("button", name="Disable").click()
            await expect(row.locator(".health")).to_have_text("disabled", timeout=5000)
            await row.get_by_role("button", name="Send test").click()
            await expect(page.locator("#webhooks-status")).to_contain_text(
                "Test delivered (204", timeout=5000
            )
            await row.get_by_role("button", name="Remove").click()
            await expect(row).to_have_count(0, timeout=5000)
            await expect(page.locator("#webhooks-status")).to_have_text("Removed: <b>till</b>.")
            assert b.errors == []
        listed = (
            await client.get(f"{workspace.base}/webhooks", headers=workspace.auth("admin"))
        ).json()["webhooks"]
    assert sorted(w["format"] for w in listed) == ["discord", "json"]
    events = {w["format"]: w["events"] for w in listed}
    assert events["discord"] == ["order.status_changed", "order.updated", "order.item_done"]
    assert events["json"] == ["order.created", "order.status_changed", "order.updated"]
    assert receiver.events[-1]["event"] == "webhook.test"
