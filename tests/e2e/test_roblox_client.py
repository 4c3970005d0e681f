"""The Roblox client module (clients/roblox/OrderLog.lua) under Lua 5.1, against a real server.

The module runs in lupa's Lua 5.1 with a stand-in for the Roblox globals (tests/roblox_standin.lua):
script threads are coroutines on a virtual clock, and ``HttpService:RequestAsync`` makes real HTTP
requests (httpx) to real uvicorn, on port 0 in a background thread, over the suite's real Redis.
Faults (a 503, a 429, an answer lost after the server applied the request) are injected in that
RequestAsync; the server being down is the real server stopped and started again.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from lupa import lua51

from orderlog.keys import Keys
from orderlog.settings import Settings
from orderlog.store.client import make_redis
from orderlog.store.workspaces import WorkspaceStore
from support.server import ServerThread

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "clients" / "roblox" / "OrderLog.lua"
STANDIN = ROOT / "tests" / "support" / "roblox_standin.lua"


@pytest.fixture(scope="module")
def server(standalone_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    settings = Settings(
        redis_url=standalone_url, data_dir=tmp_path_factory.mktemp("data"), demo_workspace=False
    )
    srv = ServerThread(settings)
    srv.start()
    yield srv
    srv.stop()


async def _new_workspace(redis_url: str) -> tuple[str, dict[str, str]]:
    redis = make_redis(redis_url, timeout=5)
    try:
        return await WorkspaceStore(redis, Keys()).create_workspace("Roblox cafe")
    finally:
        await redis.aclose()


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None
    at: float  # virtual time
    answer: str | None = None  # the response body, when the server answered


@dataclass
class Roblox:
    """One game server: a Lua 5.1 runtime with the stand-in and the module loaded."""

    server: ServerThread
    workspace: str
    keys: dict[str, str]
    lua: Any = None
    sched: Any = None
    module: Any = None
    sent: list[Sent] = field(default_factory=list)
    # Injected faults, consumed one per request: ("status", code, retry_after) answers without
    # reaching the server; "lost" sends the request, then throws as a timeout would; "refuse"
    # throws as a refused connection does; ("throw", message) throws that message.
    faults: list[Any] = field(default_factory=list)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    def __post_init__(self) -> None:
        self.lua = lua51.LuaRuntime(unpack_returned_tuples=True)
        py = self.lua.table_from(
            {
                "request": self._request,
                "encode": self._encode,
                "decode": self._decode,
                "guid": lambda: str(uuid.uuid4()).upper(),
                "urlencode": lambda s: urllib.parse.quote(s, safe=""),
            }
        )
        self.sched = self.lua.execute(STANDIN.read_text(), py)
        self.lua.globals().OrderLog_source = MODULE.read_text()
        self.module = self.lua.execute(
            "return assert(loadstring(OrderLog_source, '@OrderLog.lua'))()"
        )
        self.lua.globals().OrderLog = self.module
        self.lua.globals().sched = self.sched

    # -- what Roblox's C++ does ----------------------------------------------------------------
    def _request(
        self, now: float, method: str, url: str, headers: Any, body: str | None
    ) -> tuple[Any, ...]:
        plain = dict(headers.items())
        self.sent.append(Sent(method, url, plain, body, now))
        fault = self.faults.pop(0) if self.faults else None
        if fault == "refuse":
            return (False, "HttpError: ConnectFail")
        if isinstance(fault, tuple) and fault[0] == "throw":
            return (False, fault[1])
        if isinstance(fault, tuple):
            _, code, retry_after = fault
            extra = {"retry-after": str(retry_after)} if retry_after is not None else {}
            payload = {"error": "Synthetic", "statusCode": code, "message": f"injected {code}"}
            return (True, code, "Injected", self.lua.table_from(extra), json.dumps(payload))
        try:
            resp = self.http.request(
                method, url, headers=plain, content=body.encode() if body is not None else None
            )
        except httpx.ConnectError:
            return (False, "HttpError: ConnectFail")
        except httpx.TimeoutException:
            return (False, "HttpError: Timedout")
        if fault == "lost":
            return (False, "HttpError: Timedout")  # the server applied it; the answer is lost
        self.sent[-1].answer = resp.text
        return (
            True,
            resp.status_code,
            resp.reason_phrase,
            self.lua.table_from(dict(resp.headers)),
            resp.text,
        )

    def _encode(self, value: Any) -> str:
        return json.dumps(self._to_py(value), separators=(",", ":"), ensure_ascii=False)

    def _to_py(self, value: Any) -> Any:
        """Roblox's JSONEncode: a table with [1] is an array (its string keys are dropped), an
        empty table is [], nil is absent."""
        kind = lua51.lua_type(value)
        if kind == "table":
            if value[1] is not None:
                return [self._to_py(value[i]) for i in range(1, len(value) + 1)]
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValueError("JSONEncode: a dictionary key is not a string")
                out[key] = self._to_py(item)
            return out if out else []
        if kind is not None:
            raise ValueError(f"JSONEncode: cannot encode a {kind}")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    def _decode(self, text: str) -> Any:
        return self._to_lua(json.loads(text))

    def _to_lua(self, value: Any) -> Any:
        """Roblox's JSONDecode: null is nil (a key with null vanishes)."""
        if isinstance(value, dict):
            return self.lua.table_from(
                {k: self._to_lua(v) for k, v in value.items() if v is not None}
            )
        if isinstance(value, list):
            table = self.lua.table()
            for i, v in enumerate(value, 1):
                if v is not None:
                    table[i] = self._to_lua(v)
            return table
        return value

    # -- driving the game server -----------------------------------------------------------------
    def run(self, script: str, *, limit: float = 3600) -> Any:
        """Runs a Lua chunk as a script thread until it ends (virtual time at most ``limit`` s);
        returns its first result."""
        fn = self.lua.execute(f"return function() {script}\nend")
        record = self.sched.run(fn)
        self.drive(lambda: bool(record.done), limit=limit)
        return record.results[1]

    def drive(self, until: Callable[[], bool], *, limit: float = 3600) -> None:
        """Steps the scheduler until ``until()``; fails on a Lua error, idleness or the limit."""
        end = float(self.sched.now) + limit
        real_end = time.monotonic() + 30
        while not until():
            self.check()
            assert float(self.sched.now) <= end, "virtual time limit passed"
            assert time.monotonic() < real_end, "real time limit passed"
            assert self.sched.step(), "every thread is waiting for nothing"
        self.check()

    def settle(self, *, limit: float = 3600) -> None:
        """Runs until every thread waits for nothing (the worker idles with an empty queue)."""
        end = float(self.sched.now) + limit
        real_end = time.monotonic() + 30
        while self.sched.step():
            self.check()
            assert float(self.sched.now) <= end, "virtual time limit passed"
            assert time.monotonic() < real_end, "real time limit passed"
        self.check()
        assert self.stats()["queued"] == 0

    def stats(self) -> dict[str, Any]:
        return dict(self.module.getStats().items())

    def check(self) -> None:
        errors = list(self.sched.errors.values())
        assert not errors, "\n".join(errors)

    def setup(self, options: str = "") -> None:
        self.run(
            f'OrderLog.setupAPI("{self.keys["write"]}", "{self.workspace}", '
            f'{{baseUrl = "{self.server.url}"{", " + options if options else ""}}})'
        )

    def get(self, path: str) -> httpx.Response:
        return self.http.get(
            f"{self.server.url}/v1/workspaces/{self.workspace}{path}",
            headers={"Authorization": f"Bearer {self.keys['read']}"},
        )

    def order(self, order_id: str) -> dict[str, Any]:
        resp = self.get(f"/orders/{order_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]

    def count_orders(self) -> int:
        """How many orders exist: the first order number that is not found, minus one."""
        n = 0
        while self.get(f"/orders/by-number/{n + 1}").status_code == 200:
            n += 1
        return n


def lua_dict(value: Any) -> Any:
    """A Lua table as Python dicts and lists."""
    if lua51.lua_type(value) != "table":
        return value
    keys = list(value.keys())
    if keys and all(isinstance(k, int) for k in keys):
        return [lua_dict(value[i]) for i in sorted(keys)]
    return {k: lua_dict(v) for k, v in value.items()}


@pytest.fixture
def roblox(server: ServerThread, redis_url: str) -> Iterator[Roblox]:
    workspace, keys = asyncio.run(_new_workspace(redis_url))
    game = Roblox(server, workspace, keys)
    game.lua.execute(
        """
        customer = sched.player(261, "shedletsky", "Shedletsky")
        cashier = sched.player(156, "builderman", "Builderman")
        chef = sched.player(1001, "chef_kim", "Kim")
        errors = {}
        """
    )
    yield game
    game.http.close()
    # The key goes in the Authorization header and nowhere else, in every request made.
    for sent in game.sent:
        for key in keys.values():
            assert key not in sent.url
            assert sent.body is None or key not in sent.body
        assert sent.headers["Authorization"].startswith("Bearer olk_")


ON_ERROR = (
    "onError = function(message, info) table.insert(errors, {message = message, info = info}) end"
)


def test_roblox_seed_lifecycle_reaches_server(roblox: Roblox) -> None:
    """The seed's calls, unchanged, create an order and move it through its life on the server."""
    roblox.setup()
    res = lua_dict(
        roblox.run(
            """
            local res = OrderLog.createOrder(customer, cashier, {
                items = {"Latte", "Cookie"}, status = "waiting_for_preparation"})
            return {error = res.error, id = res.id, order_number = res.order_number}
            """
        )
    )
    assert res.get("error") is None
    assert res["order_number"] == 1
    oid = res["id"]
    roblox.lua.globals().oid = oid
    roblox.run(
        """
        OrderLog.setWaiting(oid)
        OrderLog.setPreparing(oid, chef)
        OrderLog.setReprepare(oid)
        OrderLog.setPreparing(oid, chef)
        OrderLog.setReadyForPickup(oid)
        OrderLog.setComplete(oid)
        """
    )
    roblox.settle()
    order = roblox.order(oid)
    assert order["status"] == "completed"
    assert [i["name"] for i in order["items"]] == ["Latte", "Cookie"]
    assert order["customer"]["username"] == "shedletsky"
    statuses = [h["status"] for h in order["history"]]
    assert statuses == [
        "waiting_for_preparation",
        "preparing",
        "finding_new_colleague",
        "preparing",
        "waiting_for_pickup",
        "completed",
    ]
    preparing = next(h for h in order["history"] if h["status"] == "preparing")
    assert preparing["actor"]["username"] == "chef_kim"
    # The five updates queued together went as one batch (plus the create before them).
    assert roblox.stats()["requests"] == 2
    assert [s.url.rsplit("/", 1)[1] for s in roblox.sent] == ["batch", "batch"]


def test_roblox_hand_to_records_giver_and_recipient(roblox: Roblox) -> None:
    """setHandedTo(id, from, to) records who handed the order over and to whom."""
    roblox.setup()
    oid = roblox.run(
        """
        local res = OrderLog.createOrder(customer, 1, {items = {{name = "Tea", quantity = 2}}})
        OrderLog.setHandedTo(res.id, cashier, customer)
        return res.id
        """
    )
    roblox.settle()
    order = roblox.order(oid)
    assert order["status"] == "handed_to"
    assert order["handed_by"]["username"] == "builderman"
    assert order["handed_to"]["username"] == "shedletsky"
    assert order["cashier"]["username"] == "POS"  # system actor 1
    assert order["items"] == [{"name": "Tea", "quantity": 2}]


def test_roblox_async_create_takes_updates_before_its_id(roblox: Roblox) -> None:
    """Updates queued on createOrderAsync's handle go with order_ref in the same batch, and by id
    in a later one; the callback gets the id and order number."""
    roblox.setup("batchSize = 3")
    roblox.run(
        """
        handle = OrderLog.createOrderAsync(customer, cashier, {items = {"Mocha"}, metadata = {}},
            function(res) created = res end)
        OrderLog.setWaiting(handle)
        OrderLog.setPreparing(handle, chef)
        OrderLog.setReadyForPickup(handle)   -- the fourth op: a second batch, by id
        """
    )
    roblox.settle()
    created = lua_dict(roblox.lua.globals().created)
    assert created.get("error") is None
    handle = lua_dict(roblox.lua.globals().handle)
    assert handle["id"] == created["id"]
    assert handle["order_number"] == created["order_number"] == 1
    first, second = (json.loads(s.body or "") for s in roblox.sent)
    assert [op.get("order_ref") for op in first["operations"]] == [None, "c1", "c1"]
    assert first["operations"][0]["ref"] == "c1"
    assert first["operations"][0]["metadata"] == []  # Roblox encodes {} as []; the server takes it
    assert second["operations"] == [
        {"op": "status", "id": created["id"], "status": "waiting_for_pickup"}
    ]
    # Later calls with the handle use the id.
    roblox.run("OrderLog.setComplete(handle)")
    roblox.settle()
    order = roblox.order(created["id"])
    assert [h["status"] for h in order["history"]] == [
        "submitted",
        "waiting_for_preparation",
        "preparing",
        "waiting_for_pickup",
        "completed",
    ]


def windows(sent: list[Sent], width: float = 60) -> int:
    """The most requests in any window [t, t + width) of virtual time."""
    times = sorted(s.at for s in sent)
    return max(sum(1 for u in times if t <= u < t + width) for t in times)


QUEUE_1000 = """
    for i = 1, 200 do
        local p = {UserId = 5000 + i, Name = "guest" .. i}
        local h = OrderLog.createOrderAsync(p, 2, {items = {"Latte"}, status = "submitted"})
        handles[i] = h
        OrderLog.setWaiting(h)
        OrderLog.setPreparing(h, chef)
        OrderLog.setReadyForPickup(h)
        OrderLog.setHandedTo(h, cashier, p)
        OrderLog.setComplete(h)
    end
"""


def test_roblox_batches_1000_updates_within_budget(roblox: Roblox) -> None:
    """200 creates and 1,000 updates queued at once all arrive, in order per order, in a dozen
    requests; with a tiny budget they take minutes and no 60 s window holds more than it."""
    roblox.setup()
    roblox.lua.execute("handles = {}")
    roblox.run(QUEUE_1000)
    roblox.settle()
    stats = roblox.stats()
    print(f"\n1,000 updates + 200 creates, default options: {stats['requests']} requests")
    assert stats["failed"] == 0
    assert stats["operations"] == 1200
    assert stats["requests"] == 12  # 100 operations per request
    assert windows(roblox.sent) <= 120
    ids = [roblox.lua.globals().handles[i].id for i in range(1, 201)]
    for oid in ids[::20]:
        history = [h["status"] for h in roblox.order(oid)["history"]]
        assert history == [
            "submitted",
            "waiting_for_preparation",
            "preparing",
            "waiting_for_pickup",
            "handed_to",
            "completed",
        ]


def test_roblox_budget_holds_when_it_binds(roblox: Roblox) -> None:
    """With 10 requests a minute and 20 operations a request, 1,200 operations take 60 requests
    over six minutes of (virtual) time and never more than 10 in any 60 s window."""
    roblox.setup("budgetPerMinute = 10, burst = 3, batchSize = 20")
    roblox.lua.execute("handles = {}")
    roblox.run(QUEUE_1000)
    roblox.settle()
    stats = roblox.stats()
    busiest = windows(roblox.sent)
    span = roblox.sent[-1].at - roblox.sent[0].at
    print(
        f"\nbudget 10/min: {stats['requests']} requests over {span:.0f} s, busiest minute {busiest}"
    )
    assert stats["failed"] == 0
    assert stats["requests"] == 60
    assert busiest <= 10
    assert roblox.order(roblox.lua.globals().handles[200].id)["status"] == "completed"


def test_roblox_retries_503_429_and_lost_answers_without_duplicates(roblox: Roblox) -> None:
    """A lost answer, a 503 and a 429 are retried with the same bytes and Idempotency-Key:
    one order is created, at least Retry-After apart."""
    roblox.setup()
    roblox.faults[:] = ["lost", ("status", 503, None), ("status", 429, 7)]
    res = lua_dict(
        roblox.run(
            """
            local res = OrderLog.createOrder(customer, cashier, {items = {"Latte"}})
            return {error = res.error, id = res.id, order_number = res.order_number}
            """
        )
    )
    assert res.get("error") is None
    assert res["order_number"] == 1
    assert len(roblox.sent) == 4
    assert len({s.body for s in roblox.sent}) == 1
    assert len({s.headers["Idempotency-Key"] for s in roblox.sent}) == 1
    assert roblox.sent[3].at - roblox.sent[2].at >= 7  # Retry-After honoured
    assert roblox.count_orders() == 1
    # The next batch is another request: another key.
    roblox.lua.globals().oid = res["id"]
    roblox.run("OrderLog.setPreparing(oid, chef)")
    roblox.settle()
    assert roblox.sent[-1].headers["Idempotency-Key"] != roblox.sent[0].headers["Idempotency-Key"]
    assert roblox.stats()["retries"] == 3
    assert [h["status"] for h in roblox.order(res["id"])["history"]] == ["submitted", "preparing"]


def test_roblox_server_down_then_back_loses_nothing(roblox: Roblox) -> None:
    """Orders made while the server is down wait in the queue and all arrive once it is back."""
    roblox.setup()
    roblox.server.stop()
    try:
        roblox.lua.execute("handles = {}")
        roblox.run(
            """
            for i = 1, 10 do
                local p = {UserId = 7000 + i, Name = "diner" .. i}
                handles[i] = OrderLog.createOrderAsync(p, 4, {items = {"Soup"}})
                OrderLog.setPreparing(handles[i], chef)
                OrderLog.setComplete(handles[i])
            end
            """
        )
        start = float(roblox.sched.now)
        roblox.drive(lambda: float(roblox.sched.now) > start + 180)
        stats = roblox.stats()
        assert stats["queued"] + stats["sending"] == 30
        assert stats["failed"] == 0
        assert stats["retries"] >= 5
    finally:
        roblox.server.start()
    roblox.settle()
    assert roblox.stats()["failed"] == 0
    for i in range(1, 11):
        order = roblox.order(roblox.lua.globals().handles[i].id)
        assert order["status"] == "completed"
    assert roblox.count_orders() == 10


def test_roblox_bind_to_close_flushes_the_queue(roblox: Roblox) -> None:
    """At shutdown the queue is sent at once (no lingering) within 25 s."""
    roblox.setup("flushInterval = 60")
    oid = roblox.run('return OrderLog.createOrder(customer, cashier, {items = {"Pie"}}).id')
    roblox.run(
        """
        OrderLog.setPreparing(...)
        OrderLog.setReadyForPickup(...)
        """.replace("...", f'"{oid}"')
    )
    roblox.drive(lambda: float(roblox.sched.now) > 5)
    assert roblox.stats()["queued"] == 2  # lingering for company
    start = float(roblox.sched.now)
    records = roblox.sched.close()
    roblox.drive(lambda: all(r.done for r in records.values()), limit=30)
    assert float(roblox.sched.now) - start < 25
    assert roblox.order(oid)["status"] == "waiting_for_pickup"


def test_roblox_bind_to_close_gives_up_after_25_seconds(roblox: Roblox) -> None:
    """A shutdown with the server unreachable ends within 25 s and reports what was not sent;
    in Studio with nothing queued it returns at once."""
    roblox.setup(ON_ERROR)
    roblox.faults[:] = ["refuse"] * 100
    roblox.run('OrderLog.createOrderAsync(customer, cashier, {items = {"Pie"}})')
    start = float(roblox.sched.now)
    records = roblox.sched.close()
    roblox.drive(lambda: all(r.done for r in records.values()), limit=30)
    assert float(roblox.sched.now) - start <= 25.5
    roblox.settle()
    errors = lua_dict(roblox.lua.globals().errors)
    assert len(errors) == 1
    assert "shut down" in errors[0]["message"]

    studio = Roblox(roblox.server, roblox.workspace, roblox.keys)
    studio.sched.studio = True
    studio.setup()
    records = studio.sched.close()
    studio.drive(lambda: all(r.done for r in records.values()), limit=1)
    assert float(studio.sched.now) == 0
    assert studio.sent == []
    studio.http.close()


def test_roblox_client_errors_surface_without_retry(roblox: Roblox) -> None:
    """A 4xx is not retried: it is res.error and onError; one bad op does not sink its batch."""
    roblox.setup(ON_ERROR)
    out = lua_dict(
        roblox.run(
            """
            local good = OrderLog.createOrderAsync(customer, cashier, {items = {"Latte"}})
            local bad = OrderLog.createOrder(customer, cashier, {status = "baking"})
            local done = OrderLog.createOrder(customer, cashier, {status = "completed"})
            OrderLog.setPreparing(done.id, chef)   -- completed orders do not move: 409
            local none = OrderLog.createOrder(nil, cashier, {})
            local ok, problem = OrderLog.setWaiting("not-an-id")
            local check = OrderLog.getOrder(good)
            return {bad = bad.error, none = none.error, ok = ok, problem = problem,
                    good = check.order.status, done = done.error}
            """
        )
    )
    roblox.settle()
    assert out["bad"].startswith("status: ")
    assert "customer" in out["none"]
    assert out["ok"] is False
    assert "order id" in out["problem"]
    assert out["good"] == "submitted"  # sent again without the bad op
    assert out.get("done") is None
    errors = lua_dict(roblox.lua.globals().errors)
    codes = [e["info"].get("statusCode") for e in errors]
    assert 422 in codes
    assert 409 in codes
    assert len(errors) == 4  # bad create, 409, no customer, bad id
    assert roblox.stats()["retries"] == 0
    assert roblox.count_orders() == 2


def test_roblox_bad_key_is_an_error_not_a_retry(roblox: Roblox) -> None:
    """A wrong API key answers 401 at once, through res.error."""
    roblox.run(
        f'OrderLog.setupAPI("olk_wrong", "{roblox.workspace}", {{baseUrl = "{roblox.server.url}"}})'
    )
    error = roblox.run("return OrderLog.createOrder(customer, cashier, {}).error")
    assert "key" in error.lower()
    assert len(roblox.sent) == 1
    roblox.sent.clear()  # the fixture checks the real keys; this one was wrong on purpose
    # A wrong baseUrl: a 404, reported without a retry.
    roblox.run(
        f'OrderLog.setupAPI("{roblox.keys["write"]}", "{roblox.workspace}", '
        f'{{baseUrl = "{roblox.server.url}/wrong/"}})'
    )
    error = roblox.run("return OrderLog.createOrder(customer, cashier, {}).error")
    assert "No route" in error
    assert len(roblox.sent) == 1
    assert roblox.sent[0].url == f"{roblox.server.url}/wrong/v1/workspaces/{roblox.workspace}/batch"


def test_roblox_secret_key_and_studio_players(roblox: Roblox) -> None:
    """A Secret from HttpService:GetSecret works as the key; Studio's test players (id <= 0, no
    display name) are accepted; getOrder sees the updates queued before it."""
    roblox.sched.secrets["orderlog"] = roblox.keys["write"]
    roblox.run(
        f'OrderLog.setupAPI(game:GetService("HttpService"):GetSecret("orderlog"), '
        f'"{roblox.workspace}", {{baseUrl = "{roblox.server.url}"}})'
    )
    out = lua_dict(
        roblox.run(
            """
            local player1 = sched.player(-1, "Player1", "")
            local res = OrderLog.createOrder(player1, player1, {items = {}})
            OrderLog.setCancelled(res.id, "Left the game")
            local got = OrderLog.getOrder(res.id)
            return {error = got.error, status = got.order.status, user = got.order.customer.user_id}
            """
        )
    )
    assert out.get("error") is None
    assert out["status"] == "cancelled"
    assert out["user"] == "-1"
    assert roblox.sent[0].headers["Authorization"] == f"Bearer {roblox.keys['write']}"


def test_roblox_create_gives_up_only_when_never_sent(roblox: Roblox) -> None:
    """While the server is down, a yielding createOrder still queued behind the batch being
    retried answers an error after createTimeout and is never sent; the batch arrives later."""
    roblox.setup("createTimeout = 30")
    roblox.server.stop()
    try:
        roblox.run('first = OrderLog.createOrderAsync(customer, cashier, {items = {"Tea"}})')
        roblox.drive(lambda: roblox.stats()["sending"] == 1)
        res = lua_dict(
            roblox.run(
                """
                local res = OrderLog.createOrder(customer, cashier, {items = {"Cake"}})
                OrderLog.setComplete(res.handle)   -- fails too: its order was never created
                return {error = res.error}
                """
            )
        )
        assert "not sent within 30 s" in res["error"]
    finally:
        roblox.server.start()
    roblox.settle()
    assert roblox.stats()["failed"] == 2
    assert roblox.count_orders() == 1
    assert roblox.order(roblox.lua.globals().first.id)["items"] == [{"name": "Tea", "quantity": 1}]


def test_roblox_http_disabled_is_reported_not_retried(roblox: Roblox) -> None:
    """RequestAsync throwing 'Http requests are not enabled' fails the call at once."""
    roblox.setup()
    roblox.faults[:] = [("throw", "Http requests are not enabled. Enable via game settings")]
    error = roblox.run("return OrderLog.createOrder(customer, cashier, {}).error")
    assert "not enabled" in error
    assert len(roblox.sent) == 1
    assert roblox.lua.globals().sched.warnings[1].startswith("OrderLog: Http requests")


@pytest.mark.parametrize("path", sorted(MODULE.parent.glob("*.lua")), ids=lambda p: p.name)
def test_roblox_sources_are_lua51(path: Path) -> None:
    """The module and the examples compile as Lua 5.1 (no Luau-only syntax)."""
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().source = path.read_text()
    ok, problem = lua.execute(f"local f, e = loadstring(source, '@{path.name}') return f ~= nil, e")
    assert ok, problem


def test_roblox_get_events_uses_the_read_key(roblox: Roblox) -> None:
    """getEvents sends the read key (a Secret here) in the header and its query in the URL."""
    roblox.sched.secrets["orderlog_read_key"] = roblox.keys["read"]
    roblox.setup()
    roblox.run(
        """
        local key = game:GetService("HttpService"):GetSecret("orderlog_read_key")
        local options = {wait = 5, readKey = key, status = "waiting_for_pickup"}
        answer, problem = OrderLog.getEvents("1:2-0", options)
        """
    )
    sent = roblox.sent[-1]
    assert sent.method == "GET"
    assert sent.url.endswith(
        f"/v1/workspaces/{roblox.workspace}/events?wait=5&after=1%3A2-0&status=waiting_for_pickup"
    )
    assert sent.headers["Authorization"] == f"Bearer {roblox.keys['read']}"
    # A cursor from no stream: the server answers a snapshot to start from.
    answer = lua_dict(roblox.lua.globals().answer)
    assert not answer["events"]
    assert "orders" in answer
    assert answer["cursor"]


def test_roblox_oversized_batch_is_split(roblox: Roblox) -> None:
    """Batches stay under maxBatchBytes; one the server still finds too large (413) is sent
    again in halves, and every order arrives once."""
    roblox.setup("maxBatchBytes = 1000000")
    roblox.run(
        """
        local notes = string.rep("x", 3900)
        for i = 1, 20 do
            OrderLog.createOrderAsync(customer, cashier, {metadata = {notes = notes}})
        end
        """
    )
    roblox.settle()
    sizes = [len(s.body or "") for s in roblox.sent]
    assert len(sizes) == 3
    assert sizes[0] > 65536  # refused with 413, then sent in two halves
    assert max(sizes[1:]) < 65536
    assert roblox.stats()["failed"] == 0
    assert roblox.count_orders() == 20

    again = Roblox(roblox.server, roblox.workspace, roblox.keys)
    again.setup()
    again.run(
        """
        local notes = string.rep("x", 3900)
        for i = 1, 20 do
            OrderLog.createOrderAsync({UserId = 1, Name = "a"}, nil, {metadata = {notes = notes}})
        end
        """
    )
    again.settle()
    assert all(len(s.body or "") <= 60000 for s in again.sent)
    assert len(again.sent) == 2
    assert again.count_orders() == 40
    again.http.close()


def test_roblox_setup_again_keeps_the_budget_spent(roblox: Roblox) -> None:
    """Calling setupAPI a second time (another script) does not hand out a fresh budget."""
    roblox.setup("budgetPerMinute = 5, burst = 5")
    roblox.run("for i = 1, 5 do OrderLog.createOrder(customer, cashier, {}) end")
    roblox.setup("budgetPerMinute = 5, burst = 5")
    roblox.run("OrderLog.createOrder(customer, cashier, {})", limit=120)
    assert len(roblox.sent) == 6
    assert roblox.sent[5].at - roblox.sent[0].at >= 60
    assert roblox.count_orders() == 6


BOARD_STUBS = """
    local gui = {Name = "SurfaceGui", children = {}}
    function gui:FindFirstChild(name) return self.children[name] end
    local part = {}
    function part:WaitForChild(name) return gui end
    script = {Parent = part}
    local modules = {Exporter = OrderLog}
    local ServerScriptService = {}
    function ServerScriptService:WaitForChild(name) return {Name = name} end
    local getService = game.GetService
    function game:GetService(name)
        if name == "ServerScriptService" then return ServerScriptService end
        return getService(self, name)
    end
    function require(moduleScript) return modules[moduleScript.Name] end
    created = {}
    Instance = {new = function(class)
        local instance = {ClassName = class}
        table.insert(created, instance)
        return instance
    end}
    UDim2 = {fromScale = function(x, y) return {x, y} end}
    Enum = {Font = {GothamBold = "GothamBold"}}
"""


def test_roblox_pickup_board_shows_ready_numbers(roblox: Roblox) -> None:
    """The PickupBoard example starts from the snapshot's ready orders and adds the order that
    becomes ready during its long-poll."""
    roblox.sched.secrets["orderlog_read_key"] = roblox.keys["read"]
    roblox.setup()
    roblox.run('OrderLog.createOrder(customer, cashier, {status = "waiting_for_pickup"})')
    second = roblox.run('return OrderLog.createOrder(customer, cashier, {status = "preparing"}).id')
    roblox.lua.execute(BOARD_STUBS)
    board = roblox.lua.execute(
        "return function() " + (MODULE.parent / "PickupBoard.server.lua").read_text() + "\nend"
    )
    # Poll 1 answers the snapshot, poll 2 waits until the order below becomes ready, poll 3 is
    # refused, so the board waits and the test gets control back.
    roblox.faults[:] = [None, None, "refuse"]
    url = f"{roblox.server.url}/v1/workspaces/{roblox.workspace}/orders/{second}/status"
    timer = threading.Timer(
        0.5,
        lambda: httpx.post(
            url,
            json={"status": "waiting_for_pickup"},
            headers={"Authorization": f"Bearer {roblox.keys['write']}"},
        ),
    )
    timer.start()
    try:
        roblox.sched.run(board)

        def label() -> str:
            created = roblox.lua.globals().created
            return str(created[1].Text) if created[1] is not None else ""

        roblox.drive(lambda: "#2" in label(), limit=30)
    finally:
        timer.join()
    assert label() == "Ready\n#1  #2"
    polls = [s.url for s in roblox.sent if "/events" in s.url]
    assert "after=" not in polls[0]
    assert "after=" in polls[1]
    assert all("status=waiting_for_pickup" in p for p in polls)


def test_roblox_unencodable_operation_fails_alone(roblox: Roblox) -> None:
    """An operation JSONEncode cannot encode fails by itself; the worker carries on."""
    roblox.setup(ON_ERROR)
    out = lua_dict(
        roblox.run(
            """
            local bad = OrderLog.createOrder(customer, cashier, {metadata = {f = print}})
            local good = OrderLog.createOrder(customer, cashier, {status = 5})
            local fine = OrderLog.createOrder(customer, cashier, {items = {"Tea"}})
            return {bad = bad.error, good = good.error, fine = fine.order_number}
            """
        )
    )
    assert "cannot encode" in out["bad"]
    assert "status must be a string" in out["good"]
    assert out["fine"] == 1
    assert len(lua_dict(roblox.lua.globals().errors)) == 2


def test_roblox_concurrent_creates_share_a_batch(roblox: Roblox) -> None:
    """Fifty script threads calling createOrder at once yield together, go in one request, and
    each gets its own order back."""
    roblox.setup()
    roblox.run(
        """
        results = {}
        for i = 1, 50 do
            task.spawn(function()
                local p = {UserId = 100 + i, Name = "guest" .. i}
                local res = OrderLog.createOrder(p, cashier, {items = {"Tea"}})
                results[i] = res.order_number
            end)
        end
        """
    )
    roblox.drive(lambda: len(roblox.lua.globals().results) == 50)
    numbers = [roblox.lua.globals().results[i] for i in range(1, 51)]
    assert numbers == list(range(1, 51))
    assert len(roblox.sent) == 1


def test_roblox_standin_encodes_like_roblox(roblox: Roblox) -> None:
    """The stand-in's JSONEncode has Roblox's quirks the module must live with."""
    encoded = lua_dict(
        roblox.run(
            """
            local H = game:GetService("HttpService")
            return {H:JSONEncode({}), H:JSONEncode({1, 2, x = 3}), H:JSONEncode({a = nil, b = 1})}
            """
        )
    )
    assert encoded == ["[]", "[1,2]", '{"b":1}']
