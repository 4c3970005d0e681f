"""The kitchen display (and the other live pages) in real Chromium against real uvicorn: keyed
updates, bump-bar keys, pages, all-day counts, rush order, outages, the offline outbox, sound,
text size and accessibility (axe-core, WCAG 2.1 A/AA)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest

from support import screens
from support.browser import (
    Api,
    another_screen,
    assert_accessible,
    browser,
    open_page,
    settled_tiles,
    wait_live,
)
from support.faultproxy import FaultProxy
from support.server import Workspace, running_server

pytestmark = pytest.mark.browser

WAITING = "waiting_for_preparation"


def tile(page: Any, order: dict[str, Any]) -> Any:
    return page.locator(f'.tile[data-order="{order["id"]}"]')


async def focused(page: Any) -> str:
    """The focused element as "<its tile's order id> <its data-focus name>"."""
    return await page.evaluate(  # type: ignore[no-any-return]
        "`${document.activeElement.closest('[data-order]')?.dataset.order} "
        "${document.activeElement.dataset.focus}`"
    )


async def test_kitchen_live_update_touches_only_its_tile_and_keeps_focus(
    site: Any, workspace: Workspace
) -> None:
    """A live change re-renders only the tile it touches: the others stay the same DOM nodes,
    and a focused bump button keeps focus, even when its own tile is re-rendered."""
    from playwright.async_api import expect

    base, api = site
    a = await api.create(status=WAITING)
    b = await api.create(status=WAITING)
    async with browser(base) as br:
        await open_page(br, workspace, "kitchen.html", write=True)
        await wait_live(br)
        await expect(tile(br.page, b)).to_be_visible()
        # a mark on today's nodes: a re-rendered tile is a new node without it
        await br.page.evaluate("document.querySelectorAll('.tile').forEach(t => t.dataset.probe=1)")
        await tile(br.page, a).locator("button.bump").focus()
        new = await api.create(status=WAITING)
        await api.move(b["id"], "preparing")
        await expect(tile(br.page, new)).to_be_visible()
        await expect(tile(br.page, b)).to_have_attribute("data-status", "preparing")
        assert await tile(br.page, a).get_attribute("data-probe") == "1"
        assert await tile(br.page, b).get_attribute("data-probe") is None
        assert await focused(br.page) == f"{a['id']} bump"
        await api.move(a["id"], "preparing")  # the focused tile itself changes
        await expect(tile(br.page, a)).to_have_attribute("data-status", "preparing")
        assert await tile(br.page, a).get_attribute("data-probe") is None
        assert await focused(br.page) == f"{a['id']} bump"
        assert br.errors == []


async def test_kitchen_bump_answer_keeps_the_tile_and_the_next_bump_uses_its_version(
    site: Any, workspace: Workspace
) -> None:
    """A bump is drawn before the server answers; the answer (a new version that shows the
    same) keeps that tile, and its button then bumps the order as it is now: a second click
    moves it on, not a 409 for the version the tile was drawn with."""
    from playwright.async_api import expect

    base, api = site
    a = await api.create(status=WAITING)
    async with browser(base) as br:
        page = br.page
        await open_page(br, workspace, "kitchen.html", write=True)
        await wait_live(br)
        answer = asyncio.Event()  # the server's answer to the first bump waits for this

        async def hold(route: Any) -> None:
            await answer.wait()
            await route.continue_()

        await page.route("**/status", hold)
        await tile(page, a).locator("button.bump").click()
        await expect(tile(page, a)).to_have_attribute("data-status", "preparing")
        probe = f"document.querySelector('.tile[data-order=\"{a['id']}\"]').dataset.probe = 1"
        await page.evaluate(probe)  # on the tile drawn before the answer
        answer.set()
        await api.until_status(a["id"], "preparing")
        await expect(tile(page, a).locator(".queued-note")).to_be_hidden()
        await page.wait_for_timeout(300)  # the live event of the bump, if still on its way
        assert await tile(page, a).get_attribute("data-probe") == "1"
        await page.unroute("**/status", hold)
        await tile(page, a).locator("button.bump").click()
        await api.until_status(a["id"], "waiting_for_pickup")
        await expect(tile(page, a)).to_have_count(0)
        await expect(page.locator("#error")).to_have_count(0)
        assert br.errors == []


async def test_kitchen_bump_bar_keys_select_bump_recall_and_cancel(
    site: Any, workspace: Workspace
) -> None:
    """Arrows move the selection ring, Enter bumps the selected ticket, 3 bumps the third,
    R recalls the last bump, and C cancels only when pressed twice."""
    from playwright.async_api import expect

    base, api = site
    orders = [await api.create(status=WAITING) for _ in range(3)]
    async with browser(base) as br:
        page = br.page
        await open_page(br, workspace, "kitchen.html", write=True)
        await wait_live(br)
        first, second, third = (tile(page, o) for o in orders)
        await expect(first).to_have_class(re.compile(r"\bselected\b"))
        await page.keyboard.press("ArrowRight")
        await expect(second).to_have_class(re.compile(r"\bselected\b"))
        await expect(first).not_to_have_class(re.compile(r"\bselected\b"))
        await page.keyboard.press("Enter")
        await api.until_status(orders[1]["id"], "preparing")
        await page.keyboard.press("3")
        await api.until_status(orders[2]["id"], "preparing")
        await expect(third).to_have_attribute("data-status", "preparing")
        await expect(page.locator(f'button.recall[data-order="{orders[2]["id"]}"]')).to_be_visible()
        await page.keyboard.press("r")
        await api.until_status(orders[2]["id"], WAITING)
        await expect(third).to_have_attribute("data-status", WAITING)
        await page.keyboard.press("ArrowLeft")
        await expect(first).to_have_class(re.compile(r"\bselected\b"))
        await page.keyboard.press("c")
        await expect(first.locator("button.cancel")).to_have_text("Confirm cancel")
        await expect(first.locator(".confirm-hint")).to_have_text("Press C again to cancel")
        assert (await api.get(orders[0]["id"]))["status"] == WAITING
        await page.keyboard.press("c")
        await api.until_status(orders[0]["id"], "cancelled")
        await expect(first).to_have_count(0)
        assert br.errors == []


async def test_kitchen_key_map_is_a_screen_setting_shown_by_question_mark(
    site: Any, workspace: Workspace
) -> None:
    """? shows every key; a key changed there is kept by this screen (after a reload, B bumps)
    and Restore puts the defaults back."""
    from playwright.async_api import expect

    base, api = site
    order = await api.create(status=WAITING)
    async with browser(base) as br:
        page = br.page
        await open_page(br, workspace, "kitchen.html", write=True)
        await wait_live(br)
        await expect(tile(page, order)).to_be_visible()
        await page.keyboard.press("?")
        dialog = page.locator("dialog#keys")
        await expect(dialog).to_be_visible()
        bump_row = dialog.locator('tr[data-action="bump"]')
        await expect(bump_row.locator("kbd")).to_have_text("Enter")
        await expect(dialog.locator('tr[data-action="done"] kbd')).to_have_text("Space")
        await assert_accessible(page)  # the open dialog too
        await bump_row.locator("button.change-key").click()
        await page.keyboard.press("b")
        await expect(bump_row.locator("kbd")).to_have_text("B")
        await dialog.get_by_role("button", name="Close").click()
        await expect(dialog).to_be_hidden()
        await page.reload()
        await wait_live(br)
        await expect(tile(page, order)).to_have_class(re.compile(r"\bselected\b"))
        await page.keyboard.press("Enter")  # no longer bound
        await page.keyboard.press("b")
        await api.until_status(order["id"], "preparing")
        await page.keyboard.press("?")
        await dialog.get_by_role("button", name="Restore default keys").click()
        await expect(dialog.locator('tr[data-action="bump"] kbd')).to_have_text("Enter")
    history = (await api.get(order["id"]))["history"]
    assert [h["status"] for h in history] == [WAITING, "preparing"]  # Enter did nothing


async def test_kitchen_pages_say_how_many_more_and_page_by_key(
    site: Any, workspace: Workspace
) -> None:
    """30 tickets do not fit one screen: the page shows whole tiles only, says how many more,
    and PageDown / PageUp (or the auto-advance setting) turn pages."""
    from playwright.async_api import expect

    base, api = site
    orders = await api.create_many(30, status=WAITING)
    async with browser(base) as br:
        page = br.page
        await open_page(br, workspace, "kitchen.html", write=True)
        await wait_live(br)
        visible = page.locator(".tile:not(.overflow)")
        await expect(visible.first).to_have_attribute("data-number", "1")
        shown = await settled_tiles(br)  # (the first page fills over a few frames)
        assert 1 < shown < 30
        await expect(page.locator("#more")).to_have_text(f"{30 - shown} more")
        box = await page.locator("#tiles").bounding_box()
        for i in range(shown):  # every tile shown fits the screen entirely
            rect = await visible.nth(i).bounding_box()
            assert rect["y"] + rect["height"] <= box["y"] + box["height"] + 1
        await page.keyboard.press("PageDown")
        await expect(visible.first).to_have_attribute("data-number", str(shown + 1))
        await expect(page.locator("#page-info")).to_contain_text("Page 2")
        await expect(tile(page, orders[shown])).to_have_class(re.compile(r"\bselected\b"))
        await page.keyboard.press("PageUp")
        await expect(visible.first).to_have_attribute("data-number", "1")
        # auto-advance: a screen setting (the select offers 10 s and up; 2 s keeps this short)
        await page.evaluate(
            "localStorage.setItem('orderlog.screen.kitchen', JSON.stringify({autoPageSeconds: 2}))"
        )
        await page.reload()
        await expect(page.locator("#page-info")).to_contain_text("Page 2", timeout=8000)
        assert br.errors == []


async def test_kitchen_all_day_counts_follow_live_changes(site: Any, workspace: Workspace) -> None:
    """The all-day bar sums each item's quantity over the kitchen's open tickets (names matched
    without case) and follows new tickets and tickets leaving the kitchen."""
    from playwright.async_api import expect

    base, api = site
    first = await api.create(status=WAITING, items=[{"name": "Latte", "quantity": 2}, "Cookie"])
    await api.create(status="preparing", items=["latte", {"name": "Cookie", "quantity": 3}])
    await api.create(status="waiting_for_pickup", items=["Mocha"])  # not the kitchen's
    async with browser(base) as br:
        page = br.page
        await open_page(br, workspace, "kitchen.html")
        await wait_live(br)
        allday = page.locator("#allday li")
        await expect(allday).to_have_text(["Cookie ×4", "Latte ×3"])
        await api.create(status=WAITING, items=[{"name": "Mocha", "quantity": 2}])
        await expect(allday).to_have_text(["Cookie ×4", "Latte ×3", "Mocha ×2"])
        await api.move(first["id"], "preparing")  # still in the kitchen: no change
        await api.move(first["id"], "waiting_for_pickup")
        await expect(allday).to_have_text(["Cookie ×3", "Mocha ×2", "latte ×1"])  # as spelt now


async def test_kitchen_rush_first_and_done_items_struck(site: Any, workspace: Workspace) -> None:
    """An order created as rush is the first tile and marked RUSH, ahead of older ones (on the
    board too), and one made rush later moves up; an item marked done is struck through and
    left out of the all-day counts."""
    from playwright.async_api import expect

    base, api = site
    old = await api.create(status=WAITING, items=["Tea"])
    done = await api.create(status=WAITING, items=["Bagel", "Tea"])
    rush = await api.create(status=WAITING, items=["Cocoa"], priority="rush")
    await api.mark(done["id"], 0)
    async with browser(base) as br:
        page = br.page
        await open_page(br, workspace, "kitchen.html")
        await wait_live(br)
        tiles = page.locator(".tile")
        await expect(tiles).to_have_count(3)
        await expect(tiles.first).to_have_attribute("data-order", rush["id"])
        await expect(tiles.first.locator(".rush-flag")).to_have_text("RUSH")
        await expect(tiles.nth(1)).to_have_attribute("data-order", old["id"])
        bagel = tile(page, done).locator("li").first
        await expect(bagel).to_have_class("done")
        await expect(bagel).to_contain_text("(done)")
        await expect(page.locator("#allday li")).to_have_text(["Tea ×2", "Cocoa ×1"])
        await assert_accessible(page)
        await api.priority(done["id"], "rush")  # rush too, and older than the first rush
        await expect(tiles.first).to_have_attribute("data-order", done["id"])
        await expect(tiles.nth(1)).to_have_attribute("data-order", rush["id"])
        board = await another_screen(br, workspace, "board.html")
        cards = board.locator(".card.rush")
        await expect(cards).to_have_count(2)
        await expect(cards.first).to_have_attribute("data-order", done["id"])
        await expect(cards.locator(".rush-flag")).to_have_text(["RUSH", "RUSH"])
        await expect(board.locator(f'.card[data-order="{done["id"]}"] li').first).to_have_class(
            "done"
        )
        assert br.errors == []


async def test_kitchen_item_done_marks_show_on_every_screen(
    site: Any, workspace: Workspace
) -> None:
    """Space on one kitchen screen marks the selected ticket's next item done through the server
    (with an Idempotency-Key; a history entry); another kitchen screen and the board strike it
    through live; a tap on the item there takes the mark back; a recall of a bump clears every
    mark."""
    from playwright.async_api import expect

    base, api = site
    order = await api.create(status=WAITING, items=["Bagel", "Tea"])
    sent: list[Any] = []
    async with browser(base) as br:
        page = br.page
        page.on("request", lambda r: "/items/" in r.url and sent.append(r))
        await open_page(br, workspace, "kitchen.html", write=True)
        await wait_live(br)
        other = await another_screen(br, workspace, "kitchen.html", write=True)
        board = await another_screen(br, workspace, "board.html")
        await expect(tile(page, order)).to_have_class(re.compile(r"\bselected\b"))
        await page.keyboard.press(" ")
        await expect(tile(other, order).locator("li").first).to_have_class("done")
        await expect(board.locator(f'.card[data-order="{order["id"]}"] li').first).to_have_class(
            "done"
        )
        await expect(tile(page, order).locator("li").first).to_have_class("done")
        (request,) = sent
        assert request.url.endswith(f"/orders/{order['id']}/items/0/done")
        assert request.post_data_json == {"done": True}
        assert request.headers["idempotency-key"]
        last = (await api.get(order["id"]))["history"][-1]
        assert (last["item"], last["done"], last["status"]) == (0, True, WAITING)
        await tile(other, order).locator("button.item-toggle").first.click()
        await expect(tile(page, order).locator("li").first).not_to_have_class("done")
        # a bump, an item marked, then R: the bump is undone and the marks with it
        await page.keyboard.press("Enter")
        await expect(tile(page, order)).to_have_attribute("data-status", "preparing")
        # the bump is drawn before the server answers; a ticket takes no mark while its bump is
        # on its way
        await expect(tile(page, order).locator(".queued-note")).to_be_hidden()
        await page.keyboard.press(" ")
        await expect(tile(other, order).locator("li").first).to_have_class("done")
        await page.keyboard.press("r")
        await expect(tile(other, order)).to_have_attribute("data-status", WAITING)
        await expect(tile(other, order).locator("li.done")).to_have_count(0)
        got = await api.get(order["id"])
        assert [i["done"] for i in got["items"]] == [False, False]
        # the order's page tells the marks apart from the status changes
        await page.goto(f"/order.html?id={order['id']}")
        timeline = page.locator("#timeline li .what")
        await expect(timeline).to_have_text(
            [
                "Created as Waiting",
                "Bagel done",
                "Bagel not done",
                "Waiting → Preparing",
                "Bagel done",
                "Preparing → Waiting",
            ]
        )
        await expect(page.locator("#order-priority")).to_have_text("Normal")
        assert br.errors == []


async def test_kitchen_station_screen_shows_and_finishes_its_items(
    site: Any, workspace: Workspace
) -> None:
    """With drinks mapped to a station, kitchen.html?station=drinks shows only the tickets with
    drinks, only their drinks, and counts only those; each ticket says which stations it needs;
    the station's bump marks the ticket's drinks done (it leaves the drinks screen, the screen of
    every station ticks drinks), and R takes that back. It offers no cancel (that would end the
    order for every station): no button, C does nothing, and `?` does not list it."""
    from playwright.async_api import expect

    base, api = site
    stations = {"default": "kitchen", "items": {"drinks": ["Latte", "*tea"]}}
    await api.settings(stations=stations)
    both = await api.create(status=WAITING, items=["Latte", "Bagel"])
    await api.create(status=WAITING, items=["Bagel"])
    tea = await api.create(status=WAITING, items=[{"name": "Iced Tea", "quantity": 2}])
    async with browser(base) as br:
        page = br.page
        await open_page(br, workspace, "kitchen.html?station=drinks", write=True)
        await wait_live(br)
        await expect(page.locator("h1")).to_have_text("Kitchen · drinks")
        tiles = page.locator(".tile")
        await expect(tiles).to_have_count(2)
        await expect(tiles.first).to_have_attribute("data-order", both["id"])
        await expect(tile(page, both).locator(".items li")).to_have_text(["1× Latte"])
        await expect(tile(page, tea).locator(".items li")).to_have_text(["2× Iced Tea"])
        await expect(page.locator("#allday li")).to_have_text(["Iced Tea ×2", "Latte ×1"])
        await expect(tile(page, both).locator(".station")).to_have_text(["drinks", "kitchen"])
        expo = await another_screen(br, workspace, "kitchen.html")
        await expect(expo.locator(".tile")).to_have_count(3)
        await expect(tile(page, both)).to_have_class(re.compile(r"\bselected\b"))
        await expect(page.locator("button.cancel")).to_have_count(0)
        await expect(tile(page, both).locator("button.bump")).to_have_text("✓ Done (drinks)")
        await page.keyboard.press("c")
        await page.keyboard.press("c")
        await expect(tile(page, both).locator(".confirm-hint")).to_have_count(0)
        await page.keyboard.press("?")
        await expect(page.locator("#keys tr[data-action]").first).to_be_visible()
        await expect(page.locator('#keys tr[data-action="cancel"]')).to_have_count(0)
        await expect(page.locator('#keys tr[data-action="bump"]')).to_have_count(1)
        await page.keyboard.press("Escape")
        await expect(page.locator("#keys")).to_be_hidden()
        await page.keyboard.press("Enter")
        await expect(tile(page, both)).to_have_count(0)
        drinks = tile(expo, both).locator('.station[data-station="drinks"]')
        await expect(drinks).to_have_class(re.compile(r"\bdone\b"))
        await expect(drinks).to_have_text("✓ drinks (done)")
        got = await api.get(both["id"])
        assert (got["status"], [i["done"] for i in got["items"]]) == (WAITING, [True, False])
        await expect(page.locator("button.recall")).to_have_count(1)
        await page.keyboard.press("r")
        await expect(tile(page, both)).to_be_visible()
        await expect(drinks).not_to_have_class(re.compile(r"\bdone\b"))
        got = await api.get(both["id"])
        assert [i["done"] for i in got["items"]] == [False, False]
        assert [h.get("done") for h in got["history"][-2:]] == [True, False]
        await assert_accessible(page)
        assert br.errors == []


async def test_kitchen_paired_station_screen_opens_its_station(
    site: Any, workspace: Workspace
) -> None:
    """A kitchen screen paired with a station shows that station's items without ?station=
    in its address, and keeps its own screen settings (text size) apart from the others'."""
    from playwright.async_api import expect

    base, api = site
    await api.settings(stations={"default": "grill", "items": {"Drinks": ["latte"]}})
    latte = await api.create(status=WAITING, items=["Latte"])
    await api.create(status=WAITING, items=["Burger"])
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        pairing = await screens.paired(http, workspace, station="drinks", can_bump=True)
    async with browser(base) as br:
        page = br.page
        await page.goto("/pair.html")
        await page.evaluate(
            """(p) => {
                localStorage.setItem("orderlog.workspace", p.workspace_id);
                localStorage.setItem("orderlog.readKey", p.token);
                localStorage.setItem("orderlog.writeKey", p.token);
                localStorage.setItem("orderlog.screen", JSON.stringify(p.screen));
            }""",
            pairing,
        )
        await page.goto("/kitchen.html")
        await wait_live(br)
        await expect(page.locator("h1")).to_have_text("Kitchen · drinks")
        await expect(page.locator(".tile")).to_have_count(1)
        await expect(tile(page, latte)).to_be_visible()
        await page.keyboard.press("?")
        await page.select_option("#size", "L")
        keys = await page.evaluate("Object.keys(localStorage)")
        assert "orderlog.screen.kitchen.drinks" in keys
        assert "orderlog.screen.kitchen" not in keys
        assert br.errors == []


async def test_kitchen_station_chimes_only_for_its_new_tickets(
    site: Any, workspace: Workspace
) -> None:
    """A station's screen plays the new-ticket chime for a new ticket with its items, never for
    one without."""
    from playwright.async_api import expect

    base, api = site
    await api.settings(stations={"default": "kitchen", "items": {"drinks": ["latte"]}})
    async with browser(base) as br:
        page = br.page
        await open_page(br, workspace, "kitchen.html?station=drinks")
        await wait_live(br)
        await page.locator("#sound").click()
        await expect(page.locator("#sound")).to_have_text("Sound: on")
        await api.create(status=WAITING, items=["Bagel"])
        latte = await api.create(status=WAITING, items=["Latte"])
        # events arrive in order: once the latte's tile is drawn, the bagel's was handled
        await expect(tile(page, latte)).to_be_visible()
        body = page.locator("body")
        await expect(body).to_have_attribute("data-last-sound", "new")
        assert await body.get_attribute("data-sounds") == "1"
        assert await page.locator(".tile").count() == 1


async def test_kitchen_allergen_notes_in_a_red_banner(site: Any, workspace: Workspace) -> None:
    """Item notes that mention one of the workspace's allergen words (a plural too, never a
    word inside another: "nutmeg") are shown in a red banner on the ticket, apart from ordinary
    notes; the words are the workspace's setting, and a quiet screen redraws by new words when
    it reads the settings again."""
    from playwright.async_api import expect

    base, api = site
    nuts = await api.create(
        status=WAITING, items=[{"name": "Brownie", "notes": "PEANUTS - severe"}, "Latte"]
    )
    plain = await api.create(status=WAITING, items=[{"name": "Latte", "notes": "oat, nutmeg"}])
    async with browser(base) as br:
        page = br.page
        await open_page(br, workspace, "kitchen.html")
        await wait_live(br)
        banner = tile(page, nuts).locator(".allergen")
        await expect(banner).to_have_text("⚠ Allergy: Brownie: PEANUTS - severe")
        await expect(tile(page, plain).locator(".notes")).to_have_text("oat, nutmeg")
        await expect(tile(page, plain).locator(".allergen")).to_have_count(0)
        await assert_accessible(page)
        # the screen reads the settings again every five minutes; with no order changing, that
        # read alone redraws the tiles by the new words
        await api.settings(allergen_words=["oat"])
        await page.evaluate("import('/js/common.js').then((m) => m.refreshSettings())")
        await expect(tile(page, plain).locator(".allergen")).to_have_text(
            "⚠ Allergy: Latte: oat, nutmeg"
        )
        await expect(tile(page, nuts).locator(".allergen")).to_have_count(0)
        assert br.errors == []


async def test_kitchen_silent_drop_shows_banner_and_replays_queued_bumps_once(
    settings: Any, redis: Any, workspace: Workspace
) -> None:
    """A link that goes silent (a proxy that stops forwarding, no close) brings up the banner
    and dims the tickets within 10 s; bumps pressed meanwhile wait on the screen with a count,
    and once the link is back they are sent in order, each changing the order exactly once,
    with an Idempotency-Key; the banner and count go away. A queued bump of a ticket changed
    elsewhere meanwhile is refused, and the screen says so in words."""
    from playwright.async_api import expect

    async with running_server(settings) as base:
        proxy = await FaultProxy("127.0.0.1", int(base.rsplit(":", 1)[1])).start()
        api = Api(base, workspace)
        a = await api.create(status=WAITING)
        b = await api.create(status=WAITING)
        c = await api.create(status=WAITING)
        posted: list[tuple[str, str | None]] = []
        try:
            async with browser(f"http://127.0.0.1:{proxy.port}") as br:
                page = br.page
                page.on(
                    "request",
                    lambda r: (
                        r.method == "POST"
                        and "/status" in r.url
                        and posted.append((r.url, r.headers.get("idempotency-key")))
                    ),
                )
                await open_page(br, workspace, "kitchen.html", write=True)
                await wait_live(br)
                await expect(tile(page, b)).to_be_visible()
                banner = page.locator("#outage")
                await expect(banner).to_be_hidden()
                proxy.set_mode("blackhole")
                await expect(banner).to_be_visible(timeout=10_000)
                await expect(banner).to_contain_text("Connection lost: retrying")
                await expect(page.locator("body")).to_have_class(re.compile(r"\bnot-live\b"))
                await api.move(c["id"], "preparing")  # another screen, meanwhile
                for key in "123":
                    await page.keyboard.press(key)
                pending = page.locator("#pending")
                await expect(pending).to_have_text("3 actions waiting to send")
                await expect(tile(page, a).locator(".queued-note")).to_contain_text("Queued")
                assert (await api.get(a["id"]))["status"] == WAITING
                assert posted == []
                proxy.set_mode("pass")
                await expect(banner).to_be_hidden(timeout=15_000)
                await expect(pending).to_be_hidden(timeout=10_000)
                await api.until_status(a["id"], "preparing")
                await api.until_status(b["id"], "preparing")
                await expect(page.locator("#error .error-text")).to_have_text(
                    f"#{c['order_number']} was not bumped: it was changed on another screen "
                    "meanwhile."
                )
                await expect(tile(page, c)).to_have_attribute("data-status", "preparing")
                assert br.errors == []
            for order in (a, b, c):
                history = (await api.get(order["id"]))["history"]
                assert [h["status"] for h in history] == [WAITING, "preparing"]
        finally:
            await proxy.stop()
            await api.http.aclose()
    assert [url.split("/orders/")[1] for url, _ in posted] == [
        f"{a['id']}/status",
        f"{b['id']}/status",
        f"{c['id']}/status",
    ]
    assert all(key for _, key in posted)


async def test_kitchen_bump_whose_reply_is_lost_is_retried_with_its_key(
    site: Any, workspace: Workspace
) -> None:
    """A bump the server applied but whose reply never arrived is retried with the same
    Idempotency-Key: the screen gets the first result and the order moves once."""
    from playwright.async_api import expect

    base, api = site
    order = await api.create(status=WAITING)
    keys: list[str] = []

    async def lose_first_reply(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            await route.fetch()  # the server applies it...
            await route.abort("connectionreset")  # ...and the reply is lost
        else:
            await route.continue_()

    async with browser(base) as br:
        page = br.page
        await page.route(re.compile(r"/orders/[^/]+/status$"), lose_first_reply)
        await open_page(br, workspace, "kitchen.html", write=True)
        await wait_live(br)
        await tile(page, order).locator("button.bump").click()
        await expect(tile(page, order)).to_have_attribute("data-status", "preparing")
        await expect(page.locator("#pending")).to_be_hidden()
        await expect(page.locator(f'button.recall[data-order="{order["id"]}"]')).to_be_visible()
        await expect(page.locator("#error")).to_have_count(0)
    assert len(keys) == 2
    assert keys[0] == keys[1]
    history = (await api.get(order["id"]))["history"]
    assert [h["status"] for h in history] == [WAITING, "preparing"]


async def test_kitchen_sound_button_tells_the_truth_and_late_beeps_repeat(
    site: Any, workspace: Workspace
) -> None:
    """Before a tap the browser holds audio back and the button says so; after one it is on.
    Tickets already late beep once together, and again at the screen's repeat interval."""
    from playwright.async_api import expect

    base, api = site
    await api.settings(age_warn_seconds=1, age_late_seconds=2)  # warn comes before late
    await api.create_many(3, status=WAITING)
    await asyncio.sleep(2.1)  # all three are late before the page opens
    async with browser(base) as br:
        page = br.page
        await open_page(br, workspace, "index.html")
        setting = json.dumps({"lateRepeatSeconds": 2})
        await page.evaluate(f"localStorage.setItem('orderlog.screen.kitchen', '{setting}')")
        await open_page(br, workspace, "kitchen.html")
        await wait_live(br)
        sound = page.locator("#sound")
        await expect(sound).to_have_text("Sound: blocked (tap to allow)")
        assert await page.locator("body").get_attribute("data-sounds") is None
        await sound.click()
        await expect(sound).to_have_text("Sound: on")
        body = page.locator("body")
        await expect(body).to_have_attribute("data-last-sound", "late", timeout=4000)
        repeated = re.compile(r"^([3-9]|\d\d)$")  # the first beep and at least two repeats
        await expect(body).to_have_attribute("data-sounds", repeated, timeout=8000)


async def test_sound_queue_plays_tunes_one_after_another(site: Any, workspace: Workspace) -> None:
    """sound.js never overlaps tunes: each starts when the one before ends, and a tune asked for
    while the same one still waits its turn is not queued twice."""
    base, _ = site
    async with browser(base) as br:
        await open_page(br, workspace, "index.html")
        result = await br.page.evaluate(
            """async () => {
                const { Sounds } = await import("/js/sound.js");
                const s = new Sounds({ muted: () => false });
                s.unlock();
                await s.context.resume();
                return [s.play("late"), s.play("late"), s.play("new"), s.play("late")];
            }"""
        )
    first, second, third, fourth = result
    assert second[0] >= first[1]
    assert third[0] >= second[1]
    assert fourth is None


async def test_text_size_is_a_setting_of_each_screen(site: Any, workspace: Workspace) -> None:
    """The kitchen's text size (S/M/L/XL) scales the page and is kept by the screen."""
    from playwright.async_api import expect

    base, _ = site
    async with browser(base) as br:
        page = br.page
        await open_page(br, workspace, "kitchen.html")
        await wait_live(br)
        await page.locator("#keys-button").click()  # the screen's dialog: settings and keys
        await page.locator("select#size").select_option("XL")
        html = page.locator("html")
        await expect(html).to_have_attribute("data-size", "XL")
        assert await page.evaluate("getComputedStyle(document.documentElement).fontSize") == "24px"
        await page.reload()
        await expect(html).to_have_attribute("data-size", "XL")
        await page.locator("#keys-button").click()
        await expect(page.locator("select#size")).to_have_value("XL")
        await open_page(br, workspace, "board.html")  # another screen, its own setting
        await expect(page.locator("html")).to_have_attribute("data-size", "M")


async def test_board_keeps_focus_and_scroll_across_live_updates(
    site: Any, workspace: Workspace
) -> None:
    """On the board a focused card link survives new cards arriving, and a scrolled column keeps
    showing the cards it showed (a card leaving above them does not move them on screen)."""
    from playwright.async_api import expect

    base, api = site
    orders = await api.create_many(25, status=WAITING)
    async with browser(base, viewport={"width": 1280, "height": 600}) as br:
        page = br.page
        await open_page(br, workspace, "board.html")
        await wait_live(br)
        card = page.locator(f'[data-order="{orders[10]["id"]}"]')
        await card.locator("a.num").focus()
        cards = f'[data-status="{WAITING}"] .cards'
        await page.evaluate(f"document.querySelector('{cards}').scrollTo(0, 700)")
        assert await page.evaluate(f"document.querySelector('{cards}').scrollTop") > 0
        shown = orders[7]["id"]  # a card in view after the scroll
        where = f"document.querySelector('[data-order=\"{shown}\"]').getBoundingClientRect().top"
        top = await page.evaluate(where)
        assert 0 < top < 600
        new = await api.create(status=WAITING)
        await api.move(orders[0]["id"], "preparing")
        await expect(page.locator(f'[data-order="{new["id"]}"]')).to_have_count(1)
        await expect(
            page.locator(f'[data-status="preparing"] [data-order="{orders[0]["id"]}"]')
        ).to_have_count(1)
        assert await focused(page) == f"{orders[10]['id']} link"
        assert abs(await page.evaluate(where) - top) <= 1


async def test_board_redraws_a_card_on_order_updated_like_any_event(
    site: Any, workspace: Workspace
) -> None:
    """An order.updated event (a handed_to order given to another recipient: same status, a
    higher version) re-renders that card like any other event; the other cards stay the same
    DOM nodes, and later events of the order still apply."""
    from playwright.async_api import expect

    base, api = site
    dana, eve = {"UserId": 9, "Name": "Dana"}, {"UserId": 2**53 + 1, "Name": "Eve"}
    order, other = await api.create_many(2, status=WAITING)
    for status in ("preparing", "waiting_for_pickup"):
        await api.move(order["id"], status)
    handed = await api.move(order["id"], "handed_to", handed_to=dana)
    async with browser(base) as br:
        page = br.page
        events: list[str] = []
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived",
                lambda frame: events.extend(re.findall(r'"event":"(order\.\w+)"', str(frame))),
            ),
        )
        await open_page(br, workspace, "board.html")
        await wait_live(br)
        card = page.locator(f'[data-status="handed_to"] [data-order="{order["id"]}"]')
        await expect(card).to_have_count(1)
        await page.evaluate("document.querySelectorAll('.card').forEach(c => c.dataset.probe=1)")
        updated = await api.move(order["id"], "handed_to", handed_to=eve)
        assert (updated["status"], updated["version"]) == ("handed_to", handed["version"] + 1)
        await expect(card).not_to_have_attribute("data-probe", "1")
        assert "order.updated" in events
        assert await page.get_attribute(f'[data-order="{other["id"]}"]', "data-probe") == "1"
        await api.move(order["id"], "completed")
        await expect(page.locator(f'[data-order="{order["id"]}"]')).to_have_count(0)
        assert br.errors == []


async def test_every_page_passes_axe_with_one_heading(site: Any, workspace: Workspace) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation on any page, with tickets of every age and
    state on screen (rush, an allergen banner, an item done, the stations line; a station's
    screen), the owner tools unlocked with a paired screen listed, and the pairing page showing
    its code; every page has one top-level heading."""
    from playwright.async_api import expect

    base, api = site
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        await screens.paired(http, workspace, station="grill", can_bump=True, label="Grill TV")
    await api.settings(
        age_warn_seconds=2,
        age_late_seconds=4,
        stations={"default": "kitchen", "items": {"drinks": ["latte"]}},
    )
    first = await api.create(
        status=WAITING,
        priority="rush",
        items=[{"name": "Latte", "notes": "oat milk"}, {"name": "Cake", "notes": "nut allergy"}],
    )
    await api.mark(first["id"], 0)
    await api.move(first["id"], "preparing")
    helping = await api.create(status=WAITING)
    await api.move(helping["id"], "preparing")
    await api.move(helping["id"], "finding_new_colleague")
    ready = await api.create(status=WAITING)
    await api.move(ready["id"], "waiting_for_pickup")
    await asyncio.sleep(4.1)  # late and warn tickets on screen
    await api.create(status=WAITING)
    pages = [
        ("kitchen.html", True),
        ("kitchen.html", False),
        ("kitchen.html?station=drinks", True),
        ("board.html", False),
        ("pickup.html", False),
        ("orders.html", False),
        (f"order.html?id={first['id']}", False),
        ("staff.html", False),
        ("index.html", False),
    ]
    async with browser(base) as br:
        for path, write in pages:
            await open_page(br, workspace, path, write=write)
            if path.split(".")[0] in ("kitchen", "board", "pickup"):
                await wait_live(br)
            await br.page.wait_for_load_state("networkidle")
            await expect(br.page.locator("h1")).to_have_count(1)
            await assert_accessible(br.page)
        # the owner tools, unlocked (index.html is the last page above)
        await br.page.fill('#unlock input[name="adminKey"]', workspace.keys["admin"])
        await br.page.click('#unlock button[type="submit"]')
        await expect(br.page.locator("#screens tbody tr")).to_have_count(1)
        await assert_accessible(br.page)
        # a screen with no credentials: the pairing page, its code and QR code shown
        await br.page.evaluate("localStorage.clear()")
        await br.page.goto("/pair.html?next=%2Fkitchen.html")
        await expect(br.page.locator("#code")).to_have_text(re.compile(r"^\w{3}-\w{3}$"))
        await expect(br.page.locator("h1")).to_have_count(1)
        await assert_accessible(br.page)
        assert br.errors == []


async def test_masonry_and_keyed_list_pure_parts(site: Any, workspace: Workspace) -> None:
    """masonry.js places each tile under the shortest column and ends the page at the first
    that does not fit (a tile taller than the box still shows); KeyedList moves the fewest
    elements (one moved to the end is one move) and keeps every untouched element."""
    base, _ = site
    async with browser(base) as br:
        await open_page(br, workspace, "index.html")
        result = await br.page.evaluate(
            """async () => {
                const { masonry } = await import("/js/masonry.js");
                const { KeyedList } = await import("/js/keyed.js");
                const fit = masonry([100, 50, 50, 80], { columns: 2, height: 200, gap: 10 });
                const short = masonry([100, 50, 50, 80], { columns: 2, height: 150, gap: 10 });
                const tall = masonry([300, 10], { columns: 1, height: 200 });
                const box = document.createElement("div");
                const list = new KeyedList(box, {
                    key: (x) => x.id, stamp: (x) => x.v,
                    render: (x) => Object.assign(document.createElement("p"), {textContent: x.id}),
                });
                const items = ["a", "b", "c", "d"].map((id) => ({ id, v: 1 }));
                list.update(items);
                const a = list.node("a");
                const rotated = list.update([...items.slice(1), items[0]]);
                const same = list.node("a") === a;
                const changed = list.update([{ id: "b", v: 2 }, items[2], items[3], items[0]]);
                const removed = list.update([items[2], items[0]]);
                return { fit, short, tall, rotated, same, changed, removed,
                         order: [...box.children].map((p) => p.textContent) };
            }"""
        )
    assert result["fit"] == {"count": 4, "places": [[0, 0], [1, 0], [1, 60], [0, 110]]}
    assert result["short"]["count"] == 3
    assert result["tall"] == {"count": 1, "places": [[0, 0]]}
    assert result["rotated"] == {"added": 0, "changed": 0, "removed": 0, "moved": 1}
    assert result["same"] is True
    assert result["changed"] == {"added": 0, "changed": 1, "removed": 0, "moved": 0}
    assert result["removed"] == {"added": 0, "changed": 0, "removed": 2, "moved": 0}
    assert result["order"] == ["c", "a"]


async def test_station_and_allergen_matching_pure_parts(site: Any, workspace: Workspace) -> None:
    """tickets.js: an item goes to the station listing its exact name (without case or extra
    blanks), else to the one whose pattern has the most characters besides "*" (then the first
    by name), else to the default; an order lists its stations with whether each is done;
    allergen words match whole words and their plurals, never a word inside another."""
    base, _ = site
    async with browser(base) as br:
        await open_page(br, workspace, "index.html")
        result = await br.page.evaluate(
            """async () => {
                const t = await import("/js/tickets.js");
                const stations = { default: "grill", items: {
                    drinks: ["*tea*", "latte", "*"],
                    bakery: ["tea cake", "cookie*"],
                    cold: ["iced tea*"],
                } };
                const names = ["Latte", "  LATTE ", "Tea cake", "Iced Tea Large", "Green tea",
                               "Cookie dough", "Burger"];
                const order = { items: [
                    { name: "Latte", done: true }, { name: "Burger", done: true },
                    { name: "Mocha" }, { name: "Burger" }] };
                const words = ["nut", "tree nut", "gluten"];
                const notes = ["Peanuts please", "NUTS!", "tree  nuts", "nutmeg", "no gluten",
                               "glutenfree", "donut"];
                return {
                    stations: names.map((n) => t.stationOf(n, stations)),
                    fallback: t.stationOf("Burger", { default: "grill", items: {} }),
                    order: t.orderStations(
                        order, { default: "grill", items: { drinks: ["latte", "mocha"] } }),
                    allergens: notes.map(
                        (n) => t.allergenItems({ items: [{ name: "x", notes: n }] }, words).length),
                    none: t.allergenItems({ items: [{ name: "x", notes: "nut" }] }, []).length,
                    same: t.sameStation(" Drinks", "drinks"),
                };
            }"""
        )
    assert result["stations"] == [
        "drinks",
        "drinks",
        "bakery",
        "cold",
        "drinks",
        "bakery",
        "drinks",  # "*" in drinks: the catch-all beats the default
    ]
    assert result["fallback"] == "grill"
    assert result["order"] == [
        {"station": "drinks", "done": False},
        {"station": "grill", "done": False},
    ]
    assert result["allergens"] == [0, 1, 1, 0, 1, 0, 0]  # "peanuts" is not the word "nut"
    assert result["none"] == 0
    assert result["same"] is True
