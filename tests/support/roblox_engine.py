"""Roblox game servers for tests: the Luau VM (pluau) running tests/support/roblox_engine.lua, the
engine stand-in, with HttpService wired to a small "internet" of real orderlog servers.

A helper module (not a test module): the test modules that run clients/roblox/ import it.

The VM: pluau's compiled module runs on Python 3.11, but its package ``__init__`` uses 3.12
syntax, so on 3.11 the extension file is loaded directly. Where pluau cannot be loaded at all,
``luau()`` skips with the reason (and fails when ORDERLOG_REQUIRE_ALL=1, as CI sets).

The internet: a request to a host the test registered goes to that real server (uvicorn on
127.0.0.1, over the suite's real Redis), whatever its scheme; any other host does not resolve.
Faults are injected per request; nothing ever leaves this machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "roblox"
ENGINE = Path(__file__).with_name("roblox_engine.lua")
HOST = "orders.cafe.test"  # the orderlog server's public name in these games
BASE_URL = f"https://{HOST}"

_pluau: ModuleType | None = None
_problem: str | None = None


def _load() -> ModuleType:
    if sys.version_info >= (3, 12):
        import pluau

        return pluau
    # 3.11: import the compiled module without running the package's __init__.
    spec = importlib.util.find_spec("pluau")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pluau is not installed (pip install -e '.[test]')")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("_pluau.*"))
    found = [p for p in found if p.suffix in (".so", ".pyd")]
    if not found:
        raise ImportError(f"no compiled _pluau module in {folder}")
    if "pluau._pluau" in sys.modules:
        return sys.modules["pluau._pluau"]
    ext = importlib.util.spec_from_file_location("pluau._pluau", found[0])
    assert ext is not None
    assert ext.loader is not None
    module = importlib.util.module_from_spec(ext)
    ext.loader.exec_module(module)
    sys.modules["pluau._pluau"] = module
    return module


def luau() -> ModuleType:
    """The pluau module, or skip (fail under ORDERLOG_REQUIRE_ALL=1) saying why not."""
    global _pluau, _problem
    if _pluau is None and _problem is None:
        try:
            _pluau = _load()
        except Exception as exc:  # any failure to load is the reason to report
            _problem = f"the Luau VM (pluau) cannot be loaded: {type(exc).__name__}: {exc}"
    if _pluau is not None:
        return _pluau
    if os.environ.get("ORDERLOG_REQUIRE_ALL") == "1":
        pytest.fail(_problem or "pluau")
    pytest.skip(_problem or "pluau")


@dataclass
class Sent:
    """One request a game made, as the server (or the fault) saw it."""

    method: str
    url: str
    headers: dict[str, str]
    body: str | None
    at: float  # virtual time
    answer: int | None = None  # the status code, when the server answered


@dataclass
class Internet:
    """Hosts and what happens to each request. A fault, consumed one per request to a host:
    ``("status", code, retry_after)`` answers without reaching the server; ``"lost"`` reaches
    the server, then the answer is lost (the thread gets "HttpError: Timedout" 30 s later);
    ``"refuse"`` fails to connect; ``("throw", message)`` throws that message."""

    routes: dict[str, str] = field(default_factory=dict)  # host -> real base URL
    faults: dict[str, list[Any]] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)  # hosts that refuse every connection
    latency: float = 0.05  # virtual seconds a request takes
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def fault(self, *faults: Any, host: str = HOST) -> None:
        self.faults.setdefault(host, []).extend(faults)

    def perform(self, sent: Sent) -> dict[str, Any]:
        parts = urllib.parse.urlsplit(sent.url)
        host = (parts.hostname or "").lower()
        queue = self.faults.get(host)
        fault = queue.pop(0) if queue else None
        if host in self.down or fault == "refuse":
            return {"error": "HttpError: ConnectFail", "latency": self.latency}
        if isinstance(fault, tuple) and fault[0] == "throw":
            return {"error": fault[1], "latency": self.latency}
        if isinstance(fault, tuple) and fault[0] == "status":
            _, code, retry_after = fault
            headers = {"content-type": "application/json"}
            if retry_after is not None:
                headers["retry-after"] = str(retry_after)
            payload = {"error": "Injected", "statusCode": code, "message": f"injected {code}"}
            sent.answer = code
            return {
                "StatusCode": code,
                "StatusMessage": "Injected",
                "Headers": headers,
                "Body": json.dumps(payload),
                "latency": self.latency,
            }
        base = self.routes.get(host)
        if base is None:
            return {"error": "HttpError: DnsResolve", "latency": self.latency}
        target = base + parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            resp = self.http.request(
                sent.method,
                target,
                headers=sent.headers,
                content=sent.body.encode() if sent.body is not None else None,
            )
        except httpx.ConnectError:
            return {"error": "HttpError: ConnectFail", "latency": self.latency}
        except httpx.TimeoutException:
            return {"error": "HttpError: Timedout", "latency": 30.0}
        if fault == "lost":
            return {"error": "HttpError: Timedout", "latency": 30.0}
        sent.answer = resp.status_code
        return {
            "StatusCode": resp.status_code,
            "StatusMessage": resp.reason_phrase,
            "Headers": dict(resp.headers),
            "Body": resp.text,
            "latency": self.latency,
        }


class Game:
    """One Roblox game server: a fresh Luau VM with the engine stand-in loaded."""

    def __init__(self, internet: Internet, *, studio: bool = False, http: bool = True) -> None:
        pluau = luau()
        self.pluau = pluau
        self.internet = internet
        self.sent: list[Sent] = []
        self.expected: list[str] = []  # errors a test provokes on purpose (in its own threads)
        self.lua = pluau.Lua()
        lua = self.lua
        py = lua.create_table()
        py.set("userdata", lua.create_function(lambda _l, a: [lua.create_userdata(None, a[0])]))
        py.set("http", lua.create_function(lambda _l, a: [self._http(a[0])]))
        py.set("decode", lua.create_function(lambda _l, a: [self.to_lua(json.loads(str(a[0])))]))
        py.set("guid", lua.create_function(lambda _l, a: [str(uuid.uuid4()).upper()]))
        quote = lua.create_function(lambda _l, a: [urllib.parse.quote(str(a[0]), safe="-_.~")])
        py.set("urlencode", quote)
        py.set(
            "compile",
            lua.create_function(
                lambda _l, a: [lua.load_chunk(str(a[0]), name="=" + str(a[1]), env=a[2])]
            ),
        )
        chunk = lua.load_chunk(ENGINE.read_text(), name="=roblox_engine")
        self.engine: Any = chunk(py)[0]
        self.engine.set("studio", studio)
        self.engine.set("httpEnabled", http)
        self.globals = lua.globals()
        self.globals.set("__engine", self.engine)  # for test snippets: fire events, add players

    # -- what Roblox's C++ does --------------------------------------------------------------
    def _http(self, request: Any) -> Any:
        headers = {str(k): str(v) for k, v in request.get("headers")}
        body = request.get("body")
        sent = Sent(
            str(request.get("method")),
            str(request.get("url")),
            headers,
            None if body is None else str(body),
            float(self.engine.get("now")),
        )
        self.sent.append(sent)
        return self.to_lua(self.internet.perform(sent))

    def to_lua(self, value: Any) -> Any:
        """JSON-shaped Python as Luau: null is nil (a key with null vanishes), lists from 1."""
        if isinstance(value, dict):
            table = self.lua.create_table()
            for k, v in value.items():
                if v is not None:
                    table.set(k, self.to_lua(v))
            return table
        if isinstance(value, list):
            table = self.lua.create_table()
            for i, v in enumerate(value, 1):
                if v is not None:
                    table.set(i, self.to_lua(v))
            return table
        return value

    def to_py(self, value: Any) -> Any:
        """A Luau value as Python: strings, lists (keys 1..n), dicts."""
        if isinstance(value, self.pluau.String):
            return value.as_bytes().decode("utf-8", "replace")
        if isinstance(value, self.pluau.Table):
            pairs = [(self.to_py(k), self.to_py(v)) for k, v in value]
            keys = [k for k, _ in pairs]
            if keys and all(isinstance(k, int) for k in keys):
                return [v for _, v in sorted(pairs)]
            return dict(pairs)
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value

    # -- the place --------------------------------------------------------------------------
    def add_module(self, name: str, source: str, parent: str = "ServerScriptService") -> Any:
        return self.engine.get("addScript")("ModuleScript", name, source, self.service(parent))[0]

    def add_script(self, name: str, source: str, parent: Any = "ServerScriptService") -> Any:
        where = self.service(parent) if isinstance(parent, str) else parent
        return self.engine.get("addScript")("Script", name, source, where)[0]

    def start_script(self, script: Any) -> Any:
        return self.engine.get("runScript")(script)[0]

    def service(self, name: str) -> Any:
        return self.engine.get("service")(name)[0]

    def install(self) -> None:
        """OrderLog as a ModuleScript in ServerScriptService, required into global OrderLog."""
        self.add_module("OrderLog", (CLIENT / "OrderLog.lua").read_text())
        self.run("OrderLog = require(game:GetService('ServerScriptService').OrderLog)")

    def player(
        self,
        user_id: int,
        name: str,
        display: str | None = None,
        groups: dict[int, int] | None = None,
    ) -> Any:
        """A player joins (PlayerAdded fires); ``groups`` maps group id -> rank."""
        ranks = self.lua.create_table()
        for group, rank in (groups or {}).items():
            ranks.set(group, rank)
        return self.engine.get("addPlayer")(user_id, name, display or name, ranks)[0]

    def secret(self, name: str, value: str, domain: str = HOST, *, local: bool = False) -> None:
        store = self.engine.get("localSecrets" if local else "secrets")
        store.set(name, self.to_lua({"value": value, "domain": domain}))

    # -- driving ----------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return float(self.engine.get("now"))

    def run(self, source: str, *, limit: float = 3600) -> Any:
        """Runs Luau `source` as a script thread until it returns (virtual time at most
        ``limit`` s); returns its first result as Python."""
        chunk = self.lua.load_chunk(source, name="=test")
        record = self.engine.get("run")(chunk)[0]
        self.drive(lambda: bool(record.get("done")), limit=limit)
        problem = record.get("error")
        assert problem is None, str(problem)
        results = record.get("results")
        return self.to_py(results.get(1))

    def start(self, source: str) -> Any:
        """Starts Luau `source` as a script thread; returns its record (done, results)."""
        chunk = self.lua.load_chunk(source, name="=test")
        return self.engine.get("run")(chunk)[0]

    def drive(self, until: Callable[[], bool], *, limit: float = 3600, real: float = 60) -> None:
        """Steps the engine until ``until()``; fails on a thread's error, on every thread
        waiting for nothing, or past ``limit`` virtual (``real`` wall-clock) seconds."""
        end = self.now + limit
        real_end = time.monotonic() + real
        step = self.engine.get("step")
        while not until():
            self.check()
            assert self.now <= end, f"virtual time limit passed ({limit} s)"
            assert time.monotonic() < real_end, "real time limit passed"
            assert step()[0], "every thread is waiting for nothing"
        self.check()

    def advance(self, seconds: float) -> None:
        """Runs everything due in the next ``seconds`` of virtual time."""
        end = self.now + seconds
        step = self.engine.get("step")
        next_at = self.engine.get("nextAt")
        real_end = time.monotonic() + 60
        while True:
            at = next_at()[0]
            if at is None or float(at) > end:
                break
            step()
            self.check()
            assert time.monotonic() < real_end, "real time limit passed"
        self.engine.set("now", max(self.now, end))

    def settle(self, *, limit: float = 3600) -> None:
        """Runs until nothing is due any more (the worker idles with an empty queue)."""
        end = self.now + limit
        real_end = time.monotonic() + 60
        step = self.engine.get("step")
        while step()[0]:
            self.check()
            assert self.now <= end, f"virtual time limit passed ({limit} s)"
            assert time.monotonic() < real_end, "real time limit passed"
        self.check()

    def errors(self) -> list[str]:
        return [str(e) for e in self.to_py(self.engine.get("errors")) or []]

    def check(self) -> None:
        errors = [e for e in self.errors() if not any(x in e for x in self.expected)]
        assert not errors, "\n".join(errors)

    def output(self, kind: str | None = None) -> list[str]:
        lines = self.to_py(self.engine.get("output")) or []
        return [o["text"] for o in lines if kind is None or o["kind"] == kind]

    def stats(self) -> dict[str, Any]:
        return self.run("return OrderLog.getStats()")  # type: ignore[no-any-return]


def games(internet: Internet) -> Iterator[Callable[..., Game]]:
    """A factory of games that closes the internet's HTTP client afterwards."""
    try:
        yield lambda **kw: Game(internet, **kw)
    finally:
        internet.http.close()
