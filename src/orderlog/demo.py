"""``orderlog demo``: a busy Roblox cafe driven over the HTTP API, so the dashboards come alive.

Cashiers take orders (Roblox-style usernames, a cafe menu), chefs pick them up, sometimes hand a
ticket back to find a colleague, put it out for pickup, a server hands it over, and it completes;
a few are cancelled. ``Cafe`` decides what happens when (pure, seeded); ``run`` does the HTTP with
the standard library only (the demo needs nothing beyond a plain install).
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import random
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

PREFIXES = ["xX", "Cool", "Super", "Epic", "Pro", "Lil", "Mega", "Its", "The", "Not", "Sir"]
WORDS = [
    "Bloxy", "Noob", "Pizza", "Dragon", "Ninja", "Kitty", "Builder", "Gamer", "Panda", "Taco",
    "Shadow", "Bacon", "Cookie", "Slime", "Robo", "Pixel", "Sparkle", "Frosty", "Turbo", "Muffin",
]  # fmt: skip
MENU = [
    "Latte", "Cappuccino", "Espresso", "Hot Chocolate", "Iced Coffee", "Matcha Latte",
    "Caramel Frappe", "Bloxy Cola", "Berry Smoothie", "Croissant", "Blueberry Muffin",
    "Chocolate Chip Cookie", "Bagel", "Cheesecake", "Glazed Donut", "Pancakes", "Waffles",
    "Grilled Cheese", "Club Sandwich", "Cinnamon Roll",
]  # fmt: skip
NOTES = ["oat milk", "no sugar", "extra whip", "extra hot", "decaf", "no ice", "cut in half"]
CANCEL_REASONS = ["customer left the game", "duplicate order", "out of stock"]


def username(rng: random.Random) -> str:
    """A valid Roblox username (3-20 letters, digits, one inner "_"): ``xXPizzaNinjaXx``,
    ``CoolPanda2013``, ``bacon_taco77``."""
    a, b = rng.sample(WORDS, 2)
    shape = rng.randrange(5)
    if shape == 0:
        return f"xX{a}{b}Xx"
    if shape == 1:
        return f"{rng.choice(PREFIXES)}{a}{rng.randint(2008, 2016)}"
    if shape == 2:
        return f"{a.lower()}_{b.lower()}{rng.randint(1, 99)}"
    if shape == 3:
        return f"{a}{b}"
    return f"{rng.choice(PREFIXES)}_{a}{rng.randint(100, 999)}"


def person(rng: random.Random) -> dict[str, Any]:
    name = username(rng)
    return {"UserId": rng.randint(10_000_000, 5_000_000_000), "Name": name, "DisplayName": name}


@dataclass
class Staff:
    cashiers: list[dict[str, Any]]
    chefs: list[dict[str, Any]]
    servers: list[dict[str, Any]]

    @classmethod
    def hire(cls, rng: random.Random) -> Staff:
        return cls(
            [person(rng) for _ in range(3)],
            [person(rng) for _ in range(4)],
            [person(rng) for _ in range(2)],
        )


@dataclass(order=True)
class Action:
    """One request the cafe wants made at ``at`` (monotonic seconds)."""

    at: float
    seq: int
    kind: str = field(compare=False)  # "create" or "status"
    body: dict[str, Any] = field(compare=False)
    order: int = field(compare=False, default=0)  # the cafe's own ticket number


class Cafe:
    """What happens in the cafe and when. Pure: no clock, no I/O; ``run`` feeds it both.

    ``rate`` is new orders per minute; ``speed`` shortens every wait (2 = twice as fast).
    """

    def __init__(self, rng: random.Random, rate: float = 6.0, speed: float = 1.0) -> None:
        self.rng = rng
        self.rate = rate
        self.speed = speed
        self.staff = Staff.hire(rng)
        self.queue: list[Action] = []
        self.seq = itertools.count()
        self.ids: dict[int, str] = {}  # cafe ticket -> order id, once created
        self.next_order_at = 0.0

    def _later(self, now: float, low: float, high: float) -> float:
        return now + self.rng.uniform(low, high) / self.speed

    def _push(self, at: float, kind: str, body: dict[str, Any], order: int) -> None:
        heapq.heappush(self.queue, Action(at, next(self.seq), kind, body, order))

    def due(self, now: float) -> Iterator[Action]:
        """The actions due at ``now``: new orders at the configured rate, then due changes."""
        while self.next_order_at <= now:
            ticket = next(self.seq)
            self._push(self.next_order_at, "create", self._new_order(), ticket)
            gap = self.rng.expovariate(self.rate / 60.0) if self.rate > 0 else 3600.0
            self.next_order_at = max(self.next_order_at, now) + gap
        while self.queue and self.queue[0].at <= now:
            yield heapq.heappop(self.queue)

    def next_at(self) -> float:
        return min([self.next_order_at] + [a.at for a in self.queue[:1]])

    def _new_order(self) -> dict[str, Any]:
        rng = self.rng
        items: list[Any] = []
        for name in rng.sample(MENU, rng.choice([1, 1, 2, 2, 3, 4])):
            quantity = rng.choice([1, 1, 1, 2, 3])
            item: dict[str, Any] = {"name": name, "quantity": quantity}
            if rng.random() < 0.2:
                item["notes"] = rng.choice(NOTES)
            items.append(item)
        kiosk = rng.random() < 0.15
        return {
            "customer": person(rng),
            "actor": 2 if kiosk else rng.choice(self.staff.cashiers),
            "items": items,
            "status": "submitted" if kiosk else "waiting_for_preparation",
            "metadata": {"table": rng.randint(1, 24)} if rng.random() < 0.5 else {},
        }

    def done(self, action: Action, now: float, result: dict[str, Any] | None) -> None:
        """Record what the server answered (None: the request failed) and plan the next step."""
        if result is None:
            return
        order = result["order"]
        self.ids[action.order] = order["id"]
        status = order["status"]
        rng = self.rng
        cancel = rng.random() < 0.04 and status not in ("completed", "cancelled")
        if cancel:
            reason = rng.choice(CANCEL_REASONS)
            self._step(action, self._later(now, 5, 60), "cancelled", reason=reason)
        elif status == "submitted":
            self._step(action, self._later(now, 5, 20), "waiting_for_preparation")
        elif status == "waiting_for_preparation":
            chef = rng.choice(self.staff.chefs)
            self._step(action, self._later(now, 10, 90), "preparing", actor=chef)
        elif status == "preparing":
            if rng.random() < 0.08:
                self._step(action, self._later(now, 20, 60), "finding_new_colleague")
            else:
                slow = rng.random() < 0.15  # a few tickets run long: the boards turn red
                wait = (240, 540) if slow else (30, 180)
                chef = action.body.get("actor") or rng.choice(self.staff.chefs)
                self._step(action, self._later(now, *wait), "waiting_for_pickup", actor=chef)
        elif status == "finding_new_colleague":
            chef = rng.choice(self.staff.chefs)
            self._step(action, self._later(now, 10, 40), "preparing", actor=chef)
        elif status == "waiting_for_pickup":
            server = rng.choice(self.staff.servers + self.staff.cashiers)
            customer = order["customer"]
            recipient = {"UserId": customer["user_id"], "Name": customer["username"]}
            self._step(
                action, self._later(now, 10, 60), "handed_to", actor=server, handed_to=recipient
            )
        elif status == "handed_to":
            self._step(action, self._later(now, 2, 8), "completed", actor=action.body["actor"])

    def _step(self, action: Action, at: float, status: str, **extra: Any) -> None:
        body = {"status": status, **extra}
        self._push(at, "status", body, action.order)


class Client:
    """A keep-alive HTTP/1.1 connection to the server, with the key in a header."""

    def __init__(self, url: str, workspace: str, key: str, timeout: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.https = parts.scheme == "https"
        self.base = f"/v1/workspaces/{urllib.parse.quote(workspace)}"
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for attempt in (1, 2):  # the server may have closed an idle keep-alive connection
            if self.conn is None:
                cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
                self.conn = cls(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", self.base + path, orjson.dumps(body), self.headers)
                resp = self.conn.getresponse()
                return resp.status, orjson.loads(resp.read() or b"{}")
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run(
    client: Client,
    cafe: Cafe,
    *,
    duration: float | None = None,
    log: Callable[[str], None] = print,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, int]:
    """Drive the cafe until ``duration`` seconds have passed (None: until Ctrl-C).

    Returns counts of requests made and failed. A failed request (server down, 409 because
    someone else moved the order) is logged and the cafe goes on.
    """
    start = clock()
    counts = {"orders": 0, "changes": 0, "failed": 0}
    try:
        while duration is None or clock() - start < duration:
            now = clock() - start
            for action in list(cafe.due(now)):
                result = _perform(client, cafe, action, counts, log)
                cafe.done(action, clock() - start, result)
            wait = cafe.next_at() - (clock() - start)
            if duration is not None:
                wait = min(wait, duration - (clock() - start))
            if wait > 0:
                sleep(min(wait, 1.0))
    except KeyboardInterrupt:  # Ctrl-C ends the demo; the caller still gets the counts
        pass
    finally:
        client.close()
    return counts


def _perform(
    client: Client, cafe: Cafe, action: Action, counts: dict[str, int], log: Callable[[str], None]
) -> dict[str, Any] | None:
    if action.kind == "create":
        path = "/orders"
    else:
        order_id = cafe.ids.get(action.order)
        if order_id is None:
            return None
        path = f"/orders/{order_id}/status"
    try:
        status, body = client.post(path, action.body)
    except (OSError, http.client.HTTPException) as exc:
        counts["failed"] += 1
        log(f"demo: {action.kind} failed: {exc}")
        return None
    if status >= 400:
        counts["failed"] += 1
        log(f"demo: {action.kind} -> {status} {body.get('message', '')}")
        return None
    counts["orders" if action.kind == "create" else "changes"] += 1
    order = body["order"]
    log(f"demo: #{order['order_number']} {order['status']}")
    return body
