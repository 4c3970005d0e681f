"""What the browser tests share: Debian's Chromium (where it is, the flags it runs with here: no
sandbox as root, no background network on a closed machine; the skip, a failure under
ORDERLOG_REQUIRE_ALL=1, where it is missing), driven by Playwright; a page signed in by a kiosk
link; the running server's HTTP API as a till calls it; axe-core's accessibility check.
scripts/screenshots.py uses the first.

Every wait is Playwright's ``expect`` with a timeout (a bound, not a timed assertion) or a polling
loop under ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.server import Workspace, running_server

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
CUSTOMER = {"UserId": 1001, "Name": "PizzaNinja2012", "DisplayName": "Pizza Ninja"}
CASHIER = {"UserId": 7, "Name": "builderman"}


def need_chromium() -> None:
    """Skip the calling test without Chromium (fail in CI, where it must be installed)."""
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("ORDERLOG_REQUIRE_ALL") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class Browser:
    """One Chromium page plus what it did: dialogs opened and script errors raised."""

    def __init__(self, page: Any, base: str = "") -> None:
        self.page = page
        self.base = base
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    async def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()


@contextlib.asynccontextmanager
async def browser(
    base: str,
    *,
    viewport: dict[str, int] | None = None,
    locale: str = "en-US",
    args: list[str] | None = None,
) -> AsyncIterator[Browser]:
    """Chromium with one page on ``base``; ``args`` are extra Chromium flags."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *(args or [])])
        try:
            context = await chromium.new_context(
                base_url=base, viewport=viewport or {"width": 1280, "height": 800}, locale=locale
            )
            yield Browser(await context.new_page(), base)
        finally:
            await chromium.close()


async def open_page(b: Browser, ws: Workspace, page: str, *, write: bool = False) -> Any:
    """Open a page signed in through a kiosk link (#key=...&workspace=...)."""
    fragment = f"key={ws.keys['read']}&workspace={ws.id}"
    if write:
        fragment += f"&write={ws.keys['write']}"
    return await b.page.goto(f"/{page}#{fragment}")


async def another_screen(b: Browser, ws: Workspace, page: str, *, write: bool = False) -> Any:
    """A second screen: a page of its own browser context (its own localStorage, as another
    device has), signed in by a kiosk link like ``open_page``, and live."""
    from playwright.async_api import expect

    context = await b.page.context.browser.new_context(
        base_url=b.base, viewport={"width": 1280, "height": 800}
    )
    other = await context.new_page()
    other.on("pageerror", lambda exc: b.errors.append(str(exc)))
    fragment = f"key={ws.keys['read']}&workspace={ws.id}"
    if write:
        fragment += f"&write={ws.keys['write']}"
    await other.goto(f"/{page}#{fragment}")
    await expect(other.locator("#conn")).to_have_text("live", timeout=5000)
    return other


async def wait_live(b: Browser, within_ms: float = 5000) -> None:
    from playwright.async_api import expect

    await expect(b.page.locator("#conn")).to_have_text("live", timeout=within_ms)


async def settled_tiles(b: Browser, frames: int = 10) -> int:
    """How many kitchen tiles the page shows once it stops growing. A first render (or a turned
    page) adds a few new tiles a frame (kitchen.js: SPARE_PER_FRAME), so a count read too early
    is a page still filling; this waits until ``frames`` animation frames in a row show the
    same count (at most ~600 frames: a page that never settles fails the caller's next check)."""
    count: int = await b.page.evaluate(
        """async (frames) => {
            const count = () => document.querySelectorAll(".tile:not(.overflow)").length;
            let last = -1;
            let same = 0;
            for (let i = 0; i < 600 && same < frames; i++) {
                await new Promise(requestAnimationFrame);
                const now = count();
                same = now === last ? same + 1 : 0;
                last = now;
            }
            return last;
        }""",
        frames,
    )
    return count


class Api:
    """The HTTP API of the running server (real HTTP, as a till would call it)."""

    def __init__(self, base: str, ws: Workspace) -> None:
        self.http = httpx.AsyncClient(base_url=base + ws.base, timeout=10)
        self.ws = ws

    async def create(self, **body: Any) -> dict[str, Any]:
        payload = {"customer": CUSTOMER, "actor": CASHIER, "items": ["Latte"], **body}
        resp = await self.http.post("/orders", json=payload, headers=self.ws.auth())
        assert resp.status_code == 201, resp.text
        return resp.json()["order"]  # type: ignore[no-any-return]

    async def create_many(self, count: int, **body: Any) -> list[dict[str, Any]]:
        """``count`` orders in /batch requests of up to 100, oldest first."""
        op = {"op": "create", "customer": CUSTOMER, "items": ["Latte"], **body}
        out = []
        for start in range(0, count, 100):
            ops = [op] * min(100, count - start)
            resp = await self.http.post("/batch", json={"operations": ops}, headers=self.ws.auth())
            assert resp.status_code == 200, resp.text
            out += [r["order"] for r in resp.json()["results"]]
        return out

    async def move(self, order_id: str, status: str, **body: Any) -> dict[str, Any]:
        resp = await self.http.post(
            f"/orders/{order_id}/status", json={"status": status, **body}, headers=self.ws.auth()
        )
        assert resp.status_code == 200, resp.text
        return resp.json()["order"]  # type: ignore[no-any-return]

    async def mark(self, order_id: str, index: int, done: bool = True) -> dict[str, Any]:
        """Mark an item done (or not) as a till would."""
        resp = await self.http.post(
            f"/orders/{order_id}/items/{index}/done", json={"done": done}, headers=self.ws.auth()
        )
        assert resp.status_code == 200, resp.text
        return resp.json()["order"]  # type: ignore[no-any-return]

    async def priority(self, order_id: str, priority: str) -> dict[str, Any]:
        resp = await self.http.post(
            f"/orders/{order_id}/priority", json={"priority": priority}, headers=self.ws.auth()
        )
        assert resp.status_code == 200, resp.text
        return resp.json()["order"]  # type: ignore[no-any-return]

    async def settings(self, **changes: Any) -> None:
        resp = await self.http.patch("/settings", json=changes, headers=self.ws.auth("admin"))
        assert resp.status_code == 200, resp.text

    async def get(self, order_id: str) -> dict[str, Any]:
        resp = await self.http.get(f"/orders/{order_id}", headers=self.ws.auth("read"))
        return resp.json()  # type: ignore[no-any-return]

    async def until_status(self, order_id: str, status: str) -> None:
        async with asyncio.timeout(5):
            while True:
                if (await self.get(order_id))["status"] == status:
                    return
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def served_site(settings: Any, workspace: Workspace) -> AsyncIterator[tuple[str, Api]]:
    """Real uvicorn on port 0 and its API for ``workspace``: (base URL, Api)."""
    async with running_server(settings) as base:
        api = Api(base, workspace)
        try:
            yield base, api
        finally:
            await api.http.aclose()


# WCAG 2.1 A and AA: what axe-core checks under these tags (its best-practice rules are not
# asked for; the one of them the pages keep, a single top-level heading, is checked directly).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def assert_accessible(page: Any) -> None:
    """axe-core (the copy bundled in axe-playwright-python: nothing is fetched) finds no WCAG
    2.1 A/AA violation on the page as it is now, and the page has one <h1>."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    assert results.violations_count == 0, results.generate_report()
    assert await page.locator("h1").count() == 1, "one top-level heading per page"
