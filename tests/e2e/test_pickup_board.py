"""The customer-facing pickup screen in real Chromium: newest ready first and highlighted, text
fitted to the count and pages past it (200 ready numbers on a 1920x1080 TV), names by the
workspace's setting, a chime, and a live region that speaks only of newly ready numbers."""

from __future__ import annotations

from typing import Any

import pytest

from support.browser import assert_accessible, browser, open_page, wait_live
from support.server import Workspace

pytestmark = pytest.mark.browser

TV = {"width": 1920, "height": 1080}
READY = "waiting_for_pickup"

# Every cell of a column, read in one go: its number, class and box, with the column's box.
CELLS = """(id) => {
  const box = document.getElementById(id);
  const r = box.getBoundingClientRect();
  return {
    box: [r.left, r.top, r.right, r.bottom],
    size: parseFloat(getComputedStyle(box).fontSize),
    page: Number(box.dataset.page), pages: Number(box.dataset.pages),
    cells: [...box.querySelectorAll(".cell")].map((c) => {
      const b = c.getBoundingClientRect();
      return { number: Number(c.dataset.number), fresh: c.classList.contains("fresh"),
               text: c.innerText, rect: [b.left, b.top, b.right, b.bottom] };
    }),
  };
}"""


async def cells(page: Any, column: str = "ready") -> dict[str, Any]:
    return await page.evaluate(CELLS, column)  # type: ignore[no-any-return]


def inside(rect: list[float], box: list[float]) -> bool:
    return (
        rect[0] >= box[0] - 0.5
        and rect[1] >= box[1] - 0.5
        and rect[2] <= box[2] + 0.5
        and rect[3] <= box[3] + 0.5
    )


async def test_pickup_fits_200_ready_numbers_by_paging_newest_first(
    site: Any, workspace: Workspace
) -> None:
    """On a 1920x1080 TV, 200 ready numbers and one that becomes ready: the newest is first on
    page 1 and highlighted, every cell lies inside its column and the screen, the text stays at
    least 3.5rem, and PageDown walks pages that hold every ready number exactly once, newest
    first; the page does not scroll, and axe finds nothing."""
    from playwright.async_api import expect

    base, api = site
    old = await api.create_many(200, status=READY)
    cooking = await api.create_many(3, status="preparing")
    async with browser(base, viewport=TV) as b:
        page = b.page
        await open_page(b, workspace, "pickup.html")
        await wait_live(b)
        await expect(page.locator("#ready")).to_have_attribute("data-page", "1")
        await expect(page.locator("#preparing .cell")).to_have_count(3)
        newest = cooking[0]
        await api.move(newest["id"], READY)
        first = page.locator("#ready .cell").first
        await expect(first).to_have_attribute("data-number", str(newest["order_number"]))
        await expect(first).to_have_class("cell fresh")
        grid = await cells(page)
        assert grid["pages"] >= 2, grid["pages"]
        assert grid["size"] >= 3.5 * 16
        await expect(page.locator("#ready-page")).to_have_text(f"Page 1 of {grid['pages']}")
        assert await page.evaluate(
            "document.documentElement.scrollHeight <= innerHeight"
            " && document.documentElement.scrollWidth <= innerWidth"
        )
        await assert_accessible(page)

        seen: list[int] = []
        for number in range(1, grid["pages"] + 1):
            if number > 1:
                await page.keyboard.press("PageDown")
            await expect(page.locator("#ready")).to_have_attribute("data-page", str(number))
            grid = await cells(page)
            assert grid["cells"], number
            for cell in grid["cells"]:
                assert inside(cell["rect"], grid["box"]), (number, cell)
                assert inside(cell["rect"], [0, 0, TV["width"], TV["height"]]), (number, cell)
            seen += [c["number"] for c in grid["cells"]]
            assert [c["number"] for c in grid["cells"] if c["fresh"]] == (
                [newest["order_number"]] if number == 1 else []
            )
        # created in batches (each at one instant): the later number first
        older = sorted((o["order_number"] for o in old), reverse=True)
        assert seen == [newest["order_number"], *older]
        await page.keyboard.press("PageDown")  # past the last page: back to the first
        await expect(page.locator("#ready")).to_have_attribute("data-page", "1")
        assert b.errors == []


async def test_pickup_text_fits_the_count(site: Any, workspace: Workspace) -> None:
    """One ready number is shown at the largest size (10rem); as more become ready the text
    shrinks so that all of them still fit on one page, never below 3.5rem."""
    from playwright.async_api import expect

    base, api = site
    orders = await api.create_many(60, status="preparing")
    async with browser(base, viewport=TV) as b:
        page = b.page
        await open_page(b, workspace, "pickup.html")
        await wait_live(b)
        sizes = []
        done = 0
        for count in (1, 25, 60):
            for order in orders[done:count]:
                await api.move(order["id"], READY)
            done = count
            await expect(page.locator("#ready .cell")).to_have_count(count)
            await expect(page.locator("#preparing .cell")).to_have_count(60 - count)
            grid = await cells(page)
            assert grid["pages"] == 1, (count, grid["pages"])
            await expect(page.locator("#ready-page")).to_have_text("")
            for cell in grid["cells"]:
                assert inside(cell["rect"], grid["box"]), (count, cell)
            sizes.append(grid["size"])
        assert sizes[0] == 10 * 16
        assert sizes[0] > sizes[1] > sizes[2] >= 3.5 * 16, sizes
        assert b.errors == []


async def test_pickup_announces_only_newly_ready_numbers(site: Any, workspace: Workspace) -> None:
    """Over seconds of ticking and page turns with 150 ready numbers, no live region on the page
    changes; a number that becomes ready is said once ("Ready: number N"), two together in one
    sentence; the number grids are not live regions."""
    from playwright.async_api import expect

    base, api = site
    await api.create_many(150, status=READY)
    cooking = await api.create_many(3, status="preparing")
    async with browser(base, viewport=TV) as b:
        page = b.page
        await open_page(b, workspace, "pickup.html")
        await wait_live(b)
        assert await page.locator("#ready[aria-live], #preparing[aria-live]").count() == 0
        await page.evaluate(
            """() => {
              window.liveChanges = [];
              const live = '[aria-live], [role="status"], [role="alert"], [role="log"]';
              new MutationObserver((records) => {
                for (const r of records) {
                  const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
                  const region = node && node.closest(live);
                  if (region) window.liveChanges.push([region.id, region.textContent]);
                }
              }).observe(document.body, { subtree: true, childList: true, characterData: true });
            }"""
        )
        for _ in range(4):
            await page.keyboard.press("PageDown")
            await page.wait_for_timeout(1200)  # a tick of the page's clock between turns
        assert await page.evaluate("window.liveChanges") == []
        await api.move(cooking[0]["id"], READY)
        number = cooking[0]["order_number"]
        await expect(page.locator("#announce")).to_have_text(f"Ready: number {number}")
        await page.wait_for_timeout(1500)
        changes = await page.evaluate("window.liveChanges")
        assert [text for _, text in changes] == [f"Ready: number {number}"], changes
        assert b.errors == []


async def test_pickup_names_follow_the_workspace_setting(site: Any, workspace: Workspace) -> None:
    """pickup_names: none shows numbers alone; first_letters the display name's first three
    letters ("Piz…"); display_name the whole display name (the username when there is none)."""
    from playwright.async_api import expect

    base, api = site
    ninja = await api.create(
        status=READY, customer={"UserId": 5, "Name": "PizzaNinja2012", "DisplayName": "Pizza Ninja"}
    )
    plain = await api.create(status="preparing", customer={"UserId": 6, "Name": "Bo"})
    async with browser(base, viewport=TV) as b:
        page = b.page
        for mode, first, second in [
            ("none", "", ""),
            ("first_letters", "\nPiz…", "\nBo"),
            ("display_name", "\nPizza Ninja", "\nBo"),
        ]:
            await api.settings(pickup_names=mode)
            if mode == "none":
                await open_page(b, workspace, "pickup.html")
            else:
                await page.reload()  # the screen reads settings at start (then every 5 min)
            await wait_live(b)
            await expect(
                page.locator(f'#ready .cell[data-number="{ninja["order_number"]}"]')
            ).to_have_text(f"{ninja['order_number']}{first}", use_inner_text=True)
            await expect(
                page.locator(f'#preparing .cell[data-number="{plain["order_number"]}"]')
            ).to_have_text(f"{plain['order_number']}{second}", use_inner_text=True)
        await assert_accessible(page)
        assert b.errors == []


async def test_pickup_chime_is_a_setting_of_the_screen(site: Any, workspace: Workspace) -> None:
    """The chime is off until turned on at the screen; then a newly ready number plays it once,
    and the screen keeps the choice across a reload."""
    from playwright.async_api import expect

    base, api = site
    cooking = await api.create_many(2, status="preparing")
    autoplay = ["--autoplay-policy=no-user-gesture-required"]
    async with browser(base, viewport=TV, args=autoplay) as b:
        page = b.page
        await open_page(b, workspace, "pickup.html")
        await wait_live(b)
        chime = page.locator("#chime")
        await expect(chime).to_have_text("Chime: off")
        await api.move(cooking[0]["id"], READY)
        await expect(page.locator("#announce")).not_to_be_empty()
        assert await page.get_attribute("body", "data-chimes") is None
        await chime.click()
        await expect(chime).to_have_text("Chime: on")
        await expect(chime).to_have_attribute("aria-pressed", "true")
        await api.move(cooking[1]["id"], READY)
        await expect(page.locator("body")).to_have_attribute("data-chimes", "1")
        await page.reload()
        await wait_live(b)
        await expect(page.locator("#chime")).to_have_text("Chime: on")
        assert b.errors == []


async def test_pickup_fit_grid_pure_parts(site: Any, workspace: Workspace) -> None:
    """fit.js: the size found holds every cell and half a pixel more would not; below the
    smallest size the cells go on pages of what it holds; pageOf wraps around."""
    base, _ = site
    async with browser(base) as b:
        await open_page(b, workspace, "index.html")
        result = await b.page.evaluate(
            """async () => {
                const { fitGrid, pageOf } = await import("/js/fit.js");
                const box = { width: 1000, height: 800, cell: { width: 2, height: 1.2 },
                              gap: 0.2, min: 40, max: 160 };
                const holds = (count, size) => {
                  const cols = Math.floor((box.width + 0.2 * size) / (2.2 * size));
                  const rows = Math.floor((box.height + 0.2 * size) / (1.4 * size));
                  return cols * rows >= count;
                };
                const fits = [];
                for (const count of [0, 1, 2, 5, 17, 40, 63, 90]) {
                  const g = fitGrid(count, box);
                  fits.push({ count, g, holds: holds(count, g.size),
                              larger: g.size < box.max && holds(count, g.size + 0.5) });
                }
                const paged = fitGrid(500, box);
                return { fits, paged, wrap: pageOf([1, 2, 3, 4, 5], 7, 2) };
            }"""
        )
    for fit in result["fits"]:
        assert fit["holds"], fit
        assert not fit["larger"], fit
        assert fit["g"]["pages"] == 1, fit
        assert fit["g"]["columns"] <= max(1, fit["count"]), fit
    assert result["fits"][1]["g"]["size"] == 160
    paged = result["paged"]
    assert paged["size"] == 40
    assert paged["perPage"] == 11 * 14  # floor(1008/88) columns, floor(808/56) rows at 40 px
    assert paged["pages"] == 4
    assert result["wrap"] == {"page": 1, "pages": 3, "items": [3, 4]}


async def test_pickup_turns_pages_by_itself(site: Any, workspace: Workspace) -> None:
    """With more ready numbers than a page holds, the page turns by itself every 8 s."""
    from playwright.async_api import expect

    base, api = site
    await api.create_many(200, status=READY)
    async with browser(base, viewport={"width": 1024, "height": 600}) as b:
        await open_page(b, workspace, "pickup.html")
        await wait_live(b)
        ready = b.page.locator("#ready")
        await expect(ready).to_have_attribute("data-page", "1")
        await expect(ready).to_have_attribute("data-page", "2", timeout=12_000)
        assert b.errors == []
