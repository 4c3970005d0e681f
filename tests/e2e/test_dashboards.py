"""The dashboards in a real browser: Playwright driving Debian's Chromium against real uvicorn.

Every wait is Playwright's ``expect`` with a timeout (a bound, not a timed assertion) or a polling
loop under ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from orderlog.store.embedded import free_port
from support.browser import (
    CASHIER,
    CUSTOMER,
    Api,
    browser,
    open_page,
    wait_live,
)
from support.server import Workspace, running_server

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


async def test_board_shows_new_order_then_moves_it(site: Any, workspace: Workspace) -> None:
    """A POSTed order appears on the board within 1 s and moves column on a status change."""
    from playwright.async_api import expect

    base, api = site
    async with browser(base) as b:
        response = await open_page(b, workspace, "board.html")
        assert "default-src 'self'" in response.headers["content-security-policy"]
        await wait_live(b)
        assert "#key=" not in b.page.url  # the kiosk fragment left the address bar
        order = await api.create(status="waiting_for_preparation")
        card = b.page.locator(
            f'[data-status="waiting_for_preparation"] [data-order="{order["id"]}"]'
        )
        await expect(card).to_be_visible(timeout=1000)
        await expect(card).to_contain_text("PizzaNinja2012")
        await expect(card).to_contain_text("builderman")
        await api.move(order["id"], "preparing", actor={"UserId": 8, "Name": "ChefCarl"})
        moved = b.page.locator(f'[data-status="preparing"] [data-order="{order["id"]}"]')
        await expect(moved).to_contain_text("ChefCarl", timeout=1000)
        await expect(card).to_have_count(0)
        assert b.errors == []


async def test_kitchen_bump_and_recall_change_the_server(site: Any, workspace: Workspace) -> None:
    """With a write key, bump advances the order on the server and recall undoes it."""
    from playwright.async_api import expect

    base, api = site
    order = await api.create(status="waiting_for_preparation")
    async with browser(base) as b:
        await open_page(b, workspace, "kitchen.html", write=True)
        await wait_live(b)
        tile = b.page.locator(f'.tile[data-order="{order["id"]}"]')
        await expect(tile).to_be_visible(timeout=2000)
        await tile.locator("button.bump").click()
        await api.until_status(order["id"], "preparing")
        await tile.locator("button.bump").click()  # preparing -> waiting_for_pickup
        await api.until_status(order["id"], "waiting_for_pickup")
        await expect(tile).to_have_count(0, timeout=2000)
        await b.page.locator(f'button.recall[data-order="{order["id"]}"]').click()
        await api.until_status(order["id"], "preparing")  # back, though the workflow forbids it
        await expect(tile).to_be_visible(timeout=2000)
        assert b.errors == []


async def test_kitchen_read_key_has_no_staff_actions(site: Any, workspace: Workspace) -> None:
    """Signed in with a read key only, the kitchen shows tickets but no bump or cancel."""
    from playwright.async_api import expect

    base, api = site
    order = await api.create(status="waiting_for_preparation")
    async with browser(base) as b:
        await open_page(b, workspace, "kitchen.html")
        tile = b.page.locator(f'.tile[data-order="{order["id"]}"]')
        await expect(tile).to_be_visible(timeout=3000)
        await expect(tile.locator("button")).to_have_count(0)


async def test_pickup_shows_ready_number_and_lingers(site: Any, workspace: Workspace) -> None:
    """A ready order's number shows under Ready, and stays there after it completes."""
    from playwright.async_api import expect

    base, api = site
    cooking = await api.create(status="preparing")
    ready = await api.create(status="waiting_for_preparation")
    async with browser(base) as b:
        await open_page(b, workspace, "pickup.html")
        await wait_live(b)
        number = str(ready["order_number"])
        await expect(b.page.locator(f'#preparing [data-number="{number}"]')).to_be_visible()
        await expect(
            b.page.locator(f'#preparing [data-number="{cooking["order_number"]}"]')
        ).to_be_visible()
        await api.move(ready["id"], "waiting_for_pickup")
        ready_number = b.page.locator(f'#ready [data-number="{number}"]')
        await expect(ready_number).to_have_text(number, timeout=1000)
        await api.move(ready["id"], "completed")
        await b.page.wait_for_timeout(1500)  # two render ticks after the completion
        await expect(ready_number).to_be_visible()


async def test_orders_search_by_username_opens_timeline(site: Any, workspace: Workspace) -> None:
    """Searching a customer's username finds their order; its page shows every status."""
    from playwright.async_api import expect

    base, api = site
    other = {"UserId": 1002, "Name": "NoobMaster69"}
    mine = await api.create(status="waiting_for_preparation")
    await api.create(customer=other)
    await api.move(mine["id"], "preparing", actor={"UserId": 8, "Name": "ChefCarl"})
    await api.move(mine["id"], "waiting_for_pickup")
    async with browser(base) as b:
        await open_page(b, workspace, "orders.html")
        await b.page.fill('input[name="customer"]', "pizzaninja2012")
        await b.page.click('button[type="submit"]')
        rows = b.page.locator("#results tbody tr")
        await expect(rows).to_have_count(1, timeout=3000)
        await expect(rows.first).to_contain_text("PizzaNinja2012")
        await rows.first.locator("a").click()
        await expect(b.page).to_have_url(re.compile(r"/order\.html\?id="))
        steps = b.page.locator("#timeline li")
        await expect(steps).to_have_count(3, timeout=3000)
        await expect(steps.nth(1)).to_contain_text("ChefCarl")
        await expect(steps.nth(2)).to_contain_text("Ready for pickup")
        assert b.errors == []


async def test_board_reconnects_and_catches_up_after_restart(
    settings: Any, client: Any, workspace: Workspace
) -> None:
    """Server stopped and restarted on its port: the board shows it is not live, reconnects by
    itself, and catches up with the order written while it was away."""
    from playwright.async_api import expect

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    conn = None
    async with browser(base) as b:
        async with running_server(settings, port=port):
            await open_page(b, workspace, "board.html")
            await wait_live(b)
            api = Api(base, workspace)
            first = await api.create()
            await api.http.aclose()
            card = b.page.locator(f'[data-order="{first["id"]}"]')
            await expect(card).to_be_visible(timeout=1000)
        conn = b.page.locator("#conn")
        await expect(conn).not_to_have_text("live", timeout=5000)
        # written while the server is down (in-process app on the same Redis)
        resp = await client.post(
            f"{workspace.base}/orders",
            json={"customer": CUSTOMER, "items": ["Mocha"]},
            headers=workspace.auth(),
        )
        assert resp.status_code == 201, resp.text
        missed = resp.json()["id"]
        async with running_server(settings, port=port):
            await expect(b.page.locator(f'[data-order="{missed}"]')).to_be_visible(timeout=15000)
            await expect(conn).to_have_text("live")
            await expect(card).to_be_visible()


async def test_item_markup_renders_as_text(site: Any, workspace: Workspace) -> None:
    """An item named like an HTML tag shows as text on every page, and no script runs."""
    from playwright.async_api import expect

    base, api = site
    order = await api.create(
        status="waiting_for_preparation",
        items=[{"name": XSS, "notes": XSS}],
        customer={"UserId": 66, "Name": "h4x0r", "DisplayName": "<b>bold</b>"},
    )
    async with browser(base) as b:
        for page in ("board.html", "kitchen.html", f"order.html?id={order['id']}"):
            await open_page(b, workspace, page)
            await expect(b.page.get_by_text(XSS).first).to_be_visible(timeout=3000)
            assert await b.page.locator("main img").count() == 0
            await expect(b.page.get_by_text("<b>bold</b>").first).to_be_visible()
            parsed = b.page.locator("main b").filter(has_text=re.compile(r"^bold$"))
            assert await parsed.count() == 0
        assert b.dialogs == []
        assert b.errors == []


async def test_flow_bump_targets_follow_the_default_workflow(
    site: Any, workspace: Workspace
) -> None:
    """Bump moves forward and skips side branches: waiting -> preparing -> ready -> handed over
    -> completed; finding a colleague bumps back to preparing; cancel is never a bump."""
    base, _ = site
    async with browser(base) as b:
        await open_page(b, workspace, "index.html")
        targets = await b.page.evaluate(
            """async (key) => {
                const flow = await import("/js/flow.js");
                const headers = {Authorization: `Bearer ${key}`};
                const ws = localStorage.getItem("orderlog.workspace");
                const wf = await (await fetch(`/v1/workspaces/${ws}/workflow`, {headers})).json();
                const out = {};
                for (const s of wf.statuses) out[s.name] = flow.nextStatus(wf, s.name);
                out.ready = flow.readyStatuses(wf);
                return out;
            }""",
            workspace.keys["read"],
        )
    assert targets == {
        "submitted": "waiting_for_preparation",
        "waiting_for_preparation": "preparing",
        "preparing": "waiting_for_pickup",
        "finding_new_colleague": "preparing",
        "waiting_for_pickup": "handed_to",
        "handed_to": "completed",
        "completed": None,
        "cancelled": None,
        "ready": ["waiting_for_pickup", "handed_to"],
    }


async def test_csp_allows_the_same_origin_websocket(site: Any, workspace: Workspace) -> None:
    """Under the page's CSP (connect-src 'self'), Chromium opens the live WebSocket to the same
    host and port with a ticket, and gets the snapshot; the CSP blocks another host."""
    base, _ = site
    async with browser(base) as b:
        response = await open_page(b, workspace, "index.html")
        csp = response.headers["content-security-policy"]
        assert "connect-src 'self'" in csp
        assert "script-src 'self'" in csp
        result = await b.page.evaluate(
            """async (key) => {
                const violations = [];
                document.addEventListener("securitypolicyviolation", (e) =>
                    violations.push(e.blockedURI));
                const ws = localStorage.getItem("orderlog.workspace");
                const resp = await fetch(`/v1/workspaces/${ws}/tickets`,
                    {method: "POST", headers: {Authorization: `Bearer ${key}`}});
                const {ticket} = await resp.json();
                const url = `ws://${location.host}/v1/workspaces/${ws}/live?ticket=${ticket}`;
                const first = await new Promise((resolve, reject) => {
                    const sock = new WebSocket(url);
                    sock.onmessage = (e) => { resolve(JSON.parse(e.data).type); sock.close(); };
                    sock.onerror = () => reject(new Error("websocket error"));
                    setTimeout(() => reject(new Error("no frame in 5 s")), 5000);
                });
                try { new WebSocket("ws://example.invalid/"); } catch (e) { /* blocked */ }
                await new Promise((r) => setTimeout(r, 200));
                return {first, violations};
            }""",
            workspace.keys["read"],
        )
    assert result["first"] == "snapshot"
    assert any("example.invalid" in v for v in result["violations"]), result


async def test_kitchen_sounds_on_a_new_ticket_and_mute_is_remembered(
    site: Any, workspace: Workspace
) -> None:
    """A ticket arriving live plays the new-ticket sound (once a tap let the browser start
    audio); the mute choice survives a reload."""
    from playwright.async_api import expect

    base, api = site
    async with browser(base) as b:
        await open_page(b, workspace, "kitchen.html")
        await wait_live(b)
        await b.page.locator("#kitchen-stats").click()  # the gesture browsers want for audio
        await expect(b.page.locator("#sound")).to_have_text("Sound: on")
        order = await api.create(status="waiting_for_preparation")
        await expect(b.page.locator(f'.tile[data-order="{order["id"]}"]')).to_be_visible()
        await expect(b.page.locator("body")).to_have_attribute("data-last-sound", "new")
        sound = b.page.locator("#sound")
        await expect(sound).to_have_text("Sound: on")
        await sound.click()
        await expect(sound).to_have_text("Sound: off")
        await b.page.reload()
        await expect(b.page.locator("#sound")).to_have_text("Sound: off")


async def test_orders_csv_export_downloads_without_key_in_url(
    site: Any, workspace: Workspace
) -> None:
    """Export CSV fetches with the key in a header and saves a Blob: the file has the order,
    and no request URL carried the key."""
    from playwright.async_api import expect

    base, api = site
    await api.create(status="waiting_for_preparation")
    async with browser(base) as b:
        urls: list[str] = []
        b.page.on("request", lambda req: urls.append(req.url))
        await open_page(b, workspace, "orders.html")
        await expect(b.page.locator("#results tbody tr")).to_have_count(1, timeout=3000)
        async with b.page.expect_download(timeout=5000) as info:
            await b.page.click("#csv")
        download = await info.value
        text = (await asyncio.to_thread(Path(await download.path()).read_text)).splitlines()
        assert text[0].startswith("number,id,status")
        assert "PizzaNinja2012" in text[1]
    # (the kiosk link's #fragment is never sent; no request URL may carry the key)
    assert all(workspace.keys["read"] not in u for u in urls if "#" not in u), urls


async def test_settings_form_needs_an_admin_key(site: Any, workspace: Workspace) -> None:
    """The owner tools refuse a read key with a message and unlock with the admin key, which
    saves the settings."""
    from playwright.async_api import expect

    base, api = site
    async with browser(base) as b:
        await open_page(b, workspace, "index.html")
        unlock = b.page.locator("#unlock")
        await unlock.locator('input[name="adminKey"]').fill(workspace.keys["read"])
        await unlock.locator('button[type="submit"]').click()
        await expect(b.page.locator("#unlock-status")).to_contain_text("need an admin key")
        await expect(b.page.locator("#owner-tools")).to_be_hidden()
        await unlock.locator('input[name="adminKey"]').fill(workspace.keys["admin"])
        await unlock.locator('button[type="submit"]').click()
        form = b.page.locator("#settings")
        await expect(form.locator('input[name="age_warn_seconds"]')).to_have_value("300")
        await form.locator('input[name="age_warn_seconds"]').fill("200")
        await form.locator('button[type="submit"]').click()
        await expect(b.page.locator("#settings-status")).to_have_text("Saved.")
        keys = await b.page.evaluate("Object.values(localStorage)")
        assert workspace.keys["admin"] not in keys  # the admin key is never kept
    resp = await api.http.get(base + workspace.base, headers=workspace.auth("read"))
    assert resp.json()["settings"]["age_warn_seconds"] == 200


async def test_board_ages_follow_the_server_clock(site: Any, workspace: Workspace) -> None:
    """A screen whose clock runs 10 minutes fast still shows a new ticket as fresh: ages are
    corrected by the server's Date header."""
    import datetime as dt

    from playwright.async_api import expect

    base, api = site
    async with browser(base) as b:
        await b.page.clock.install(time=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
        await open_page(b, workspace, "board.html")
        await wait_live(b)
        order = await api.create(status="waiting_for_preparation")
        card = b.page.locator(f'[data-order="{order["id"]}"]')
        await expect(card).to_have_class(re.compile(r"\bage-fresh\b"), timeout=3000)
        await expect(card.locator(".age")).to_have_text(re.compile(r"^0:0\d$"))


async def test_kitchen_cancel_confirms_and_can_be_recalled(site: Any, workspace: Workspace) -> None:
    """Cancel takes a second click to confirm, cancels on the server, and recall restores it."""
    from playwright.async_api import expect

    base, api = site
    order = await api.create(status="waiting_for_preparation")
    async with browser(base) as b:
        await open_page(b, workspace, "kitchen.html", write=True)
        tile = b.page.locator(f'.tile[data-order="{order["id"]}"]')
        cancel = tile.locator("button.cancel")
        await cancel.click()
        await expect(cancel).to_have_text("Confirm cancel")
        other = await api.create(status="waiting_for_preparation")  # redraws every tile
        await expect(b.page.locator(f'.tile[data-order="{other["id"]}"]')).to_be_visible()
        await expect(cancel).to_have_text("Confirm cancel")
        assert (await api.get(order["id"]))["status"] == "waiting_for_preparation"
        await cancel.click()
        await api.until_status(order["id"], "cancelled")
        await expect(tile).to_have_count(0, timeout=2000)
        await b.page.locator(f'button.recall[data-order="{order["id"]}"]').click()
        await api.until_status(order["id"], "waiting_for_preparation")
        await expect(tile).to_be_visible(timeout=2000)
    history = (await api.get(order["id"]))["history"]
    assert history[-2]["reason"] == "cancelled at the kitchen display"


async def test_orders_pages_with_more(site: Any, workspace: Workspace) -> None:
    """51 orders: the first page shows 50 newest first, More fetches the last one and hides."""
    from playwright.async_api import expect

    base, api = site
    ops = [{"op": "create", "customer": CUSTOMER, "items": ["Tea"]} for _ in range(51)]
    resp = await api.http.post("/batch", json={"operations": ops}, headers=workspace.auth())
    assert resp.status_code == 200, resp.text
    async with browser(base) as b:
        await open_page(b, workspace, "orders.html")
        rows = b.page.locator("#results tbody tr")
        await expect(rows).to_have_count(50, timeout=3000)
        await expect(rows.first.locator("td").first).to_have_text("#51")
        more = b.page.locator("#more")
        await more.click()
        await expect(rows).to_have_count(51)
        await expect(rows.last.locator("td").first).to_have_text("#1")
        await expect(more).to_be_hidden()


async def test_staff_page_leaderboard_chart_and_flag_links(site: Any, workspace: Workspace) -> None:
    """Staff: the leaderboard ranks the cashier, the chart draws a bar per hour, and an abuse
    flag (the cashier served themselves) links to the order's timeline."""
    from playwright.async_api import expect

    base, api = site
    chef = {"UserId": 8, "Name": "ChefCarl"}
    normal = await api.create(status="waiting_for_preparation")
    await api.move(normal["id"], "preparing", actor=chef)
    await api.move(normal["id"], "waiting_for_pickup", actor=chef)
    selfish = await api.create(customer=CASHIER, status="waiting_for_preparation")
    async with browser(base) as b:
        await open_page(b, workspace, "staff.html")
        board = b.page.locator("#leaderboard tbody tr")
        await expect(board.first).to_contain_text("builderman", timeout=3000)
        await expect(b.page.locator("#leaderboard")).to_contain_text("ChefCarl")
        await expect(b.page.locator(".chart svg rect.bar").first).to_be_visible()
        flag = b.page.locator(f'#flags a[href="/order.html?id={selfish["id"]}"]')
        await flag.first.click()
        await expect(b.page.locator("#timeline li")).to_have_count(1, timeout=3000)
        assert b.errors == []


async def test_signin_form_keeps_the_key_and_returns_to_the_page(
    site: Any, workspace: Workspace
) -> None:
    """Without a session an owner page sends you to sign in; pasting the workspace and read key
    there brings you back, and the key stays in localStorage (not in any URL)."""
    from playwright.async_api import expect

    base, _ = site
    async with browser(base) as b:
        await b.page.goto("/orders.html")
        await expect(b.page).to_have_url(re.compile(r"/index\.html\?next="))
        await b.page.fill('input[name="workspace"]', workspace.id)
        await b.page.fill('input[name="readKey"]', workspace.keys["read"])
        await b.page.click('#signin button[type="submit"]')
        await expect(b.page).to_have_url(re.compile(r"/orders\.html$"))
        await expect(b.page.locator("#hint")).to_contain_text("No orders yet", timeout=3000)
        stored = await b.page.evaluate("localStorage.getItem('orderlog.readKey')")
        assert stored == workspace.keys["read"]
        assert workspace.keys["read"] not in b.page.url


async def test_user_ids_past_2_53_show_every_digit(site: Any, workspace: Workspace) -> None:
    """An order's page and the staff page show a user id past 2^53 - 1 with every digit (a JSON
    number would reach the page rounded: ...993 as ...992)."""
    from playwright.async_api import expect

    base, api = site
    big = 2**53 + 1
    order = await api.create(
        customer={"UserId": big, "Name": "BigId"}, actor={"UserId": big, "Name": "BigCashier"}
    )
    async with browser(base) as b:
        await open_page(b, workspace, f"order.html?id={order['id']}")
        await expect(b.page.locator("main")).to_contain_text(f"id {big}", timeout=3000)
        await open_page(b, workspace, "staff.html")
        link = b.page.locator(f'#leaderboard a[href="/orders.html?staff_id={big}"]')
        await expect(link).to_have_text("BigCashier", timeout=3000)
        await expect(b.page.locator("#flags")).to_contain_text(f"Customer {big} was also")
        assert b.errors == []
