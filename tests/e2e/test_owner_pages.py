"""The owner pages in a real browser, at the screen sizes where they broke: sign-in checks keys
before keeping them, the staff page fits 1920 px and a phone, the orders page matches by prefix
and says when nothing matches, the settings refuse what cannot work."""

from __future__ import annotations

import re
from typing import Any

import pytest

from support.browser import CASHIER, assert_accessible, browser, open_page
from support.server import Workspace

pytestmark = pytest.mark.browser

KIOSK = 2  # a system actor id


async def no_sideways_scroll(page: Any) -> None:
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    viewport = await page.evaluate("window.innerWidth")
    assert width <= viewport, (width, viewport)


async def test_signin_checks_keys_before_keeping_them(
    site: Any, workspace: Workspace, state: Any
) -> None:
    """A mistyped key, a write key in the read field, and another workspace's key are each
    refused with their own message and nothing is stored; the right keys sign in."""
    from playwright.async_api import expect

    base, _ = site
    _, other = await state.workspaces.create_workspace("Other cafe")
    async with browser(base) as b:
        await b.page.goto("/index.html")
        form = b.page.locator("#signin")
        status = b.page.locator("#signin-status")
        cases = [
            (workspace.keys["read"][:-3], "", "This key is not valid"),
            (workspace.keys["write"], "", "That is a write key, not a read key"),
            (other["read"], "", "belongs to another workspace"),
            (workspace.keys["read"], workspace.keys["read"], "write key"),
        ]
        for read, write, message in cases:
            await form.locator('input[name="workspace"]').fill(workspace.id)
            await form.locator('input[name="readKey"]').fill(read)
            await form.locator('input[name="writeKey"]').fill(write)
            await form.locator('button[type="submit"]').click()
            await expect(status).to_contain_text(message)
            await expect(status).to_contain_text("Nothing was saved")
            assert await b.page.evaluate("Object.keys(localStorage)") == []
        await form.locator('input[name="readKey"]').fill(workspace.keys["read"])
        await form.locator('input[name="writeKey"]').fill(workspace.keys["write"])
        await form.locator('button[type="submit"]').click()
        await expect(b.page.locator("#who")).to_contain_text("with a write key")
        stored = await b.page.evaluate("localStorage.getItem('orderlog.writeKey')")
        assert stored == workspace.keys["write"]
        assert b.errors == []


async def test_staff_page_fits_1920_and_a_phone_and_ranks_people_only(
    site: Any, workspace: Workspace
) -> None:
    """With long flag lists (a cashier's burst of 120 orders) the staff page is no wider than a
    1920 px screen; the kiosk is listed apart, not ranked; on a phone the chart's labels are
    drawn at 12 px, not scaled down."""
    from playwright.async_api import expect

    base, api = site
    await api.http.patch(
        "/settings",
        json={"abuse_burst_count": 5, "abuse_burst_seconds": 3600},
        headers=workspace.auth("admin"),
    )
    ops = [{"op": "create", "customer": {"UserId": 50 + i, "Name": f"Guest{i}"}} for i in range(60)]
    for actor in (CASHIER, KIOSK):
        batch = [{**op, "actor": actor} for op in ops]
        resp = await api.http.post(
            "/batch", json={"operations": batch}, headers=workspace.auth("write")
        )
        assert resp.status_code == 200, resp.text
    await api.create(actor={"UserId": 9, "Name": "builderwoman"}, status="submitted")
    async with browser(base, viewport={"width": 1920, "height": 1080}) as b:
        await open_page(b, workspace, "staff.html")
        links = b.page.locator("#flags a")
        await expect(links).to_have_count(60, timeout=5000)  # the cashier's burst; no kiosk
        await no_sideways_scroll(b.page)
        board = b.page.locator("#leaderboard tbody tr")
        await expect(board).to_have_count(2)
        await expect(b.page.locator("#leaderboard")).not_to_contain_text("Kiosk")
        await expect(b.page.locator("#system-actors")).to_contain_text("Kiosk")
        await b.page.set_viewport_size({"width": 390, "height": 844})
        await no_sideways_scroll(b.page)
        label = b.page.locator(".chart svg text").last
        await expect(label).to_be_visible()
        size = await label.evaluate(
            "t => parseFloat(getComputedStyle(t).fontSize) * t.ownerSVGElement.getScreenCTM().a"
        )
        assert size >= 11.5, size
        assert b.errors == []


async def test_orders_prefix_search_hint_and_failed_search(site: Any, workspace: Workspace) -> None:
    """ "bloxy" finds BloxyCola and "Matcha" finds Matcha Latte; a note's word finds its order;
    a search that matches nothing says what to try; a search the server refuses clears the
    previous results; at 1024 px the date fields show their whole value."""
    from playwright.async_api import expect

    base, api = site
    await api.create(items=["BloxyCola"])
    await api.create(items=[{"name": "Matcha Latte", "notes": "oat milk"}])
    async with browser(base, viewport={"width": 1024, "height": 768}) as b:
        await open_page(b, workspace, "orders.html")
        rows = b.page.locator("#results tbody tr")
        await expect(rows).to_have_count(2, timeout=3000)
        form = b.page.locator("#search")
        searches = [("item", "bloxy", "BloxyCola"), ("item", "Matcha", "Matcha Latte")]
        searches.append(("q", "oat", "Matcha Latte"))
        for field, typed, found in searches:
            await form.locator("input").evaluate_all("fields => fields.forEach(f => f.value = '')")
            await form.locator(f'input[name="{field}"]').fill(typed)
            await form.locator('button[type="submit"]').click()
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_contain_text(found)
        await form.locator('input[name="q"]').fill("nothinglikethis")
        await form.locator('button[type="submit"]').click()
        await expect(rows).to_have_count(0)
        await expect(b.page.locator("#hint")).to_contain_text("match from their start")
        await form.locator('input[name="q"]').fill("")
        await form.locator('button[type="submit"]').click()
        await expect(rows).to_have_count(2)
        await form.locator('input[name="from"]').fill("2026-11-27T10:00")
        await form.locator('input[name="to"]').fill("2026-11-20T10:00")
        await form.locator('button[type="submit"]').click()
        await expect(b.page.locator("#error")).to_contain_text("Search failed")
        await expect(rows).to_have_count(0)
        await expect(b.page.locator("#count")).to_have_text("")
        await no_sideways_scroll(b.page)
        for name in ("from", "to"):
            fits = await form.locator(f'input[name="{name}"]').evaluate(
                """input => {
                    const probe = input.cloneNode();
                    probe.style.width = "max-content";
                    probe.style.minWidth = "0";
                    input.parentElement.append(probe);
                    const needed = probe.getBoundingClientRect().width;
                    probe.remove();
                    return input.getBoundingClientRect().width >= needed - 0.5;
                }"""
            )
            assert fits, name
        assert b.errors == []


async def test_settings_refuse_what_cannot_work(site: Any, workspace: Workspace) -> None:
    """A yellow age at or after the red age is refused on the page with a message and nothing
    is sent; a value the server refuses shows the server's message; nothing changed."""
    from playwright.async_api import expect

    base, api = site
    async with browser(base) as b:
        await open_page(b, workspace, "index.html")
        await b.page.fill('#unlock input[name="adminKey"]', workspace.keys["admin"])
        await b.page.click('#unlock button[type="submit"]')
        form = b.page.locator("#settings")
        status = b.page.locator("#settings-status")
        await form.locator('input[name="age_warn_seconds"]').fill("600")
        await form.locator('button[type="submit"]').click()
        await expect(status).to_contain_text("must turn yellow before it turns red")
        await expect(form.locator('input[name="age_warn_seconds"]')).to_have_attribute(
            "aria-invalid", "true"
        )
        await form.locator('input[name="age_warn_seconds"]').fill("300")
        await form.locator('input[name="age_late_seconds"]').fill("99999999")
        await form.locator('button[type="submit"]').click()
        await expect(status).to_contain_text(re.compile(r"Not saved: .*between 1 and 10000000"))
    resp = await api.http.get(base + workspace.base, headers=workspace.auth("read"))
    settings = resp.json()["settings"]
    assert (settings["age_warn_seconds"], settings["age_late_seconds"]) == (300, 480)


async def test_settings_form_chooses_pickup_names(site: Any, workspace: Workspace) -> None:
    """The owner tools show the pickup screen's names setting and save the choice made there."""
    from playwright.async_api import expect

    base, api = site
    async with browser(base) as b:
        await open_page(b, workspace, "index.html")
        await b.page.fill('#unlock input[name="adminKey"]', workspace.keys["admin"])
        await b.page.click('#unlock button[type="submit"]')
        names = b.page.locator('#settings select[name="pickup_names"]')
        await expect(names).to_have_value("none")
        await names.select_option("first_letters")
        await b.page.locator('#settings button[type="submit"]').click()
        await expect(b.page.locator("#settings-status")).to_have_text("Saved.")
    resp = await api.http.get(base + workspace.base, headers=workspace.auth("read"))
    assert resp.json()["settings"]["pickup_names"] == "first_letters"


async def test_settings_edit_allergen_words_and_stations(site: Any, workspace: Workspace) -> None:
    """The owner tools edit the allergen words (comma or line separated) and the stations (a row
    per station, its items comma separated, and the default station): saved, they come back on
    a reload as the server keeps them; a row removed is gone; two rows of one station are
    refused on the page; a value the server refuses shows its message beside the field."""
    from playwright.async_api import expect

    base, api = site
    async with browser(base) as b:
        page = b.page
        await open_page(b, workspace, "index.html")

        async def unlock() -> None:
            await page.fill('#unlock input[name="adminKey"]', workspace.keys["admin"])
            await page.click('#unlock button[type="submit"]')
            await expect(page.locator("#owner-tools")).to_be_visible()

        await unlock()
        form = page.locator("#settings")
        status = page.locator("#settings-status")
        words = form.locator('textarea[name="allergen_words"]')
        names = form.locator(".station-name")
        items = form.locator(".station-items")
        await expect(words).to_have_value(re.compile(r"^allergy, allergic, .*sulfite$"))
        await expect(names).to_have_count(1)  # no stations yet: one empty row
        await words.fill("Peanut, sesame\nshellfish,\n tree nut ")
        await names.nth(0).fill("drinks")
        await items.nth(0).fill("Latte, *tea")
        await page.click("#station-add")
        await expect(names.nth(1)).to_be_focused()
        await names.nth(1).fill("bakery")
        await items.nth(1).fill("cookie*, Brownie")
        await page.click("#station-add")
        await names.nth(2).fill("cold")
        await items.nth(2).fill("ice cream")
        await form.locator('input[name="stations_default"]').fill("grill")
        await form.locator('button[type="submit"]').click()
        await expect(status).to_have_text("Saved.")
        await assert_accessible(page)
        settings = (
            await api.http.get(base + workspace.base, headers=workspace.auth("read"))
        ).json()["settings"]
        assert settings["allergen_words"] == ["peanut", "sesame", "shellfish", "tree nut"]
        assert settings["stations"] == {
            "default": "grill",
            "items": {
                "drinks": ["latte", "*tea"],
                "bakery": ["cookie*", "brownie"],
                "cold": ["ice cream"],
            },
        }

        await page.reload()
        await unlock()
        await expect(words).to_have_value("peanut, sesame, shellfish, tree nut")
        await expect(names).to_have_count(3)
        await expect(items.nth(1)).to_have_value("cookie*, brownie")
        await expect(form.locator('input[name="stations_default"]')).to_have_value("grill")
        await expect(names.nth(2)).to_have_attribute("aria-label", "Station 3: name")
        await form.locator(".station-remove").nth(2).click()
        await expect(names).to_have_count(2)

        # two rows of one station: refused here, nothing sent
        await names.nth(1).fill("Drinks")
        await form.locator('button[type="submit"]').click()
        await expect(status).to_contain_text("the station Drinks is listed twice")
        await expect(names.nth(1)).to_have_attribute("aria-invalid", "true")
        await names.nth(1).fill("bakery")

        # refused by the server: shown beside the field it names
        await items.nth(1).fill("cookie*, latte")
        await form.locator('button[type="submit"]').click()
        error = page.locator("#stations-error")
        await expect(error).to_be_visible()
        await expect(error).to_contain_text("'latte' is listed for 'drinks' too")
        await expect(status).to_contain_text("Not saved: ")
        await expect(items.nth(1)).to_have_attribute("aria-invalid", "true")
        await expect(items.nth(1)).to_be_focused()
        await assert_accessible(page)
        await items.nth(1).fill("cookie*")
        await words.fill("nut, " + "x" * 41)
        await form.locator('button[type="submit"]').click()
        await expect(page.locator("#allergen_words-error")).to_contain_text("1 to 40 characters")
        await expect(error).to_be_hidden()
        await expect(words).to_have_attribute("aria-invalid", "true")
        await words.fill("nut")
        await form.locator('button[type="submit"]').click()
        await expect(status).to_have_text("Saved.")
        await expect(page.locator("#allergen_words-error")).to_be_hidden()
        assert b.errors == []
    settings = (await api.http.get(base + workspace.base, headers=workspace.auth("read"))).json()[
        "settings"
    ]
    assert settings["allergen_words"] == ["nut"]
    assert settings["stations"] == {
        "default": "grill",
        "items": {"drinks": ["latte", "*tea"], "bakery": ["cookie*"]},
    }
