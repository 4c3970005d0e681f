"""Outbound webhooks, the pure part: what a webhook is (its URL, filters and format), which
addresses it may reach, when a failed delivery is tried again, and how a delivery is signed.

Signatures follow the Standard Webhooks specification (standardwebhooks.com): the headers
``webhook-id`` (the event's id, the same on every retry), ``webhook-timestamp`` (Unix seconds of
the attempt) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, one
per valid secret, space-separated (two during a rotation). Secrets are ``whsec_<base64>``.

The engine that delivers is outbound/; the records live in store/webhooks.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from orderlog.errors import InvalidInput

CREATED = "order.created"
STATUS_CHANGED = "order.status_changed"
UPDATED = "order.updated"
PRIORITY_CHANGED = "order.priority_changed"
ITEM_DONE = "order.item_done"
TEST = "webhook.test"  # POST /webhooks/{id}/test; never filtered out
# The order events write.lua emits, in one place with what each means: the live feed's frames
# and a webhook's deliveries carry them, and the validation messages, the API documents
# (OpenAPI, AsyncAPI), the CLI's help and the settings page's choices are built from these.
EVENT_MEANINGS = {
    CREATED: "a new order (previous_status null)",
    STATUS_CHANGED: "an order moved to another status",
    UPDATED: "the status stayed and something else changed (a handed_to order's new recipient)",
    PRIORITY_CHANGED: "an open order's priority changed (`priority`: normal or rush)",
    ITEM_DONE: "an item of an open order was marked done or not done (`item`: its index in "
    "`order.items`, from 0; `done`)",
}
EVENTS = tuple(EVENT_MEANINGS)
# What a webhook created without ``events`` gets. The kitchen's rush marks and item ticks are
# asked for by name: a Discord channel does not want a message per item ticked.
DEFAULT_EVENTS = (CREATED, STATUS_CHANGED, UPDATED)
# The fields an event carries besides type, cursor, event, previous_status and order: a change
# that keeps the status carries its history entry's own fields (write.lua ``update``), so a
# receiver knows which item was ticked without keeping the order.
EVENT_FIELDS = {PRIORITY_CHANGED: ("priority",), ITEM_DONE: ("item", "done")}
FORMATS = ("json", "discord")
MAX_URL = 2048
MAX_LABEL = 100
MAX_WEBHOOKS = 20  # per workspace
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification allows 24 to 64
ROTATION_OVERLAP = 86_400.0  # seconds the previous secret still signs after a rotation
LOG_LENGTH = 100  # delivery attempts kept per webhook

# Cloud metadata services. Most sit on link-local or private ranges (refused anyway); Azure's
# wire server is a public address, so it is named.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "168.63.129.16", "100.100.100.200", "192.0.0.192", "fd00:ec2::254")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
DISCORD_PATH = re.compile(r"^/api(/v\d{1,2})?/webhooks/\d{1,24}/[A-Za-z0-9_-]{1,128}/?$")
DISCORD_HOSTS = ("discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com")
MASK_FROM = 24  # path segments this long are shown masked (tokens), shorter ones (ids) are not


@dataclass(frozen=True, slots=True)
class Target:
    """Where a webhook posts: what the connection needs, apart from the address (which is
    resolved at each connection, checked, and pinned: outbound/client.py)."""

    scheme: str  # http or https
    host: str  # lower case; IDNA-encoded; an IPv6 literal without brackets
    port: int
    target: str  # the request target: path and query

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(text: Any) -> Target:
    """Raises InvalidInput("url", ...) unless ``text`` is an absolute http(s) URL without
    credentials or fragment."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("url", "is required: the http(s) URL to post events to")
    text = text.strip()
    if len(text) > MAX_URL:
        raise InvalidInput("url", f"must be at most {MAX_URL} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        raise InvalidInput("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname or ""
    except ValueError as exc:
        raise InvalidInput("url", f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url", "must start with https:// (or http://)")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url", "must not hold a user name or password")
    if parts.fragment:
        raise InvalidInput("url", "must not have a #fragment")
    if not host:
        raise InvalidInput("url", "has no host")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise InvalidInput("url", "has a host name that is not valid") from None
    if "%" in host:  # an IPv6 zone id names a local interface
        raise InvalidInput("url", "must not name a network interface (%zone)")
    default = 443 if parts.scheme == "https" else 80
    path = parts.path or "/"
    target = f"{path}?{parts.query}" if parts.query else path
    return Target(parts.scheme, host.lower().rstrip("."), port or default, target)


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_refusal(address: str, allow_private: bool = False) -> str | None:
    """Why a webhook may not connect to ``address`` (an IP), or None if it may. Addresses that
    embed an IPv4 one (mapped, 6to4, Teredo, NAT64) are judged by it too."""
    if allow_private:
        return None
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    inner: list[ipaddress.IPv4Address] = []
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            inner.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            inner.append(ip.sixtofour)
        if ip.teredo is not None:
            inner.extend(ip.teredo)
        if ip in NAT64:
            inner.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    for candidate in inner:  # the embedded address first: its reason is the telling one
        reason = _refusal(candidate)
        if reason:
            return f"{reason} (inside {ip})"
    return _refusal(ip)


def _refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip in METADATA:
        return f"{ip} is a cloud metadata address"
    for test, what in (
        (ip.is_loopback, "a loopback"),
        (ip.is_unspecified, "an unspecified"),
        (ip.is_link_local, "a link-local"),
        (ip.is_multicast, "a multicast"),
        (ip.is_private, "a private"),
        (ip.is_reserved, "a reserved"),
        (not ip.is_global, "a non-public"),
    ):
        if test:
            return f"{ip} is {what} address"
    return None


@dataclass(frozen=True, slots=True)
class Spec:
    """What an admin chooses for a webhook (everything but its secrets and state)."""

    url: str
    events: tuple[str, ...]
    statuses: tuple[str, ...]  # empty: every status
    format: str
    label: str
    enabled: bool = True

    def wants(self, event: str, status: str) -> bool:
        """Whether an event of type ``event`` after which the order is in ``status`` (the one
        it moved to, or stays in) is delivered."""
        if event == TEST:
            return True
        return event in self.events and (not self.statuses or status in self.statuses)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": redact_url(self.url),
            "events": list(self.events),
            "statuses": list(self.statuses),
            "format": self.format,
            "label": self.label,
            "enabled": self.enabled,
        }


def parse_spec(data: Any, statuses: Iterable[str], *, allow_private: bool) -> Spec:
    """A ``POST /webhooks`` body -> Spec; ``statuses``: the workspace's status names.

    Raises:
        InvalidInput: a field is wrong (named in ``field``).
    """
    if not isinstance(data, Mapping):
        raise InvalidInput("", "must be a JSON object")
    unknown = set(data) - {"url", "events", "statuses", "format", "label", "enabled"}
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "is not a webhook field")
    fmt = _format(data.get("format", "json"))
    return Spec(
        url=check_url(data.get("url"), fmt, allow_private=allow_private),
        events=_events(data.get("events")),
        statuses=_statuses(data.get("statuses"), statuses),
        format=fmt,
        label=_label(data.get("label", "")),
        enabled=_enabled(data.get("enabled", True)),
    )


def apply_changes(
    current: Spec, data: Any, statuses: Iterable[str], *, allow_private: bool
) -> Spec:
    """A ``PATCH /webhooks/{id}`` body applied to ``current`` (the format cannot change: a JSON
    webhook has a secret, a Discord one has none). Raises InvalidInput."""
    if not isinstance(data, Mapping):
        raise InvalidInput("", "must be a JSON object")
    unknown = set(data) - {"url", "events", "statuses", "label", "enabled"}
    if "format" in data and data["format"] != current.format:
        raise InvalidInput("format", "cannot change; create another webhook")
    unknown.discard("format")
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "is not a field a webhook may change")
    return Spec(
        url=(
            check_url(data["url"], current.format, allow_private=allow_private)
            if "url" in data
            else current.url
        ),
        events=_events(data["events"]) if "events" in data else current.events,
        statuses=_statuses(data["statuses"], statuses) if "statuses" in data else current.statuses,
        format=current.format,
        label=_label(data["label"]) if "label" in data else current.label,
        enabled=_enabled(data["enabled"]) if "enabled" in data else current.enabled,
    )


def check_url(text: Any, fmt: str, *, allow_private: bool) -> str:
    """The URL, checked: shape, an IP literal's address, and the format it suits. A host name
    is checked at every connection instead (what it resolves to may change)."""
    target = parse_url(text)
    literal = ip_literal(target.host)
    if literal is not None:
        reason = address_refusal(str(literal), allow_private)
        if reason:
            raise InvalidInput(
                "url", f"{reason}; webhooks only reach public addresses on this server"
            )
    path = target.target.split("?", 1)[0]
    discordish = target.host in DISCORD_HOSTS or bool(DISCORD_PATH.match(path))
    if fmt == "discord" and not DISCORD_PATH.match(path):
        raise InvalidInput("url", "must be a Discord webhook URL (.../api/webhooks/<id>/<token>)")
    if fmt == "json" and discordish:
        raise InvalidInput("format", 'a Discord webhook URL needs "format": "discord"')
    return str(text).strip()


def _format(value: Any) -> str:
    if value not in FORMATS:
        raise InvalidInput("format", f"must be one of {', '.join(FORMATS)}")
    return str(value)


def _events(value: Any) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_EVENTS
    if not isinstance(value, list) or not value:
        raise InvalidInput("events", f"must be a non-empty list of {', '.join(EVENTS)}")
    for i, name in enumerate(value):
        if name not in EVENTS:
            raise InvalidInput(f"events[{i}]", f"must be one of {', '.join(EVENTS)}")
    return tuple(e for e in EVENTS if e in value)


def _statuses(value: Any, known: Iterable[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    names = tuple(known)
    if not isinstance(value, list) or len(value) > len(names):
        raise InvalidInput("statuses", "must be a list of status names (empty: all)")
    for i, name in enumerate(value):
        if name not in names:
            raise InvalidInput(f"statuses[{i}]", f"must be one of {', '.join(names)}")
    return tuple(n for n in names if n in value)


def _label(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_LABEL:
        raise InvalidInput("label", f"must be a string of at most {MAX_LABEL} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidInput("label", "must not contain control characters")
    return value.strip()


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput("enabled", "must be true or false")
    return value


def redact_url(url: str) -> str:
    """The URL as shown to people: no query values, and long path segments (tokens, such as a
    Discord webhook's) masked. The full URL is sealed at rest and never leaves the server."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    segments = [s if len(s) < MASK_FROM else "…" for s in parts.path.split("/")]
    shown = f"{parts.scheme}://{host}{'/'.join(segments)}"
    return shown + ("?…" if parts.query else "")


# -- retries -----------------------------------------------------------------------------------
def retry_delay(failures: int, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait after the ``failures``-th failed attempt of an event: ``base`` doubling
    each time, at most ``cap``, spread by +-25% (``jitter`` in [0, 1)) so that receivers coming
    back are not met by every sender at once."""
    plain = min(cap, base * 2.0 ** max(0, failures - 1))
    return min(cap, plain * (0.75 + 0.5 * jitter))


def next_delay(
    failures: int,
    base: float,
    cap: float,
    jitter: float,
    retry_after: float | None,
    throttled: bool,
) -> float:
    """The wait before the next attempt: the backoff, or the receiver's ``Retry-After`` (up to
    ``cap``) if that is longer; a 429 (``throttled``) waits exactly what it asked for."""
    backoff = retry_delay(failures, base, cap, jitter)
    if retry_after is None:
        return backoff
    asked = min(cap, max(0.0, retry_after))
    return asked if throttled else max(backoff, asked)


def schedule(base: float, cap: float, window: float) -> list[float]:
    """The attempt times (seconds after the first, without jitter) within ``window``: the retry
    schedule docs/webhooks.md shows."""
    times, t, n = [0.0], 0.0, 1
    while True:
        t += retry_delay(n, base, cap, 0.5)
        if t > window:
            return times
        times.append(t)
        n += 1


def verdict(status: int, fmt: str) -> str:
    """What an answer means for the delivery: ``delivered`` (2xx), ``gone`` (410, or Discord's
    401/404: the webhook was deleted; the specification and Discord both ask senders to stop),
    ``throttled`` (429) or ``failed`` (anything else, redirects included: never followed)."""
    if 200 <= status < 300:
        return "delivered"
    if status == 410 or (fmt == "discord" and status in (401, 404)):
        return "gone"
    return "throttled" if status == 429 else "failed"


def parse_retry_after(value: str | None) -> float | None:
    """A Retry-After header in seconds (the HTTP-date form is not used by webhook receivers in
    practice and is ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


# -- signatures --------------------------------------------------------------------------------
def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    secrets_: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> list[tuple[str, str]]:
    """The Standard Webhooks headers of one attempt, signed with every secret given."""
    return [
        ("webhook-id", message_id),
        ("webhook-timestamp", str(timestamp)),
        ("webhook-signature", " ".join(sign(s, message_id, timestamp, body) for s in secrets_)),
    ]


def message_id(epoch: str, stream_id: str) -> str:
    """The ``webhook-id`` of an event: the same on every retry and for every webhook (receivers
    de-duplicate by it); no ``.`` in it, as the specification asks."""
    return f"msg_{epoch}_{stream_id}"
