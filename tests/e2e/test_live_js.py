"""static/js/live.js in a real Chromium against a real server: snapshot, events, resume."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from support.browser import ARGS, CHROMIUM, need_chromium
from support.server import Workspace

pytestmark = pytest.mark.browser

CUSTOMER = {"UserId": 3141592653, "Name": "Alice"}


@pytest.fixture
async def page(server: str) -> AsyncIterator[Any]:
    need_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            # wait_for_function polls with eval, which the app's CSP (no 'unsafe-eval') blocks;
            # the CSP itself is tested in test_dashboards.py.
            pg = await browser.new_page(bypass_csp=True)
            await pg.goto(f"{server}/js/live.js")  # any page of the server: same origin
            yield pg
        finally:
            await browser.close()


START = """async ([workspace, key]) => {
  const { LiveOrders } = await import("/js/live.js");
  window.states = [];
  window.snapshots = 0;
  window.live = new LiveOrders({
    workspace, key,
    onState: (s) => window.states.push(s),
    onChange: (orders, change) => { if (change.type === "snapshot") window.snapshots++; },
  }).start();
}"""


async def wait_for(page: Any, expression: str) -> Any:
    async with asyncio.timeout(10):
        return await page.wait_for_function(expression)


async def test_live_js_keeps_the_board_across_a_reconnect(
    page: Any, server: str, workspace: Workspace
) -> None:
    """live.js gets a ticket, shows the snapshot, applies events, and after its socket drops
    resumes from its cursor with the changes made meanwhile."""
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:

        async def create() -> str:
            resp = await client.post(
                f"{workspace.base}/orders",
                headers=workspace.auth(),
                json={"customer": CUSTOMER, "items": ["Latte"]},
            )
            assert resp.status_code == 201, resp.text
            return resp.json()["id"]  # type: ignore[no-any-return]

        first = await create()
        await page.evaluate(START, [workspace.id, workspace.keys["read"]])
        await wait_for(page, f"window.live.orders.has('{first}')")
        second = await create()
        await wait_for(page, f"window.live.orders.has('{second}')")
        await page.evaluate("window.live.socket.close()")  # a network drop, as the page sees it
        await wait_for(page, "window.live.state !== 'live'")
        resp = await client.post(
            f"{workspace.base}/orders/{first}/status",
            headers=workspace.auth(),
            json={"status": "completed"},
        )
        assert resp.status_code == 200, resp.text
        third = await create()
        await wait_for(page, f"window.live.orders.has('{third}')")
        await wait_for(page, f"!window.live.orders.has('{first}')")  # completed: off the board
        assert await page.evaluate("[...window.live.orders.keys()]") == [second, third]
        assert await page.evaluate("window.live.state") == "live"
        states = await page.evaluate("window.states")
        assert states[0] == "connecting"
        assert "reconnecting" in states
        assert await page.evaluate("window.snapshots") == 1  # resumed: no second snapshot
