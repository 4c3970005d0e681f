"""The status board in real Chromium: its columns at 1024 px (whole columns, scrolled to, never
cut or squeezed; empty ones folded) and a card's time in its current column beside its age."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from support.browser import assert_accessible, browser, open_page, wait_live
from support.server import Workspace

pytestmark = pytest.mark.browser

ACTIVE = [
    "submitted",
    "waiting_for_preparation",
    "preparing",
    "finding_new_colleague",
    "waiting_for_pickup",
    "handed_to",
]

# Each column's box against the board's visible box, and whether any card is clipped sideways.
GEOMETRY = """() => {
  const board = document.getElementById("board");
  const b = board.getBoundingClientRect();
  return {
    board: { left: b.left, right: b.right, bottom: b.bottom,
             scrolls: board.scrollWidth > board.clientWidth },
    page: { wide: document.documentElement.scrollWidth, view: innerWidth,
            tall: document.documentElement.scrollHeight, height: innerHeight },
    rem: parseFloat(getComputedStyle(document.documentElement).fontSize),
    columns: [...board.querySelectorAll(".column")].map((c) => {
      const r = c.getBoundingClientRect();
      return { status: c.dataset.status, left: r.left, right: r.right, width: r.width,
               folded: c.classList.contains("folded"),
               clipped: [...c.querySelectorAll(".card")]
                 .some((k) => k.scrollWidth > k.clientWidth) };
    }),
  };
}"""


def whole_or_hidden(column: dict[str, Any], board: dict[str, Any]) -> bool:
    """A column is either entirely inside the board's visible box or entirely outside it."""
    inside = column["left"] >= board["left"] - 1 and column["right"] <= board["right"] + 1
    outside = column["right"] <= board["left"] + 1 or column["left"] >= board["right"] - 1
    return inside or outside


async def test_board_columns_fit_at_1024_px(site: Any, workspace: Workspace) -> None:
    """At 1024x768 with cards in all six columns: the page never scrolls sideways, no column is
    narrower than 13rem or cut at the board's edge, no card is clipped, the board's scroll bar is
    on screen, and the column buttons bring each column into view whole; once two columns are
    empty they fold to strips and the other four fit without scrolling."""
    from playwright.async_api import expect

    base, api = site
    orders = {}
    for status in ACTIVE:
        orders[status] = await api.create_many(
            2,
            status=status,
            items=[{"name": "Bloxy Cola Float Supreme", "quantity": 2, "notes": "no ice"}],
        )
    async with browser(base, viewport={"width": 1024, "height": 768}) as b:
        page = b.page
        await open_page(b, workspace, "board.html")
        await wait_live(b)
        await expect(page.locator(".card")).to_have_count(12)
        jumps = page.locator(".board-columns .jump")
        await expect(jumps).to_have_count(6)
        await expect(page.locator(".board-columns")).to_be_visible()
        geo = await page.evaluate(GEOMETRY)
        assert geo["page"]["wide"] <= geo["page"]["view"], geo["page"]
        assert geo["page"]["tall"] <= geo["page"]["height"], geo["page"]
        assert geo["board"]["scrolls"]
        assert geo["board"]["bottom"] <= geo["page"]["height"]
        for column in geo["columns"]:
            assert column["width"] >= 13 * geo["rem"] - 1, column
            assert whole_or_hidden(column, geo["board"]), column
            assert not column["clipped"], column
        await assert_accessible(page)

        for status in reversed(ACTIVE):
            await page.locator(f'.board-columns .jump[data-status="{status}"]').click()
            await expect(page.locator(f'.jump[data-status="{status}"]')).to_have_class(
                re.compile(r"\bin-view\b")
            )
            await asyncio.sleep(0.5)  # the smooth scroll settles on a snap point
            geo = await page.evaluate(GEOMETRY)
            column = next(c for c in geo["columns"] if c["status"] == status)
            assert column["left"] >= geo["board"]["left"] - 1, column
            assert column["right"] <= geo["board"]["right"] + 1, column
            for other in geo["columns"]:
                assert whole_or_hidden(other, geo["board"]), other

        for status in ("finding_new_colleague", "handed_to"):
            for order in orders[status]:
                await api.move(order["id"], "cancelled")
        await expect(page.locator(".column.folded")).to_have_count(2)
        await expect(page.locator(".board-columns")).to_be_hidden()
        geo = await page.evaluate(GEOMETRY)
        assert not geo["board"]["scrolls"]
        for column in geo["columns"]:
            if column["folded"]:
                assert column["width"] <= 4 * geo["rem"], column
            else:
                assert column["width"] >= 13 * geo["rem"] - 1, column
            assert whole_or_hidden(column, geo["board"]), column
        await assert_accessible(page)
        assert b.errors == []


async def test_board_shows_time_in_column_beside_the_age(site: Any, workspace: Workspace) -> None:
    """A card shows its age since creation (which colours it) and, below, its time in the
    current column, which restarts when it moves; turning "Time in column" off hides that line
    on this screen only, and the screen keeps the choice."""
    from playwright.async_api import expect

    base, api = site
    await api.settings(age_warn_seconds=2, age_late_seconds=3)
    order = await api.create(status="waiting_for_preparation")
    async with browser(base) as b:
        page = b.page
        await open_page(b, workspace, "board.html")
        await wait_live(b)
        card = page.locator(f'[data-order="{order["id"]}"]')
        await expect(card.locator(".column-age")).to_contain_text("In column")
        await asyncio.sleep(3.5)
        await api.move(order["id"], "preparing")
        card = page.locator(f'[data-status="preparing"] [data-order="{order["id"]}"]')
        await expect(card).to_have_count(1)
        await expect(card.locator(".head .age")).to_have_text(re.compile(r"^0:0[3-9]$"))
        await expect(card.locator(".column-age .age")).to_have_text(re.compile(r"^0:0[01]$"))
        await expect(card).to_have_class(re.compile(r"\bage-late\b"))  # by its age, not column
        await page.locator("#column-age").uncheck()
        await expect(card.locator(".column-age")).to_have_count(0)
        await expect(card.locator(".head .age")).to_have_count(1)
        await page.reload()
        await wait_live(b)
        await expect(page.locator(f'[data-order="{order["id"]}"]')).to_have_count(1)
        assert await page.locator(".column-age").count() == 0
        await expect(page.locator("#column-age")).not_to_be_checked()
        assert b.errors == []
