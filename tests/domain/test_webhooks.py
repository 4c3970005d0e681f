"""The pure part of webhooks: specs and filters, the address policy, the retry schedule, the
Standard Webhooks signature (checked with the reference library), Discord messages."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from orderlog.domain import discord, webhooks
from orderlog.domain.model import DEFAULT_WORKFLOW
from orderlog.errors import InvalidInput

STATUSES = DEFAULT_WORKFLOW.names
DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def spec(**data: Any) -> webhooks.Spec:
    return webhooks.parse_spec(
        {"url": "https://hooks.example.com/in", **data}, STATUSES, allow_private=False
    )


def test_webhooks_spec_defaults_and_filters() -> None:
    """No events: the default three (not the kitchen's priority and item events); no statuses:
    every status; ``wants`` applies both (a test event always passes)."""
    every = spec()
    assert every.events == ("order.created", "order.status_changed", "order.updated")
    assert every.wants("order.created", "submitted")
    assert every.wants("order.updated", "handed_to")
    assert not every.wants("order.item_done", "preparing")
    assert not every.wants("order.priority_changed", "preparing")
    ready = spec(events=["order.status_changed"], statuses=["waiting_for_pickup"])
    assert ready.wants("order.status_changed", "waiting_for_pickup")
    assert not ready.wants("order.status_changed", "preparing")
    assert not ready.wants("order.created", "waiting_for_pickup")
    assert ready.wants(webhooks.TEST, "")


def test_webhooks_spec_kitchen_events_are_opt_in() -> None:
    """The priority and item events are chosen by name, kept in the one order of EVENTS, and
    filtered by the status the order stays in."""
    kitchen = spec(
        events=["order.item_done", "order.status_changed", "order.priority_changed"],
        statuses=["preparing"],
    )
    assert kitchen.events == (
        "order.status_changed",
        "order.priority_changed",
        "order.item_done",
    )
    assert kitchen.wants("order.item_done", "preparing")
    assert kitchen.wants("order.priority_changed", "preparing")
    assert not kitchen.wants("order.item_done", "waiting_for_preparation")
    assert not kitchen.wants("order.created", "preparing")
    assert set(webhooks.DEFAULT_EVENTS) < set(webhooks.EVENTS)
    assert set(webhooks.EVENT_FIELDS) <= set(webhooks.EVENTS)


def test_webhooks_spec_unknown_event_lists_the_known_ones() -> None:
    """An unknown event is refused with every event a webhook may ask for."""
    with pytest.raises(InvalidInput) as caught:
        spec(events=["order.created", "order.eaten"])
    assert caught.value.field == "events[1]"
    assert caught.value.problem == (
        "must be one of order.created, order.status_changed, order.updated, "
        "order.priority_changed, order.item_done"
    )


def test_webhooks_docs_table_lists_every_event() -> None:
    """docs/webhooks.md's events table has a row per event, saying which are the default."""
    rows = {}
    for line in DOCS.read_text().splitlines():
        match = re.match(r"^\| `([a-z_.]+)` \|.*\| (yes|no) \|$", line)
        if match:
            rows[match[1]] = match[2] == "yes"
    assert rows == {e: e in webhooks.DEFAULT_EVENTS for e in webhooks.EVENTS}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"url": "ftp://x.example/"}, "url"),
        ({"url": "https://user:pw@x.example/"}, "url"),
        ({"url": "https://x.example/#frag"}, "url"),
        ({"url": "https://x .example/"}, "url"),
        ({"url": "https://x.example:99999/"}, "url"),
        ({"url": ""}, "url"),
        ({"url": "https://x.example/" + "a" * 2048}, "url"),
        ({"events": []}, "events"),
        ({"events": ["order.deleted"]}, "events[0]"),
        ({"statuses": ["burnt"]}, "statuses[0]"),
        ({"format": "xml"}, "format"),
        ({"label": "x" * 101}, "label"),
        ({"label": "a\nb"}, "label"),
        ({"enabled": "yes"}, "enabled"),
        ({"colour": "red"}, "colour"),
        ({"url": "https://discord.com/api/webhooks/1/abc"}, "format"),
        ({"url": "https://x.example/hook", "format": "discord"}, "url"),
    ],
)
def test_webhooks_spec_refuses(data: dict[str, Any], field: str) -> None:
    """Each malformed field is a 422 naming it."""
    with pytest.raises(InvalidInput) as caught:
        spec(**data)
    assert caught.value.field == field


def test_webhooks_changes_keep_what_is_not_given() -> None:
    """A PATCH changes only what it names; the format cannot change."""
    current = spec(label="till", statuses=["cancelled"])
    changed = webhooks.apply_changes(current, {"enabled": False}, STATUSES, allow_private=False)
    assert changed == webhooks.Spec(
        current.url, current.events, ("cancelled",), "json", "till", False
    )
    with pytest.raises(InvalidInput) as caught:
        webhooks.apply_changes(current, {"format": "discord"}, STATUSES, allow_private=False)
    assert caught.value.field == "format"


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "metadata"),
        ("168.63.129.16", "metadata"),
        ("100.100.100.200", "metadata"),
        ("100.64.0.1", "non-public"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 wrapping 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private"),  # Teredo, client 192.0.2.45
    ],
)
def test_webhooks_address_policy(address: str, refused: str | None) -> None:
    """Only public addresses; an IPv4 address wrapped in IPv6 is judged by itself."""
    reason = webhooks.address_refusal(address)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None
        assert refused in reason
    assert webhooks.address_refusal(address, allow_private=True) is None


def test_webhooks_redacted_url_hides_tokens_and_queries() -> None:
    """Long path segments (tokens) and query values never show."""
    token = "A" * 68
    assert (
        webhooks.redact_url(f"https://discord.com/api/webhooks/1234567890123456789/{token}")
        == "https://discord.com/api/webhooks/1234567890123456789/…"
    )
    assert webhooks.redact_url("https://x.example/in?key=s3cret") == "https://x.example/in?…"


def test_webhooks_retry_schedule_doubles_with_jitter_and_cap() -> None:
    """5 s, 10 s, 20 s ... up to 1 h, each +-25%; the default schedule spans 24 h in about 30
    attempts; Retry-After lengthens a wait (a 429's is taken as is), up to the cap."""
    assert webhooks.retry_delay(1, 5, 3600, 0.5) == 5
    assert webhooks.retry_delay(3, 5, 3600, 0.5) == 20
    assert webhooks.retry_delay(3, 5, 3600, 0.0) == 15
    assert webhooks.retry_delay(3, 5, 3600, 0.999) == pytest.approx(25, rel=0.01)
    assert webhooks.retry_delay(30, 5, 3600, 0.999) == 3600
    times = webhooks.schedule(5, 3600, 86_400)
    assert times[:4] == [0, 5, 15, 35]
    assert 28 <= len(times) <= 34
    assert webhooks.next_delay(1, 5, 3600, 0.5, 60, throttled=False) == 60
    assert webhooks.next_delay(4, 5, 3600, 0.5, 1, throttled=False) == 40
    assert webhooks.next_delay(4, 5, 3600, 0.5, 1, throttled=True) == 1
    assert webhooks.next_delay(1, 5, 3600, 0.5, 99_999, throttled=True) == 3600
    assert webhooks.parse_retry_after("2.5") == 2.5
    assert webhooks.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None


def test_webhooks_verdicts() -> None:
    """2xx delivered; 410 (and Discord's 401/404) gone; 429 throttled; 3xx and the rest fail."""
    assert webhooks.verdict(204, "json") == "delivered"
    assert webhooks.verdict(410, "json") == "gone"
    assert webhooks.verdict(404, "discord") == "gone"
    assert webhooks.verdict(404, "json") == "failed"
    assert webhooks.verdict(429, "json") == "throttled"
    assert webhooks.verdict(301, "json") == "failed"


def test_webhooks_signature_verifies_with_the_reference_library() -> None:
    """The headers verify with standardwebhooks for each secret they were signed with, and not
    for another, nor once the body changed."""
    old, new, other = webhooks.new_secret(), webhooks.new_secret(), webhooks.new_secret()
    assert old.startswith("whsec_")
    assert len(webhooks.secret_bytes(old)) == 32
    body = b'{"type":"event","event":"order.created"}'
    headers = dict(webhooks.signature_headers([new, old], "msg_e_1-0", int(time.time()), body))
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Verifier(secret).verify(body, headers) == orjson.loads(body)
    with pytest.raises(WebhookVerificationError):
        Verifier(other).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(new).verify(body + b" ", headers)
    assert "." not in webhooks.message_id("18c0ffee", "1700000000000-3")


# -- Discord ----------------------------------------------------------------------------------
def order_event(**order: Any) -> dict[str, Any]:
    base = {
        "id": "a" * 24,
        "order_number": 42,
        "status": "waiting_for_pickup",
        "items": [{"name": "Latte", "quantity": 2}],
        "customer": {"user_id": 1, "username": "alice", "display_name": "Ally"},
        "preparer": {"user_id": 2, "username": "bob"},
        "updated_at": "2026-11-20T10:00:00.000Z",
    }
    return {"event": "order.status_changed", "previous_status": "preparing", "order": base | order}


def test_discord_embed_shows_the_order() -> None:
    """Number and status label in the title, its colour, items, people, the previous status."""
    e = discord.embed(order_event(), lambda s: DEFAULT_WORKFLOW.status(s).label, "Bloxy Cafe")
    assert e["title"] == "Order #42 · Ready for pickup"
    assert e["color"] == discord.COLOURS["waiting_for_pickup"]
    assert e["description"] == "• 2× Latte"
    fields = {f["name"]: f["value"] for f in e["fields"]}
    assert fields == {"From": "Preparing", "Customer": "Ally (@\u200balice)", "Preparer": "bob"}
    assert e["footer"]["text"] == "Bloxy Cafe · orderlog"
    assert e["timestamp"] == "2026-11-20T10:00:00.000Z"
    updated = order_event(status="handed_to") | {"event": "order.updated"}
    shown = discord.embed(updated, lambda s: DEFAULT_WORKFLOW.status(s).label, "Bloxy Cafe")
    assert shown["title"] == "Updated order #42 · Handed over"


def test_discord_embed_titles_the_kitchen_events() -> None:
    """A rush mark and an item tick say so in the title (the item's name escaped), the status
    moves to a field, ticked items get a check mark, and no "From" repeats the status."""

    def label(status: str) -> str:
        return DEFAULT_WORKFLOW.status(status).label

    items = [{"name": "Latte", "quantity": 2, "done": True}, {"name": "**Pie** @everyone"}]
    kept = {"previous_status": "preparing"}

    def shown(event: str, **members: Any) -> dict[str, Any]:
        """The embed of ``event`` with its own ``members`` (the order's priority follows)."""
        priority = members.get("priority", "normal")
        made = order_event(status="preparing", items=items, priority=priority)
        return discord.embed(made | kept | {"event": event} | members, label, "Cafe")

    rush = shown("order.priority_changed", priority="rush")
    assert rush["title"] == "Rush: order #42 · Preparing"
    assert shown("order.priority_changed", priority="normal")["title"] == (
        "No longer rush: order #42 · Preparing"
    )
    tick = shown("order.item_done", item=1, done=True)
    assert tick["title"] == "Item done on order #42: \\*\\*Pie\\*\\* @\u200beveryone"
    assert tick["color"] == discord.COLOURS["preparing"]
    assert tick["description"] == "✓ 2× Latte\n• \\*\\*Pie\\*\\* @\u200beveryone"
    fields = {f["name"]: f["value"] for f in tick["fields"]}
    assert fields == {"Status": "Preparing", "Customer": "Ally (@\u200balice)", "Preparer": "bob"}
    assert "From" not in {f["name"] for f in rush["fields"]}
    assert shown("order.item_done", item=0, done=False)["title"] == (
        "Item not done on order #42: 2× Latte"
    )
    # an event without the item (or naming none the order has) still says what it is
    for extra in ({}, {"item": 5, "done": True}, {"item": "0", "done": True}):
        assert shown("order.item_done", **extra)["title"] == "Items marked on order #42"
    heads = {e: shown(e, item=0, done=True, priority="rush")["title"] for e in webhooks.EVENTS}
    assert len({t.split("#")[0] for t in heads.values()}) == len(webhooks.EVENTS)  # each its own


def test_discord_limits_hold_for_huge_orders() -> None:
    """An order with 200 long items and long names stays within every embed limit, and
    messages take as many embeds as fit in 6000 characters (at most 10)."""
    long = "é" * 300
    items = [{"name": long, "notes": long} for _ in range(200)]
    person = {"username": long, "display_name": long[:-1]}
    people = {role: person for role in ("customer", "cashier", "preparer", "handed_to")}
    big = discord.embed(order_event(items=items, **people), str, long)
    assert discord.size(big["title"]) <= discord.MAX_TITLE
    assert discord.size(big["description"]) <= discord.MAX_DESCRIPTION
    assert all(discord.size(f["value"]) <= discord.MAX_FIELD_VALUE for f in big["fields"])
    assert discord.size(big["footer"]["text"]) <= discord.MAX_FOOTER
    assert discord.embed_size(big) <= discord.MAX_TOTAL
    small = discord.embed(order_event(), str, "Cafe")
    assert discord.fitting([small] * 14) == 10
    assert discord.fitting([big, big]) == 1
    mixed = [small, big, small, big]
    n = discord.fitting(mixed)
    assert sum(discord.embed_size(e) for e in mixed[:n]) <= discord.MAX_TOTAL
    assert sum(discord.embed_size(e) for e in mixed[: n + 1]) > discord.MAX_TOTAL


def test_discord_escape_neutralises_markdown_mentions_and_links() -> None:
    """What a user typed shows as typed: no Markdown, no @everyone, no <@id>, no link."""
    assert discord.escape("@everyone") == "@\u200beveryone"
    assert (
        discord.escape("**b** _i_ ~s~ `c` ||x||")
        == "\\*\\*b\\*\\* \\_i\\_ \\~s\\~ \\`c\\` \\|\\|x\\|\\|"
    )
    assert discord.escape("<@123> <#9> <:e:1>") == "\\<@\u200b123\\> \\<\\#9\\> \\<:e:1\\>"
    assert discord.escape("[x](https://a.b)") == "\\[x\\]\\(https:\u200b//a.b\\)"
    assert discord.escape("line\nbreak\x00") == "line break"
    assert discord.escape("a\nb", multiline=True) == "a\nb"
    assert discord.clip("\\" * 10, 6).endswith("…")


def test_discord_rate_limit_answers() -> None:
    """429: retry_after from the JSON body (global if said so); else Remaining 0 waits
    Reset-After; else no wait."""
    body = orjson.dumps({"retry_after": 1.25, "global": False})
    assert discord.rate_limit(429, {}, body) == (1.25, False)
    assert discord.rate_limit(429, {"x-ratelimit-global": "true"}, body) == (1.25, True)
    assert discord.rate_limit(429, {"retry-after": "3"}, b"") == (3.0, False)
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "0.8"}
    assert discord.rate_limit(204, headers, b"") == (0.8, False)
    assert discord.rate_limit(204, {"x-ratelimit-remaining": "3"}, b"") == (0.0, False)
