"""clients/roblox/OrderLog.lua in the Luau VM, under an engine stand-in with Roblox's rules
(tests/support/roblox_engine.lua), against a real orderlog server over the suite's real Redis.

Virtual time: an hour of outage runs in a second. The server being down is either the real
server stopped and started again, or a host that does not resolve; faults that need precise
timing (a 429 with Retry-After, an answer lost after the server applied the request) are
injected per request.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orderlog.keys import Keys
from orderlog.settings import Settings
from orderlog.store.client import make_redis
from orderlog.store.workspaces import WorkspaceStore
from support.roblox_engine import BASE_URL, CLIENT, HOST, Game, Internet, luau
from support.server import ServerThread


@pytest.fixture(scope="module")
def server(standalone_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    luau()  # skip (or fail in CI) before starting anything when the VM cannot load
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


class Cafe:
    """A workspace on the real server, the internet that reaches it, and its games."""

    def __init__(self, server: ServerThread, workspace: str, keys: dict[str, str]) -> None:
        self.server = server
        self.workspace = workspace
        self.keys = keys
        self.internet = Internet(routes={HOST: server.url})
        self.games: list[Game] = []
        self.http = httpx.Client(timeout=10)

    def game(self, *, studio: bool = False, http: bool = True, install: bool = True) -> Game:
        game = Game(self.internet, studio=studio, http=http)
        self.games.append(game)
        if install:
            game.install()
            game.run(
                """
                customer = game:GetService("Players"):FindFirstChild("shedletsky")
                cashier = game:GetService("Players"):FindFirstChild("builderman")
                chef = game:GetService("Players"):FindFirstChild("chef_kim")
                """
            )
        return game

    def setup(self, game: Game, options: str = "", *, key: str | None = None) -> None:
        key = self.keys["write"] if key is None else key
        game.run(
            f'OrderLog.setupAPI("{key}", "{self.workspace}", '
            f'{{baseUrl = "{BASE_URL}"{", " + options if options else ""}}})'
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

    def orders(self) -> list[dict[str, Any]]:
        """Every order of the workspace, oldest first."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            resp = self.http.get(
                f"{self.server.url}/v1/workspaces/{self.workspace}/orders",
                params=params,
                headers={"Authorization": f"Bearer {self.keys['read']}"},
            )
            assert resp.status_code == 200, resp.text
            body = resp.json()
            out += body["orders"]
            cursor = body.get("next_cursor")
            if not cursor:
                return sorted(out, key=lambda o: o["order_number"])


@pytest.fixture
def cafe(server: ServerThread, redis_url: str) -> Iterator[Cafe]:
    workspace, keys = asyncio.run(_new_workspace(redis_url))
    c = Cafe(server, workspace, keys)
    yield c
    c.http.close()
    c.internet.http.close()
    for game in c.games:
        # The key goes in the Authorization header and nowhere else, in every request made.
        for sent in game.sent:
            for key in keys.values():
                assert key not in sent.url
                assert sent.body is None or key not in sent.body


def players(game: Game) -> None:
    game.player(261, "shedletsky", "Shedletsky")
    game.player(156, "builderman", "Builderman")
    game.player(1001, "chef_kim", "Kim")


@pytest.fixture
def game(cafe: Cafe) -> Game:
    g = cafe.game(install=False)
    players(g)
    g.install()
    g.run(
        """
        local Players = game:GetService("Players")
        customer = Players.shedletsky
        cashier = Players.builderman
        chef = Players.chef_kim
        errors = {}
        """
    )
    return g


ON_ERROR = (
    "onError = function(message, info) table.insert(errors, {message = message, info = info}) end"
)


def max_in_window(times: list[float], window: float = 60) -> int:
    """The most requests made in any `window` seconds."""
    best = 0
    for i, start in enumerate(times):
        best = max(best, sum(1 for t in times[i:] if t - start < window))
    return best


# -- the seed's calls, drop-in -----------------------------------------------------------------


def test_luau_seed_calls_answer_tables_with_error_nil(cafe: Cafe, game: Game) -> None:
    """Seed-style code works unchanged: createOrder and every set... return a table whose
    `error` is nil, and the order goes through its whole life on the server."""
    cafe.setup(game)
    out = game.run(
        """
        local res = OrderLog.createOrder(customer, cashier, {
            items = {"Latte", "Cookie"}, status = "waiting_for_preparation"})
        if res.error then return {failed = res.error} end
        local id = res.id
        local answers = {
            OrderLog.setWaiting(id), OrderLog.setPreparing(id, chef), OrderLog.setReprepare(id),
            OrderLog.setPreparing(id, chef), OrderLog.setReadyForPickup(id),
            OrderLog.setComplete(id),
        }
        local errors = {}
        for i, r in answers do
            if r.error then table.insert(errors, r.error) end
            assert(r.id == id and r.queued == true, "set... answers the order's id")
        end
        return {id = id, number = res.order_number, errors = errors, status = answers[6].status}
        """
    )
    assert "failed" not in out
    assert out["number"] == 1
    assert out["status"] == "completed"
    assert not out.get("errors")
    game.settle()
    order = cafe.order(out["id"])
    assert [h["status"] for h in order["history"]] == [
        "waiting_for_preparation",
        "preparing",
        "finding_new_colleague",
        "preparing",
        "waiting_for_pickup",
        "completed",
    ]
    assert order["customer"]["username"] == "shedletsky"
    assert [i["name"] for i in order["items"]] == ["Latte", "Cookie"]
    # The create, then the six updates together in one batch.
    assert [s.url.rsplit("/", 1)[1] for s in game.sent] == ["batch", "batch"]


def test_luau_priority_on_create_and_set_later_in_queue_order(cafe: Cafe, game: Game) -> None:
    """createOrder's priority option and setPriority reach the server in order with the status
    changes (one batch, naming a create still in flight by its handle); a priority that is not
    "normal" or "rush" fails its call at once, naming it, and sends nothing."""
    cafe.setup(game, ON_ERROR)
    out = game.run(
        """
        local rush = OrderLog.createOrder(customer, cashier, {items = {"Tea"}, priority = "rush"})
        local later = OrderLog.createOrderAsync(customer, cashier, {items = {"Cake"}})
        OrderLog.setPreparing(later, chef)
        local queued = OrderLog.setPriority(later, "rush", {actor = chef,
            callback = function(r) answer = r end})
        OrderLog.setPriority(rush.id, "normal")
        local bad = OrderLog.setPriority(rush.id, "urgent")
        local badCreate = OrderLog.createOrder(customer, cashier, {priority = "high" :: any})
        OrderLog.flush()
        task.wait(1)
        return {rush = rush.order and rush.order.priority, queued = queued.queued,
            later = later.id, bad = bad.error, badCreate = badCreate.error,
            answer = answer and answer.order and answer.order.priority, errors = #errors}
        """
    )
    assert out["rush"] == "rush"
    assert out["queued"] is True
    assert out["answer"] == "rush"
    assert (
        out["bad"] == 'OrderLog.setPriority: priority must be "normal" or "rush"; nothing was sent'
    )
    assert "priority" in out["badCreate"]
    assert out["errors"] == 2  # the two refused calls, reported; nothing the server refused
    game.settle()
    later = cafe.order(out["later"])
    assert later["priority"] == "rush"
    assert [h.get("priority") or h["status"] for h in later["history"]] == [
        "submitted",
        "preparing",
        "rush",
    ]
    assert later["history"][-1]["actor"]["username"] == "chef_kim"
    orders = cafe.orders()
    assert [o["priority"] for o in orders] == ["normal", "rush"]


def test_luau_refused_update_names_no_batch_internals(cafe: Cafe, game: Game) -> None:
    """A server refusal reaches onError and the callback without the batch's
    "operations[N]." prefix."""
    cafe.setup(game, ON_ERROR)
    out = game.run(
        """
        local res = OrderLog.createOrder(customer, cashier, {status = "completed"})
        OrderLog.setStatus(res.id, "preparing", {callback = function(r) answer = r end})
        OrderLog.setStatus(res.id, "no_such_status")
        OrderLog.flush()
        task.wait(1)
        return {answer = answer and answer.error, errors = errors}
        """
    )
    assert out["answer"]
    messages = [e["message"] for e in out["errors"]]
    assert len(messages) == 2
    for message in [out["answer"], *messages]:
        assert "operations[" not in message


def test_luau_studio_test_players_are_logged(cafe: Cafe) -> None:
    """Studio's test players (UserId 0 and -1) create orders and act on them."""
    game = cafe.game(install=False)
    game.player(-1, "Player1")
    game.player(0, "Player2")
    game.install()
    cafe.setup(game)
    oid = game.run(
        """
        local Players = game:GetService("Players")
        local res = OrderLog.createOrder(Players.Player1, Players.Player2, {items = {"Tea"}})
        assert(res.error == nil, res.error)
        OrderLog.setHandedTo(res.id, Players.Player2, Players.Player1)
        return res.id
        """
    )
    game.settle()
    order = cafe.order(oid)
    assert order["customer"]["user_id"] == "-1"
    assert order["cashier"]["user_id"] == "0"
    assert order["handed_to"]["user_id"] == "-1"
    assert order["status"] == "handed_to"


# -- never die ---------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["task.cancel", "coroutine.close"])
def test_luau_cancelled_waiter_does_not_stop_the_worker(cafe: Cafe, game: Game, how: str) -> None:
    """A thread waiting in createOrder that is cancelled or closed (a Promise's timeout) does
    not kill the worker: its order is still logged once, and later calls work."""
    cafe.setup(game)
    cafe.internet.latency = 2.0  # the answer comes while the caller is already gone
    game.run(
        f"""
        local waiting = task.spawn(function()
            OrderLog.createOrder(customer, cashier, {{items = {{"Tea"}}}})
            reached = true
        end)
        task.wait(1)
        {how}(waiting)
        """
    )
    cafe.internet.latency = 0.05
    out = game.run(
        """
        local res = OrderLog.createOrder(customer, cashier, {items = {"Mocha"}})
        return {error = res.error, number = res.order_number, reached = reached}
        """
    )
    assert out.get("error") is None
    assert out["number"] == 2
    assert out.get("reached") is None
    game.settle()
    assert [o["items"][0]["name"] for o in cafe.orders()] == ["Tea", "Mocha"]


def test_luau_failing_callbacks_do_not_stop_the_worker(cafe: Cafe, game: Game) -> None:
    """Errors in onError and in a createOrderAsync callback stay in their own threads."""
    cafe.setup(game, 'onError = function() error("onError broke") end')
    game.expected += ["callback broke", "onError broke"]
    game.run(
        """
        OrderLog.createOrderAsync(customer, cashier, {}, function() error("callback broke") end)
        OrderLog.setStatus(string.rep("a", 24), "preparing") -- no such order: onError runs
        OrderLog.flush()
        """
    )
    game.settle()
    errors = game.errors()
    assert any("callback broke" in e for e in errors)
    assert any("onError broke" in e for e in errors)
    number = game.run("return OrderLog.createOrder(customer, cashier, {}).order_number")
    assert number == 2


def test_luau_killed_worker_is_restarted_by_the_watchdog(cafe: Cafe, game: Game) -> None:
    """If the worker thread is killed, the watchdog starts a new one and says so; the batch
    that was in flight is resent with its key, so nothing is lost or doubled."""
    cafe.setup(game)
    cafe.internet.latency = 3.0
    game.run(
        """
        for i = 1, 3 do OrderLog.createOrderAsync(customer, cashier, {items = {"Tea"}}) end
        task.wait(1) -- the batch is in flight now
        """
    )
    killed = game.run(_kill_worker_source(game))
    assert killed == 1
    cafe.internet.latency = 0.05
    game.settle()
    assert any("started a new one" in w for w in game.output("warn"))
    assert game.stats()["restarts"] == 1
    assert len(cafe.orders()) == 3
    keys = {s.headers.get("Idempotency-Key") for s in game.sent}
    assert len(keys) == 1  # the resend carried the first attempt's key


def _kill_worker_source(game: Game) -> str:
    """Luau that closes the worker thread (found by where its function is defined)."""
    lines = (CLIENT / "OrderLog.lua").read_text()
    line = next(
        i
        for i, text in enumerate(lines.splitlines(), 1)
        if "workerThread = task.spawn(function()" in text
    )
    game.globals.set("__engine", game.engine)
    return f"""
        local n = 0
        for thread, where in __engine.threads do
            if where == "OrderLog:{line}" and coroutine.status(thread) == "suspended" then
                coroutine.close(thread)
                n += 1
            end
        end
        return n
    """


# -- never hang --------------------------------------------------------------------------------


def test_luau_unreachable_host_for_an_hour_is_bounded_and_warned(cafe: Cafe) -> None:
    """A host that does not resolve: createOrder returns within createTimeout with a readable
    error, a warning comes on the first failure and every 10th, requests back off to one per
    ~30 s; when the name resolves again the queued order is logged exactly once."""
    game = cafe.game(install=False)
    players(game)
    game.install()
    game.run("customer = game:GetService('Players').shedletsky")
    wrong = "orders.wrong-name.test"
    game.run(
        f'OrderLog.setupAPI("{cafe.keys["write"]}", "{cafe.workspace}", '
        + "{baseUrl = "
        + f'"https://{wrong}"'
        + "})"
    )
    started = game.now
    res = game.run(
        """
        local t = os.clock()
        local res = OrderLog.createOrder(customer, nil, {items = {"Latte"}})
        return {error = res.error, pending = res.pending, took = os.clock() - t}
        """
    )
    assert res["pending"] is True
    assert 29 <= res["took"] <= 31
    assert "does not resolve" in res["error"]
    game.advance(3600 - (game.now - started))
    requests = len(game.sent)
    assert 100 <= requests <= 200  # backoff reaches retryMax (30 s, jittered down to 15)
    warnings = [w for w in game.output("warn") if "request failed" in w]
    assert 10 <= len(warnings) <= requests // 10 + 1
    assert "does not resolve" in warnings[0]
    assert cafe.orders() == []
    cafe.internet.routes[wrong] = cafe.server.url  # the DNS record is fixed
    game.settle()
    orders = cafe.orders()
    assert len(orders) == 1
    assert orders[0]["items"][0]["name"] == "Latte"
    assert any("answers again" in line for line in game.output("print"))


def test_luau_permanent_failures_are_not_retried(cafe: Cafe, game: Game) -> None:
    """A refused key (401) fails the call at once, with a readable reason, and is not retried."""
    cafe.setup(game, ON_ERROR, key="olk_not_a_real_key")
    out = game.run("return OrderLog.createOrder(customer, cashier, {}).error")
    assert "401" in out
    assert "key" in out
    assert len(game.sent) == 1


def test_luau_secret_for_another_domain_is_permanent(cafe: Cafe, game: Game) -> None:
    """A Secret whose domain is not the server's: reported at once, never retried."""
    game.secret("orderlog_write_key", cafe.keys["write"], domain="other.example.com")
    game.run(
        f"""
        local key = game:GetService("HttpService"):GetSecret("orderlog_write_key")
        OrderLog.setupAPI(key, "{cafe.workspace}", {{baseUrl = "{BASE_URL}"}})
        """
    )
    out = game.run("return OrderLog.createOrder(customer, cashier, {}).error")
    assert "Secret" in out
    assert "domain" in out
    assert len(game.sent) == 0  # Roblox refuses it before anything is sent


def test_luau_secret_key_works_and_stays_in_the_header(cafe: Cafe, game: Game) -> None:
    """A Secret key with the server's domain is sent as the Authorization header."""
    game.secret("orderlog_write_key", cafe.keys["write"])
    game.run(
        f"""
        local key = game:GetService("HttpService"):GetSecret("orderlog_write_key")
        assert(tostring(key) == "Secret(orderlog_write_key)")
        OrderLog.setupAPI(key, "{cafe.workspace}", {{baseUrl = "{BASE_URL}"}})
        """
    )
    assert game.run("return OrderLog.createOrder(customer, cashier, {}).order_number") == 1
    assert game.sent[0].headers["Authorization"] == f"Bearer {cafe.keys['write']}"


def test_luau_http_disabled_on_a_live_server_fails_at_once(cafe: Cafe) -> None:
    """With HTTP requests off on a live server, setupAPI says how to turn them on and every
    call fails at once (nothing is queued to be lost silently)."""
    game = cafe.game(http=False, install=False)
    players(game)
    game.install()
    game.run("customer = game:GetService('Players').shedletsky")
    cafe.setup(game)
    assert any("Allow HTTP Requests" in w for w in game.output("warn"))
    out = game.run("return OrderLog.createOrder(customer, nil, {})")
    assert "Allow HTTP Requests" in out["error"]
    assert game.sent == []


@pytest.mark.parametrize(
    ("url", "studio", "refused"),
    [
        ("http://localhost:8000", False, "this machine"),
        ("http://127.0.0.1:8000", False, "this machine"),
        ("orders.example.com", False, "https://"),
        ("orders.example.com", True, "https://"),
    ],
)
def test_luau_setup_refuses_a_base_url_that_cannot_work(
    cafe: Cafe, url: str, studio: bool, refused: str
) -> None:
    """Outside Studio a localhost baseUrl is refused (it is Roblox's own machine); without a
    scheme it is refused anywhere. The game keeps running; calls answer the reason."""
    game = cafe.game(studio=studio)
    game.run(
        f'OrderLog.setupAPI("{cafe.keys["write"]}", "{cafe.workspace}", {{baseUrl = "{url}"}})'
    )
    out = game.run("return OrderLog.createOrder({UserId = 1, Name = 'a'}, nil, {}).error")
    assert refused in out
    assert game.sent == []


def test_luau_retry_after_and_backoff(cafe: Cafe, game: Game) -> None:
    """A 429 with Retry-After 7 is retried no sooner than 7 s later, with the same key and
    bytes; 503s back off exponentially."""
    cafe.setup(game)
    cafe.internet.fault(("status", 429, 7), ("status", 503, None), ("status", 503, None))
    number = game.run("return OrderLog.createOrder(customer, cashier, {}).order_number")
    assert number == 1
    times = [s.at for s in game.sent]
    assert len(times) == 4
    assert times[1] - times[0] >= 7
    # Doubling from retryBase (1 s), jittered down by up to half, plus the request's latency.
    assert 1.0 <= times[2] - times[1] <= 2.1
    assert 2.0 <= times[3] - times[2] <= 4.1
    assert len({s.body for s in game.sent}) == 1
    assert len({s.headers["Idempotency-Key"] for s in game.sent}) == 1


# -- bad values stay local ---------------------------------------------------------------------


def test_luau_nan_in_one_of_50_operations_fails_it_alone(cafe: Cafe, game: Game) -> None:
    """Fifty operations, one with NaN: that one answers an error naming the field at once; the
    other 49 go in one request."""
    cafe.setup(game, ON_ERROR)
    out = game.run(
        """
        local answers = {}
        for i = 1, 50 do
            local price = if i == 17 then 0/0 else i
            local handle, problem = OrderLog.createOrderAsync(
                customer, cashier, {items = {"Tea"}, metadata = {price = price}})
            answers[i] = problem or "ok"
        end
        OrderLog.flush()
        return answers
        """
    )
    assert out[16] == "OrderLog.createOrder: metadata.price is NaN; nothing was sent"
    assert all(a == "ok" for i, a in enumerate(out) if i != 16)
    game.settle()
    assert len(game.sent) == 1
    assert len(cafe.orders()) == 49


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{price = math.huge}", "metadata.price is infinite"),
        ("{price = -math.huge}", "metadata.price is infinite"),
        ("(function() local t = {} t.me = t return t end)()", "metadata.me contains itself"),
        ("{f = print}", "metadata.f is a function"),
        ("{where = workspace}", "metadata.where is an Instance"),
        ("{list = {1, 2, x = 3}}", "metadata.list mixes list items and named keys"),
        ("{list = {[1] = 1, [3] = 3}}", "metadata.list is a list with gaps"),
        ("{[true] = 1}", "metadata has a boolean key"),
    ],
)
def test_luau_bad_values_fail_only_their_operation(
    cafe: Cafe, game: Game, value: str, problem: str
) -> None:
    """Values JSON cannot carry fail their own call, naming the field; the next call works."""
    cafe.setup(game)
    out = game.run(
        f"""
        local bad = OrderLog.createOrder(customer, cashier, {{metadata = {value}}})
        local update = OrderLog.setStatus(string.rep("a", 24), "preparing",
            {{reason = {value}}})
        local good = OrderLog.createOrder(customer, cashier, {{metadata = {{note = "ok"}}}})
        return {{bad = bad.error, update = update.error, good = good.order_number}}
        """
    )
    assert problem in out["bad"]
    assert "reason" in out["update"]
    assert out["good"] == 1
    game.engine.set("output", game.lua.create_table())


# -- nothing lost, nothing doubled, within the budget ------------------------------------------


def test_luau_200_creates_800_updates_across_a_10_minute_outage(cafe: Cafe, game: Game) -> None:
    """200 orders and 800 updates made while the server is down for 10 minutes (and with two
    answers lost after the server applied them) all arrive exactly once, in order, and no 60 s
    window ever holds more than budgetPerMinute requests or Roblox's 500."""
    cafe.setup(game)
    game.run(
        """
        for i = 1, 100 do
            local p = {UserId = 1000 + i, Name = "guest" .. i}
            local h = OrderLog.createOrderAsync(p, cashier, {items = {"Tea"}})
            OrderLog.setWaiting(h); OrderLog.setPreparing(h, chef)
            OrderLog.setReadyForPickup(h); OrderLog.setComplete(h)
        end
        """
    )
    game.advance(5)
    cafe.server.stop()
    game.run(
        """
        for i = 101, 200 do
            local p = {UserId = 1000 + i, Name = "guest" .. i}
            local h = OrderLog.createOrderAsync(p, cashier, {items = {"Tea"}})
            OrderLog.setWaiting(h); OrderLog.setPreparing(h, chef)
            OrderLog.setReadyForPickup(h); OrderLog.setComplete(h)
        end
        """
    )
    game.advance(600)
    cafe.internet.fault("lost", "lost")
    cafe.server.start()
    game.settle(limit=3600)
    stats = game.stats()
    assert stats["failed"] == 0
    orders = cafe.orders()
    assert len(orders) == 200
    assert sorted(o["customer"]["username"] for o in orders) == sorted(
        f"guest{i}" for i in range(1, 201)
    )
    assert all(o["status"] == "completed" for o in orders)
    for o in orders[:3] + orders[-3:]:
        history = [h["status"] for h in cafe.order(o["id"])["history"]]
        assert history == [
            "submitted",
            "waiting_for_preparation",
            "preparing",
            "waiting_for_pickup",
            "completed",
        ]
    times = [s.at for s in game.sent]
    assert max_in_window(times) <= 120
    assert int(game.engine.get("overLimit")) == 0


# -- shutdown ----------------------------------------------------------------------------------


def test_luau_bind_to_close_flushes_what_is_queued(cafe: Cafe, game: Game) -> None:
    """When the server closes, what is queued is sent at once, well within Roblox's 30 s."""
    cafe.setup(game)
    game.run(
        """
        for i = 1, 30 do
            OrderLog.createOrderAsync({UserId = i, Name = "p" .. i}, nil, {items = {"Tea"}})
        end
        """
    )
    assert len(game.sent) == 0  # lingering for company
    started = game.now
    game.engine.get("close")()
    game.drive(lambda: bool(game.engine.get("closeDone")()[0]), limit=40)
    assert game.now - started < 5
    assert len(cafe.orders()) == 30


def test_luau_bind_to_close_reports_what_it_cannot_send(cafe: Cafe, game: Game) -> None:
    """With the server unreachable at shutdown, the flush gives up before Roblox's 30 s and
    reports every operation it could not send."""
    cafe.setup(game, ON_ERROR)
    cafe.internet.down.add(HOST)
    game.run("for i = 1, 5 do OrderLog.createOrderAsync(customer, nil, {}) end")
    started = game.now
    game.engine.get("close")()
    game.drive(lambda: bool(game.engine.get("closeDone")()[0]), limit=40)
    assert game.now - started <= 26
    failed = [e for e in game.run("return errors") if e["info"]["kind"] == "operation"]
    assert len(failed) == 5
    assert all("shut down" in e["message"] for e in failed)


# -- Studio ------------------------------------------------------------------------------------


@pytest.mark.parametrize("why", ["http off", "no key"])
def test_luau_studio_dry_run(cafe: Cafe, why: str) -> None:
    """In Studio with HTTP off or no key, the module announces a dry run, logs each operation
    locally and answers ids marked as such; nothing is sent and nothing throws."""
    game = cafe.game(studio=True, http=why != "http off", install=False)
    game.player(-1, "Player1")
    game.install()
    key = "nil" if why == "no key" else f'"{cafe.keys["write"]}"'
    game.run(f'OrderLog.setupAPI({key}, "{cafe.workspace}", {{baseUrl = "{BASE_URL}"}})')
    out = game.run(
        """
        local p = game:GetService("Players").Player1
        local res = OrderLog.createOrder(p, nil, {items = {"Latte"}})
        local upd = OrderLog.setPreparing(res.id, p)
        return {id = res.id, dry = res.dryRun, err = res.error, upd = upd.error}
        """
    )
    assert out["id"] == "dry-run-1"
    assert out["dry"] is True
    assert out.get("err") is None
    assert out.get("upd") is None
    assert any("DRY RUN" in w for w in game.output("warn"))
    printed = game.output("print")
    assert any("create #1 dry-run-1 for Player1 (-1): Latte" in p for p in printed)
    assert any("dry-run-1 -> preparing" in p for p in printed)
    assert game.sent == []


def test_luau_get_secret_fails_in_studio_without_a_local_secret(cafe: Cafe) -> None:
    """The stand-in follows Roblox: GetSecret throws in Studio unless the secret is a local one."""
    game = cafe.game(studio=True, install=False)
    out = game.run(
        """
        local ok, problem = pcall(function()
            return game:GetService("HttpService"):GetSecret("orderlog_write_key")
        end)
        return {ok = ok, problem = problem}
        """
    )
    assert out == {"ok": False, "problem": "Can't find secret with given key"}
    game.secret("orderlog_write_key", "olk_x", local=True)
    assert game.run(
        "return tostring(game:GetService('HttpService'):GetSecret('orderlog_write_key'))"
    ) == ("Secret(orderlog_write_key)")


# -- the stand-in keeps Roblox's rules ---------------------------------------------------------


def test_luau_standin_follows_roblox_thread_rules(cafe: Cafe) -> None:
    """task.spawn of a dead thread with arguments throws Roblox's error; a bare
    coroutine.yield() is never resumed by the scheduler; RequestAsync yields."""
    game = cafe.game(install=False)
    out = game.run(
        """
        local dead = coroutine.create(function() end)
        coroutine.resume(dead)
        local ok, problem = pcall(task.spawn, dead, "result")
        local parked = task.spawn(function() coroutine.yield() resumedBare = true end)
        task.wait(10)
        local H = game:GetService("HttpService")
        local before = os.clock()
        local ok2 = pcall(function() return H:RequestAsync({Url = "https://nowhere.test/"}) end)
        return {ok = ok, problem = problem, bare = resumedBare == true,
            yielded = os.clock() > before, ok2 = ok2,
            json = {H:JSONEncode({}), H:JSONEncode({1, 2, x = 3}), H:JSONEncode({0/0})}}
        """
    )
    assert out["ok"] is False
    assert "cannot spawn non-suspended coroutine with arguments" in out["problem"]
    assert out["bare"] is False
    assert out["yielded"] is True
    assert out["ok2"] is False
    assert out["json"] == ["[]", "[1,2]", "[nan]"]


def test_luau_module_is_strict_with_exported_types() -> None:
    """The module declares --!strict and exports the types users annotate with."""
    source = (CLIENT / "OrderLog.lua").read_text()
    assert source.startswith("--!strict\n")
    for name in ("OrderResult", "Options", "Participant", "OrderHandle", "ErrorInfo", "Priority"):
        assert re.search(rf"^export type {name} = ", source, re.M), name


# -- the examples ------------------------------------------------------------------------------


def example(name: str) -> str:
    return (CLIENT / name).read_text()


def place(cafe: Cafe, *, studio: bool = False, secret: bool = True) -> Game:
    """A place with OrderLog and the Exporter (configured for this cafe) in ServerScriptService."""
    game = cafe.game(studio=studio, install=False)
    if secret:
        game.secret("orderlog_write_key", cafe.keys["write"], local=studio)
    exporter = (
        example("Exporter.lua")
        .replace('"your-workspace-id"', f'"{cafe.workspace}"')
        .replace('"https://orders.example.com"', f'"{BASE_URL}"')
    )
    game.add_module("OrderLog", example("OrderLog.lua"))
    game.add_module("Exporter", exporter)
    return game


def test_luau_hand_to_example_is_safe_to_ship(cafe: Cafe) -> None:
    """HandTo: only staff (by group rank) may place orders, within a rate limit and with checked
    items; the prompt is on the counter; a staff member already in the server when the script
    starts hands the order to its customer, logged as handed_to."""
    game = place(cafe)
    game.player(156, "builderman", groups={0: 50})  # staff, here before the script starts
    game.engine.get("new")("Part", "OrderCounter", game.service("Workspace"))
    game.start_script(game.add_script("HandTo", example("HandTo.server.lua")))
    game.advance(1)
    game.player(261, "shedletsky")  # a customer, not staff
    game.advance(1)
    fire = """
        local Players = game:GetService("Players")
        local place = game:GetService("ReplicatedStorage").PlaceOrder
        local staff, guest = Players.builderman, Players.shedletsky
        local function send(from, ...) __engine.fire(place, "OnServerEvent", from, ...) end
    """
    game.run(fire + 'for i = 1, 6 do send(staff, guest, {"Latte", "Cookie"}) end')
    game.advance(5)
    assert [o["order_number"] for o in cafe.orders()] == [1, 2, 3]  # 3 at once, then limited
    game.advance(60)
    game.run(
        fire
        + """
        send(guest, guest, {"Latte"})                 -- not staff
        send(staff, "shedletsky", {"Latte"})          -- not a Player
        send(staff, guest, {string.rep("x", 41)})     -- too long
        """
    )
    game.advance(60)
    game.run(fire + "send(staff, guest, {Latte = true}) send(staff, guest, {1, 2})")
    game.advance(60)
    game.run(
        fire + "send(staff, guest, {'Tea', 'Tea', 'Tea', 'Tea', 'Tea', 'Tea', 'Tea', "
        "'Tea', 'Tea', 'Tea', 'Tea'})"
    )
    game.advance(5)
    assert len(cafe.orders()) == 3
    out = game.run(
        fire
        + """
        local counter = workspace.OrderCounter
        local prompt = counter.HandOver
        local character = __engine.spawnCharacter(staff)
        local tool = staff.Backpack["Order #1"]
        tool.Parent = character
        __engine.fire(prompt, "Triggered", guest)    -- not staff: nothing happens
        task.wait(1)
        local stayed = tool.Parent == character
        __engine.fire(prompt, "Triggered", staff)
        task.wait(1)
        return {stayed = stayed, moved = tool.Parent == guest.Backpack,
            onCounter = prompt.Parent == counter, actionText = prompt.ActionText}
        """
    )
    assert out == {
        "stayed": True,
        "moved": True,
        "onCounter": True,
        "actionText": "Hand over order",
    }
    game.settle()
    first = cafe.orders()[0]
    order = cafe.order(first["id"])
    assert order["status"] == "handed_to"
    assert order["handed_by"]["username"] == "builderman"
    assert order["handed_to"]["username"] == "shedletsky"
    assert [i["name"] for i in order["items"]] == ["Latte", "Cookie"]


def test_luau_exporter_in_studio_without_the_secret_is_a_dry_run(cafe: Cafe) -> None:
    """The Exporter in a Studio play test without the local secret: no throw from require, a
    dry run announced, orders printed with marked ids, nothing sent."""
    game = place(cafe, studio=True, secret=False)
    game.player(-1, "Player1")
    out = game.run(
        """
        local orderLog = require(game:GetService("ServerScriptService").Exporter)
        local res = orderLog.createOrder(game:GetService("Players").Player1, nil, {items = {"Tea"}})
        return {id = res.id, error = res.error, dry = res.dryRun}
        """
    )
    assert out == {"id": "dry-run-1", "dry": True}
    warnings = game.output("warn")
    assert any("orderlog_write_key" in w for w in warnings)
    assert any("DRY RUN" in w and "Local Secrets" in w for w in warnings)
    assert game.sent == []


def test_luau_exporter_on_a_live_server_without_the_secret_refuses_calls(cafe: Cafe) -> None:
    """On a live server a missing secret does not throw from require: it is warned, and every
    call answers an error at once."""
    game = place(cafe, secret=False)
    out = game.run(
        """
        local orderLog = require(game:GetService("ServerScriptService").Exporter)
        return orderLog.createOrder({UserId = 1, Name = "a"}, nil, {}).error
        """
    )
    assert "API key" in out
    assert game.sent == []


def test_luau_pickup_board_shows_ready_numbers(cafe: Cafe) -> None:
    """PickupBoard starts from the snapshot's ready orders and adds the order that becomes
    ready during its long-poll."""
    game = place(cafe)
    game.secret("orderlog_read_key", cafe.keys["read"])
    game.run("OrderLog = require(game:GetService('ServerScriptService').Exporter)")
    game.run('OrderLog.createOrder({UserId = 1, Name = "a"}, nil, {status = "waiting_for_pickup"})')
    second = game.run(
        'return OrderLog.createOrder({UserId = 2, Name = "b"}, nil, {status = "preparing"}).id'
    )
    part = game.engine.get("new")("Part", "Board", game.service("Workspace"))[0]
    game.engine.get("new")("SurfaceGui", "SurfaceGui", part)
    # Poll 1 answers the snapshot, poll 2 waits until the order below becomes ready, poll 3
    # cannot connect, so the board waits and the test gets control back.
    cafe.internet.fault(None, None, "refuse")
    url = f"{cafe.server.url}/v1/workspaces/{cafe.workspace}/orders/{second}/status"
    timer = threading.Timer(
        0.5,
        lambda: httpx.post(
            url,
            json={"status": "waiting_for_pickup"},
            headers={"Authorization": f"Bearer {cafe.keys['write']}"},
        ),
    )
    timer.start()
    try:
        game.start_script(game.add_script("PickupBoard", example("PickupBoard.server.lua"), part))
        game.globals.set("board", part)
        label = "local n = board.SurfaceGui:FindFirstChild('Numbers') return n and n.Text or ''"
        game.drive(lambda: "#2" in game.run(label, limit=1), limit=60)
    finally:
        timer.join()
    assert game.run(label) == "Ready\n#1  #2"
    polls = [s.url for s in game.sent if "/events" in s.url]
    assert "after=" not in polls[0]
    assert "after=" in polls[1]
    assert all("status=waiting_for_pickup" in p for p in polls)
