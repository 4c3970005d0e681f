"""The dashboards redraw from the workspace's workflow when it changes (a real Chromium: the live
workflow.changed event, no reload by hand)."""

from __future__ import annotations

from typing import Any

import pytest

from support.api import BAKERY
from support.browser import browser, open_page, wait_live
from support.server import Workspace

pytestmark = pytest.mark.browser


async def test_board_redraws_its_columns_on_a_workflow_change(
    site: Any, workspace: Workspace
) -> None:
    """An open board gets the new workflow's columns within seconds of a PUT /workflow, with
    the order it moved in its new column, and stays live."""
    from playwright.async_api import expect

    base, api = site
    order = await api.create(status="waiting_for_preparation")
    await api.move(order["id"], "preparing")
    async with browser(base) as b:
        await open_page(b, workspace, "board.html")
        await wait_live(b)
        card = f'[data-order="{order["id"]}"]'
        await expect(b.page.locator(f'[data-status="preparing"] {card}')).to_be_visible(
            timeout=5000
        )
        resp = await api.http.put(
            "/workflow",
            headers=workspace.auth("admin"),
            json={**BAKERY, "migrate": {"preparing": "baking"}},
        )
        assert resp.status_code == 200, resp.text
        await expect(b.page.locator(f'[data-status="baking"] {card}')).to_be_visible(timeout=5000)
        await expect(b.page.locator('section[data-status="preparing"]')).to_have_count(0)
        await wait_live(b)
        fresh = await api.create(status="waiting_for_preparation")
        await api.move(fresh["id"], "baking")
        moved = b.page.locator(f'[data-status="baking"] [data-order="{fresh["id"]}"]')
        await expect(moved).to_be_visible(timeout=5000)
        assert b.errors == []


async def test_kitchen_follows_a_workflow_change(site: Any, workspace: Workspace) -> None:
    """The kitchen screen shows the kitchen statuses the workflow has: back to the default
    workflow (its baking orders moved to preparing), the open screen shows preparing tickets."""
    from playwright.async_api import expect

    base, api = site
    admin = workspace.auth("admin")
    assert (await api.http.put("/workflow", headers=admin, json=BAKERY)).status_code == 200
    order = await api.create(status="waiting_for_preparation")
    await api.move(order["id"], "baking")
    async with browser(base) as b:
        await open_page(b, workspace, "kitchen.html")
        await wait_live(b)
        tile = b.page.locator(f'[data-order="{order["id"]}"]')
        await expect(b.page.locator("#kitchen-stats")).to_have_text("0 open", timeout=5000)
        resp = await api.http.request(
            "DELETE", "/workflow", headers=admin, json={"migrate": {"baking": "preparing"}}
        )
        assert resp.status_code == 200, resp.text
        await expect(tile).to_be_visible(timeout=5000)
        await expect(tile).to_have_attribute("data-status", "preparing")
        assert b.errors == []
