"""Discord webhook messages, pure: order events as embeds, several coalesced into one message
within Discord's limits, user text made harmless, and Discord's rate-limit answers read.

Limits (Discord's "Embed Limits"): 10 embeds per message; title 256 characters, description
4096, 25 fields of name 256 and value 1024, footer 2048, author 256; all of them together at
most 6000 per message. Lengths are counted here in UTF-16 code units, never fewer than
characters, so a message measured here is within the limit however Discord counts.

User text (names, items, notes) is escaped: Markdown characters get a backslash, ``@`` gets a
zero-width space (no ``@everyone``/``@here`` can form), ``<`` cannot open a mention, ``://``
cannot become a link; and every message says ``allowed_mentions: {"parse": []}``, so even a
mention that slipped through would notify no one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from orderlog.domain.webhooks import CREATED, ITEM_DONE, PRIORITY_CHANGED, TEST, UPDATED

MAX_EMBEDS = 10
MAX_TOTAL = 6000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
NO_MENTIONS: dict[str, list[str]] = {"parse": []}
ZWSP = "\u200b"

# Status colours (the dashboards' palette); a workspace's own statuses fall back by kind.
COLOURS = {
    "submitted": 0x9CA3AF,
    "waiting_for_preparation": 0x3B82F6,
    "preparing": 0xF59E0B,
    "finding_new_colleague": 0xA855F7,
    "waiting_for_pickup": 0x22C55E,
    "handed_to": 0x14B8A6,
    "completed": 0x15803D,
    "cancelled": 0xEF4444,
}
ACTIVE_COLOUR = 0x6366F1
MARKDOWN = re.compile(r"([\\*_~`|>#\[\]()<-])")
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
LINE_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]+")  # keeps newlines


def size(text: str) -> int:
    """Length as Discord may count it (UTF-16 code units: >= characters)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """At most ``limit`` (UTF-16 units), cut with an ellipsis; never inside an escape."""
    if size(text) <= limit:
        return text
    out = text
    while size(out) > limit - 1:
        out = out[: max(0, len(out) - max(1, (size(out) - limit + 1) // 2))]
    if out.endswith("\\") and not out.endswith("\\\\"):
        out = out[:-1]
    return out + "…"


def escape(text: str, *, multiline: bool = False) -> str:
    """User text -> shown exactly as typed, never as Markdown, a mention or a link."""
    if multiline:
        text = LINE_CONTROL.sub(" ", text.replace("\r\n", "\n"))
    else:
        text = CONTROL.sub(" ", text)
    text = MARKDOWN.sub(r"\\\1", text.strip())
    return text.replace("@", "@" + ZWSP).replace("://", ":" + ZWSP + "//")


def who(p: Mapping[str, Any] | None) -> str | None:
    """A participant as people read it: ``Display (@name)``, or a system's name."""
    if not p:
        return None
    name = str(p.get("username") or "")
    display = str(p.get("display_name") or "")
    if display and display != name:
        return f"{escape(display)} (@{ZWSP}{escape(name)})"
    return escape(name) or None


def item_name(item: Mapping[str, Any]) -> str:
    """``2× Latte``, escaped."""
    quantity = item.get("quantity") or 1
    name = escape(str(item.get("name", "")))
    return f"{quantity}× {name}" if quantity > 1 else name


def item_line(item: Mapping[str, Any]) -> str:
    """An item of the description: done ones (ticked at a kitchen) get a check mark."""
    line = item_name(item)
    notes = item.get("notes")
    if notes:
        line += f" — {escape(str(notes), multiline=True)}"
    return ("✓ " if item.get("done") is True else "• ") + line


def title(event: Mapping[str, Any], status_label: str) -> str:
    """What happened, in the title: ``New order #42 · Waiting``, ``Order #42 · Ready``,
    ``Rush: order #42 · Preparing``, ``Item done on order #42: 2× Latte``; user text escaped."""
    order = event["order"]
    number = order["order_number"]
    kind = event.get("event")
    if kind == PRIORITY_CHANGED:
        head = "Rush: order" if order.get("priority") == "rush" else "No longer rush: order"
    elif kind == ITEM_DONE:
        items = order.get("items") or []
        index, done = event.get("item"), event.get("done")
        if not isinstance(index, int) or not 0 <= index < len(items) or not isinstance(done, bool):
            return f"Items marked on order #{number}"  # an event without them
        what = "Item done" if done else "Item not done"
        return f"{what} on order #{number}: {item_name(items[index])}"
    else:
        head = {CREATED: "New order", UPDATED: "Updated order"}.get(str(kind), "Order")
    return f"{head} #{number} · {status_label}"


def embed(
    event: Mapping[str, Any], label: Callable[[str], str], workspace_name: str
) -> dict[str, Any]:
    """One event as one embed: order number, status (colour), items, customer, staff."""
    footer = {"text": clip(escape(workspace_name) + " · orderlog", MAX_FOOTER)}
    if event.get("event") == TEST:
        return {
            "title": "orderlog test message",
            "description": "This channel will receive the workspace's order events.",
            "color": ACTIVE_COLOUR,
            "footer": footer,
        }
    order = event["order"]
    status = str(order["status"])
    fields = []
    previous = event.get("previous_status")
    if previous and previous != status:
        fields.append(_field("From", escape(label(str(previous))), inline=True))
    if event.get("event") == ITEM_DONE:  # the title names the item, not the status
        fields.append(_field("Status", escape(label(status)), inline=True))
    for name, key in (
        ("Customer", "customer"),
        ("Cashier", "cashier"),
        ("Preparer", "preparer"),
        ("Handed to", "handed_to"),
        ("Handed over by", "handed_by"),
    ):
        shown = who(order.get(key))
        if shown:
            fields.append(_field(name, shown, inline=True))
    items = "\n".join(item_line(i) for i in order.get("items") or []) or "(no items)"
    out: dict[str, Any] = {
        "title": clip(title(event, escape(label(status))), MAX_TITLE),
        "color": COLOURS.get(status, ACTIVE_COLOUR),
        "fields": fields[:MAX_FIELDS],
        "footer": footer,
    }
    # The description gets what the other parts leave of a message's 6000 characters, so one
    # embed always fits in a message on its own.
    room = MAX_TOTAL - embed_size(out)
    out["description"] = clip(items, max(1, min(MAX_DESCRIPTION, room)))
    if order.get("updated_at"):
        out["timestamp"] = order["updated_at"]
    return out


def _field(name: str, value: str, *, inline: bool) -> dict[str, Any]:
    return {
        "name": clip(name, MAX_FIELD_NAME),
        "value": clip(value, MAX_FIELD_VALUE),
        "inline": inline,
    }


def embed_size(e: Mapping[str, Any]) -> int:
    """The characters of an embed that count toward the 6000 of a message."""
    total = size(e.get("title", "")) + size(e.get("description", ""))
    total += size(e.get("footer", {}).get("text", "")) + size(e.get("author", {}).get("name", ""))
    for f in e.get("fields", []):
        total += size(f["name"]) + size(f["value"])
    return total


def fitting(embeds: Sequence[Mapping[str, Any]]) -> int:
    """How many of ``embeds``, from the first, fit in one message (at least one: a single embed
    is within the limits by construction)."""
    total = 0
    for n, e in enumerate(embeds[:MAX_EMBEDS]):
        total += embed_size(e)
        if total > MAX_TOTAL:
            return max(1, n)
    return min(len(embeds), MAX_EMBEDS)


def message(embeds: Sequence[Mapping[str, Any]]) -> bytes:
    """The body of an Execute Webhook request."""
    return orjson.dumps({"embeds": list(embeds), "allowed_mentions": NO_MENTIONS})


def rate_limit(status: int, headers: Mapping[str, str], body: bytes) -> tuple[float, bool]:
    """What Discord's answer asks of the next request: (seconds to wait, whether the wait is
    global, i.e. for every webhook of this sender). A 429 carries ``retry_after`` in its JSON
    body (and ``Retry-After``); any answer with ``X-RateLimit-Remaining: 0`` asks to wait
    ``X-RateLimit-Reset-After`` before the bucket refills."""
    if status == 429:
        wait, is_global = None, headers.get("x-ratelimit-global", "").lower() == "true"
        try:
            data = orjson.loads(body)
            if isinstance(data, dict):
                wait = float(data["retry_after"])
                is_global = is_global or data.get("global") is True
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            pass
        if wait is None:
            wait = _seconds(headers.get("retry-after")) or _seconds(
                headers.get("x-ratelimit-reset-after")
            )
        return max(0.0, wait if wait is not None else 1.0), is_global
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        return max(0.0, _seconds(headers.get("x-ratelimit-reset-after")) or 0.0), False
    return 0.0, False


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
