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
import uvicorn
from lupa import lua51

from orderlog.app import create_app
from orderlog.connection import make_redis
from orderlog.keys import Keys
from orderlog.settings import Settings
from orderlog.store.workspaces import WorkspaceStore

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "clients" / "roblox" / "OrderLog.lua"
STANDIN = Path(__file__).with_name("roblox_standin.lua")


class ServerThread:
    """Real uvicorn in a thread of its own (lupa is synchronous); stop() and start() again keep
    the port, so a client sees the server go down and come back."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = 0
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        assert self.server is not None
        assert self.thread is not None
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "uvicorn did not stop"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    settings = Settings(
        redis_url=redis_url, data_dir=tmp_path_factory.mktemp("data"), demo_workspace=False
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
    # throws as a refused connection does.
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
