"""Discord webhooks end to end, against a receiver enforcing Discord's documented embed limits
and rate-limit headers (support/receivers.py DiscordReceiver)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from orderlog.settings import Settings
from support import hooks
from support.live import create, http, kitchen_round, move
from support.receivers import DiscordReceiver
from support.server import Workspace, running_server

DISCORD_PATH = "/api/webhooks/112233445566778899/" + "T0k3n-" * 11


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return hooks.quick(settings, webhook_retry_max_interval=5.0)


async def test_discord_burst_coalesced_within_limits_and_rate_headers(
    fast: Settings, redis: Any, workspace: Workspace
) -> None:
    """45 events become a few messages of up to 10 embeds each, every one within Discord's
    limits, in order, and the sender waits out X-RateLimit-Reset-After whenever
    X-RateLimit-Remaining reaches 0: no request is ever refused."""
    discord = DiscordReceiver()
    async with (
        running_server(discord.app) as url,
        running_server(fast) as base,
        http(base) as client,
    ):
        hook = await hooks.add(client, workspace, url + DISCORD_PATH, format="discord")
        assert hook["secret"] is None
        assert hook["url"].endswith("/api/webhooks/112233445566778899/…")
        ids = await create(client, workspace, 15)
        for oid in ids:
            await move(client, workspace, oid, "preparing")
            await move(client, workspace, oid, "waiting_for_pickup")
        embeds = await discord.wait_for(45, within=60)
        truth = await hooks.stream(redis, workspace)
    assert discord.violations == 0
    assert discord.invalid == []
    assert len(embeds) == 45
    assert all(len(m["embeds"]) <= 10 for m in discord.messages)
    assert len(discord.messages) < 45  # coalesced
    assert all(m["allowed_mentions"] == {"parse": []} for m in discord.messages)
    titles = [e["title"] for e in embeds]
    expected = [
        ("New order" if e["event"] == "order.created" else "Order")
        + f" #{e['order']['order_number']}"
        for e in truth
    ]
    assert [t.split(" · ")[0] for t in titles] == expected
    assert titles[-1].endswith("· Ready for pickup")
    assert embeds[-1]["color"] == 0x22C55E
    # more than 5 messages: the bucket (5 per 2 s) was waited out at least once
    starts = [at for at, status in discord.requests if status == 200]
    if len(starts) > 5:
        assert starts[5] - starts[0] >= 1.9


async def test_discord_kitchen_events_titled_by_what_happened(
    fast: Settings, workspace: Workspace
) -> None:
    """A Discord webhook asking for the priority and item events gets an embed for each, in
    order and within Discord's limits, titled by what happened (the ticked item's name escaped:
    no Markdown, no ``@everyone``); a Discord webhook created without events gets none."""
    kitchen, pickup = DiscordReceiver(), DiscordReceiver()
    chosen = ["order.status_changed", "order.priority_changed", "order.item_done"]
    async with (
        running_server(kitchen.app) as kitchen_url,
        running_server(pickup.app) as pickup_url,
        running_server(fast) as base,
        http(base) as client,
    ):
        await hooks.add(
            client, workspace, kitchen_url + DISCORD_PATH, format="discord", events=chosen
        )
        await hooks.add(client, workspace, pickup_url + DISCORD_PATH, format="discord")
        (oid,) = await create(client, workspace, 1, items=["Latte", "**Pie** @everyone"])
        await kitchen_round(client, workspace, oid)
        await kitchen.wait_for(7)
        await pickup.wait_for(3)
        await asyncio.sleep(0.5)  # nothing more arrives
    embeds = kitchen.embeds
    n = embeds[0]["title"].split("#")[1].split(" ")[0]
    assert [e["title"] for e in embeds] == [
        f"Order #{n} · Preparing",
        f"Rush: order #{n} · Preparing",
        f"Item done on order #{n}: \\*\\*Pie\\*\\* @\u200beveryone",
        f"Item done on order #{n}: Latte",
        f"Item not done on order #{n}: \\*\\*Pie\\*\\* @\u200beveryone",
        f"No longer rush: order #{n} · Preparing",
        f"Order #{n} · Ready for pickup",
    ]
    assert embeds[3]["description"] == "✓ Latte\n✓ \\*\\*Pie\\*\\* @\u200beveryone"
    assert all(m["allowed_mentions"] == {"parse": []} for m in kitchen.messages)
    assert kitchen.invalid == []
    assert kitchen.violations == 0
    assert [e["title"].split(" #")[0] for e in pickup.embeds] == ["New order", "Order", "Order"]


async def test_discord_hostile_username_rendered_harmlessly(
    fast: Settings, workspace: Workspace
) -> None:
    """A customer named ``@everyone`` with Markdown, a mention and a link in their display name
    and items: the message pings no one (allowed_mentions empty, and no ``@everyone`` text),
    shows the Markdown as typed (escaped), and links nothing."""
    discord = DiscordReceiver()
    hostile = {"user_id": 66, "username": "everyone", "display_name": "@here **BOLD** <@1234>"}
    items = [{"name": "[free robux](https://evil.example)", "notes": "# big\n> quote @everyone"}]
    async with (
        running_server(discord.app) as url,
        running_server(fast) as base,
        http(base) as client,
    ):
        await hooks.add(client, workspace, url + DISCORD_PATH, format="discord")
        resp = await client.post(
            f"{workspace.base}/orders",
            headers=workspace.auth(),
            json={"customer": hostile, "actor": hostile, "items": items},
        )
        assert resp.status_code == 201, resp.text
        (embed,) = await discord.wait_for(1)
    message = discord.messages[0]
    assert message["allowed_mentions"] == {"parse": []}
    texts = [embed["title"], embed["description"]]
    texts += [f["value"] for f in embed["fields"]] + [f["name"] for f in embed["fields"]]
    joined = "\n".join(texts)
    assert not re.search(r"@(everyone|here)", joined)  # a zero-width space follows every @
    assert "\\*\\*BOLD\\*\\*" in joined
    assert "\\<@\u200b1234\\>" in joined
    assert "\\[free robux\\]\\(https:\u200b//evil.example\\)" in joined
    assert "\\# big" in joined
    assert "\\> quote" in joined
    customer = next(f for f in embed["fields"] if f["name"] == "Customer")
    assert customer["value"] == "@\u200bhere \\*\\*BOLD\\*\\* \\<@\u200b1234\\> (@\u200beveryone)"
    assert discord.invalid == []


async def test_discord_429_retry_after_and_global_limit_honoured(
    fast: Settings, workspace: Workspace
) -> None:
    """A 429 with retry_after 1.5 s is retried no sooner; a global 429 (X-RateLimit-Global)
    holds every Discord webhook of the server for its retry_after, not only the one that got
    it."""
    discord = DiscordReceiver()
    discord.forced.append((1.5, False))
    async with (
        running_server(discord.app) as url,
        running_server(fast) as base,
        http(base) as client,
    ):
        await hooks.add(client, workspace, url + DISCORD_PATH, format="discord")
        await create(client, workspace, 1)
        await discord.wait_for(1, within=15)
        (first, _), (second, status) = discord.requests
        assert status == 200
        assert second - first >= 1.5

        other = await hooks.add(
            client, workspace, url + "/api/webhooks/99/" + "x" * 40, format="discord"
        )
        discord.forced.append((2.0, True))
        discord.requests.clear()
        forced_at = time.monotonic()
        await create(client, workspace, 1)
        await discord.wait_for(3, within=15)
        ok = [at for at, status in discord.requests if status == 200]
        delivered = await hooks.deliveries(client, workspace, other["id"])
    assert [status for _, status in discord.requests].count(429) == 1
    assert len(ok) == 2
    assert all(at - forced_at >= 2.0 for at in ok)  # both webhooks waited for the global limit
    assert delivered["deliveries"][0]["outcome"] == "delivered"
