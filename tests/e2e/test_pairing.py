"""Screen pairing in a real browser: a screen with no credentials shows a code and a QR code, an
owner approves it (CLI or the owner page), the screen goes live with its own token, and a
revoked screen is back to a code within 2 s."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from support.browser import Browser, browser, wait_live
from support.processes import cli
from support.server import Workspace

pytestmark = pytest.mark.browser

# requireSession() stops a page's module this way when it sends the screen to pairing
REDIRECTED = "not signed in"
CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{3}-[BCDFGHJKLMNPQRSTVWXZ]{3}$")


async def shown_code(b: Browser) -> str:
    """The code the pairing page shows once it has one (letters only), its QR code drawn."""
    from playwright.async_api import expect

    await expect(b.page).to_have_url(re.compile(r"/pair\.html"), timeout=5000)
    code = b.page.locator("#code")
    await expect(code).to_have_text(CODE, timeout=5000)
    qr = b.page.locator("#qr")
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
    return (await code.inner_text()).replace("-", "")


async def owner_page(b: Browser, base: str, path: str) -> Browser:
    """A second browser context in the same Chromium: the owner's phone, sharing no storage."""
    context = await b.page.context.browser.new_context(base_url=base)
    owner = Browser(await context.new_page())
    await owner.page.goto(path)
    return owner


async def unlock(owner: Browser, admin_key: str) -> None:
    from playwright.async_api import expect

    await owner.page.fill('#unlock input[name="adminKey"]', admin_key)
    await owner.page.click('#unlock button[type="submit"]')
    await expect(owner.page.locator("#owner-tools")).to_be_visible(timeout=3000)


async def test_pairing_by_cli_goes_live_with_its_token_then_revoked(
    site: Any, workspace: Workspace, redis_url: str
) -> None:
    """A kitchen opened with no credentials shows a code; `orderlog screen pair` approves it; the
    kitchen goes live with its own token (no key in any URL), bumps with it, and `orderlog screen
    revoke` sends it back to a new code."""
    from playwright.async_api import expect

    base, api = site
    order = await api.create(status="waiting_for_preparation")
    async with browser(base) as b:
        urls: list[str] = []
        b.page.on("request", lambda req: urls.append(req.url))
        await b.page.goto("/kitchen.html")
        code = await shown_code(b)
        paired = await asyncio.to_thread(
            cli,
            *("screen", "pair", code.lower(), "--workspace", workspace.id),
            *("--role", "kitchen", "--bump", "--label", "Grill TV"),
            redis_url=redis_url,
        )
        assert paired["label"] == "Grill TV"
        await expect(b.page).to_have_url(re.compile(r"/kitchen\.html$"), timeout=5000)
        await wait_live(b)
        token = await b.page.evaluate("localStorage.getItem('orderlog.readKey')")
        assert token.startswith("ols_")
        assert await b.page.evaluate("localStorage.getItem('orderlog.writeKey')") == token
        tile = b.page.locator(f'.tile[data-order="{order["id"]}"]')
        await tile.locator("button.bump").click()
        await api.until_status(order["id"], "preparing")
        listed = await asyncio.to_thread(cli, "screen", "list", workspace.id, redis_url=redis_url)
        assert [s["label"] for s in listed["screens"]] == ["Grill TV"]
        assert listed["screens"][0]["last_seen"]
        await asyncio.to_thread(cli, "screen", "revoke", paired["screen_id"], redis_url=redis_url)
        # the CLI writes Redis directly: the server notices within its key cache (1 s) plus
        # its live key check (1 s)
        await expect(b.page.locator("#code")).to_have_text(CODE, timeout=3000)
        assert await b.page.evaluate("localStorage.getItem('orderlog.readKey')") is None
        assert (await b.page.locator("#code").inner_text()).replace("-", "") != code
        assert all(token not in u for u in urls)
        assert set(b.errors) <= {REDIRECTED}


async def test_pairing_on_the_owner_page_then_revoked_there(
    site: Any, workspace: Workspace
) -> None:
    """The owner opens the page the QR code leads to (code filled in), unlocks it with the admin
    key, pairs the screen as a board; the board goes live, the owner sees it listed with its
    last-seen time, revokes it, and the screen shows a code again within 2 s."""
    from playwright.async_api import expect

    base, api = site
    async with browser(base) as screen:
        await screen.page.goto("/board.html")
        code = await shown_code(screen)
        owner = await owner_page(screen, base, f"/index.html?pair={code}#pair")
        await expect(owner.page.locator('#pair-form input[name="code"]')).to_have_value(code)
        await unlock(owner, workspace.keys["admin"])
        await owner.page.select_option('#pair-form select[name="role"]', "board")
        await expect(owner.page.locator('#pair-form input[name="station"]')).to_be_hidden()
        await owner.page.fill('#pair-form input[name="label"]', "Front TV")
        await owner.page.click('#pair-form button[type="submit"]')
        await expect(owner.page.locator("#pair-status")).to_contain_text("Paired: Front TV")
        await expect(screen.page).to_have_url(re.compile(r"/board\.html$"), timeout=5000)
        await wait_live(screen)
        order = await api.create(status="waiting_for_preparation")
        await expect(screen.page.locator(f'[data-order="{order["id"]}"]')).to_be_visible()
        row = owner.page.locator("#screens tbody tr", has_text="Front TV")
        await expect(row).to_contain_text("Status board")
        await owner.page.reload()  # last seen shows once the screen has used its token
        await unlock(owner, workspace.keys["admin"])
        await expect(row.locator("td").nth(3)).not_to_have_text(re.compile("never|waiting"))
        await row.locator("button.revoke").click()
        await expect(owner.page.locator("#pair-status")).to_contain_text("Revoked: Front TV")
        await expect(screen.page.locator("#code")).to_have_text(CODE, timeout=2000)
        await expect(owner.page.locator("#screens tbody tr")).to_have_count(0)
        assert set(screen.errors) <= {REDIRECTED}
        assert owner.errors == []


async def test_pairing_refuses_reused_and_expired_codes(
    site: Any, workspace: Workspace, redis: Any
) -> None:
    """A code works once: typed again it is refused with a message. An expired code is refused
    too, and the screen that showed it shows a new one by itself."""
    from playwright.async_api import expect

    base, _ = site
    async with browser(base) as screen:
        await screen.page.goto("/pickup.html")
        code = await shown_code(screen)
        owner = await owner_page(screen, base, "/index.html")
        await unlock(owner, workspace.keys["admin"])
        form = owner.page.locator("#pair-form")
        await form.locator('input[name="code"]').fill(code)
        await form.locator('select[name="role"]').select_option("pickup")
        await form.locator('button[type="submit"]').click()
        status = owner.page.locator("#pair-status")
        await expect(status).to_contain_text("Paired")
        await expect(screen.page).to_have_url(re.compile(r"/pickup\.html$"), timeout=5000)
        await form.locator('input[name="code"]').fill(code)
        await form.locator('button[type="submit"]').click()
        await expect(status).to_contain_text("No screen is showing this code")

        await screen.page.evaluate("localStorage.clear()")
        await screen.page.goto("/pickup.html")
        stale = await shown_code(screen)
        (key,) = await redis.keys(f"*pair:{{{stale}}}")
        await redis.pexpire(key, 1)
        await form.locator('input[name="code"]').fill(stale)
        await form.locator('button[type="submit"]').click()
        await expect(status).to_contain_text("No screen is showing this code")
        await expect(screen.page.locator("#status")).to_contain_text("expired", timeout=5000)
        fresh = (await screen.page.locator("#code").inner_text()).replace("-", "")
        assert CODE.match(f"{fresh[:3]}-{fresh[3:]}")
        assert fresh != stale
        assert set(screen.errors) <= {REDIRECTED}
