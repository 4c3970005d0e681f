"""Real webhook receivers for tests, served by uvicorn (``running_server``):

- ``SignedReceiver``: a Standard Webhooks receiver; every request is verified with the
  reference library (``standardwebhooks``) against the secrets it was given, and recorded.
  Tests tell it to fail, throttle (429 + Retry-After), redirect, answer slowly or hold requests.
- ``DiscordReceiver``: a stand-in for Discord's Execute Webhook endpoint
  (``POST /api/webhooks/{id}/{token}``) that enforces what Discord documents: the embed limits
  (10 per message; title 256, description 4096, 25 fields of 256/1024, footer 2048, 6000 in
  all: else 400), and a rate limit per webhook, announced in ``X-RateLimit-Limit/-Remaining/
  -Reset/-Reset-After/-Bucket`` on every answer; a request on an empty bucket gets 429 with
  ``retry_after`` in its JSON body and ``Retry-After`` (counted as a violation: a sender that
  reads the headers never causes one). Tests may force a (global) 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def until(
    check: Callable[[], bool], changed: asyncio.Event, within: float, what: str = "condition"
) -> None:
    """Wait until ``check()`` holds, looking again each time ``changed`` is set; fail after
    ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            while not check():
                changed.clear()
                await changed.wait()
    except TimeoutError:
        raise AssertionError(f"timed out after {within} s waiting for {what}") from None


@dataclass
class Received:
    at: float  # monotonic
    headers: dict[str, str]
    body: bytes
    data: Any
    verified_with: list[str]  # which of the receiver's secrets verified it


@dataclass
class Plan:
    """What the next requests get (consumed in order), then ``default``."""

    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    default: tuple[int, dict[str, str], bytes] = (204, {}, b"")

    def next(self) -> tuple[int, dict[str, str], bytes]:
        return self.answers.pop(0) if self.answers else self.default


class SignedReceiver:
    """A Standard Webhooks receiver: 401 for a request no configured secret verifies."""

    def __init__(self, *secrets: str) -> None:
        self.secrets = list(secrets)
        self.received: list[Received] = []  # verified requests that got a 2xx
        self.attempts: list[tuple[float, int]] = []  # (monotonic, status answered) of every one
        self.rejected = 0
        self.plan = Plan()
        self.delay = 0.0  # seconds before answering
        self.gate: asyncio.Event | None = None  # when set: hold every request until it opens
        self.holding = 0
        self.changed = asyncio.Event()  # set on every request
        self.app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["POST"])])

    def verify(self, body: bytes, headers: dict[str, str]) -> list[str]:
        ok = []
        for secret in self.secrets:
            with contextlib.suppress(WebhookVerificationError):
                Verifier(secret).verify(body, headers)
                ok.append(secret)
        return ok

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.changed.set()
        if self.gate is not None:
            self.holding += 1
            try:
                await self.gate.wait()
            finally:
                self.holding -= 1
        if self.delay:
            await asyncio.sleep(self.delay)
        verified = self.verify(body, headers)
        if not verified:
            self.rejected += 1
            self.attempts.append((time.monotonic(), 401))
            return JSONResponse({"error": "bad signature"}, status_code=401)
        status, extra, answer = self.plan.next()
        self.attempts.append((time.monotonic(), status))
        if 200 <= status < 300:
            self.received.append(
                Received(time.monotonic(), headers, body, orjson.loads(body), verified)
            )
        self.changed.set()
        return Response(answer, status_code=status, headers=extra)

    # -- reading what arrived ------------------------------------------------------------------
    @property
    def events(self) -> list[dict[str, Any]]:
        return [r.data for r in self.received]

    def ids(self) -> list[str]:
        """The webhook-id of each delivery, in arrival order."""
        return [r.headers["webhook-id"] for r in self.received]

    async def wait_for(self, n: int, within: float = 20) -> list[dict[str, Any]]:
        await until(lambda: len(self.received) >= n, self.changed, within, f"{n} deliveries")
        return self.events


class DiscordReceiver:
    """Discord's Execute Webhook, as its documentation describes it, on loopback."""

    LIMIT = 5
    WINDOW = 2.0

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.requests: list[tuple[float, int]] = []  # (monotonic, status)
        self.violations = 0  # requests sent on an empty bucket
        self.invalid: list[str] = []  # why bodies were refused
        self.buckets: dict[str, tuple[float, int]] = {}  # webhook id -> (window start, used)
        self.forced: list[tuple[float, bool]] = []  # (retry_after, global) for next requests
        self.changed = asyncio.Event()  # set on every answer
        self.app = Starlette(
            routes=[Route("/api/webhooks/{hook}/{token}", self.execute, methods=["POST"])]
        )

    def _bucket(self, hook: str, now: float) -> tuple[float, int]:
        start, used = self.buckets.get(hook, (now, 0))
        if now >= start + self.WINDOW:
            start, used = now, 0
        return start, used

    def _headers(self, hook: str, start: float, used: int, now: float) -> dict[str, str]:
        reset_after = max(0.0, start + self.WINDOW - now)
        return {
            "X-RateLimit-Limit": str(self.LIMIT),
            "X-RateLimit-Remaining": str(max(0, self.LIMIT - used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"bucket-{hook}",
        }

    async def execute(self, request: Request) -> Response:
        try:
            return await self._execute(request)
        finally:
            self.changed.set()

    async def _execute(self, request: Request) -> Response:
        now = time.monotonic()
        hook = request.path_params["hook"]
        start, used = self._bucket(hook, now)
        if self.forced:
            retry_after, is_global = self.forced.pop(0)
            self.requests.append((now, 429))
            headers = {"Retry-After": str(math.ceil(retry_after))}
            if is_global:
                headers |= {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}
            else:
                headers |= self._headers(hook, start, used, now) | {"X-RateLimit-Scope": "user"}
            return JSONResponse(
                {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": is_global,
                },
                status_code=429,
                headers=headers,
            )
        if used >= self.LIMIT:
            self.violations += 1
            self.requests.append((now, 429))
            retry_after = round(start + self.WINDOW - now, 3)
            return JSONResponse(
                {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": False,
                },
                status_code=429,
                headers={
                    "Retry-After": str(math.ceil(retry_after)),
                    "X-RateLimit-Scope": "user",
                    **self._headers(hook, start, used, now),
                },
            )
        used += 1
        self.buckets[hook] = (start, used)
        headers = self._headers(hook, start, used, now)
        problem = self.check(await request.body())
        if problem:
            self.invalid.append(problem)
            self.requests.append((now, 400))
            return JSONResponse(
                {"message": "Invalid Form Body", "code": 50035, "errors": problem},
                status_code=400,
                headers=headers,
            )
        data = orjson.loads(await request.body())
        self.messages.append(data)
        self.requests.append((now, 200))
        if request.query_params.get("wait") == "true":
            return JSONResponse({"id": str(len(self.messages)), **data}, headers=headers)
        return Response(status_code=204, headers=headers)

    @staticmethod
    def check(body: bytes) -> str | None:
        """Why Discord would refuse this body (its documented limits), or None."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return "not JSON"
        embeds = data.get("embeds") or []
        if not data.get("content") and not embeds:
            return "needs content or embeds"
        if len(embeds) > 10:
            return "more than 10 embeds"
        total = 0
        for e in embeds:
            fields = e.get("fields") or []
            texts = [
                ("title", e.get("title", ""), 256),
                ("description", e.get("description", ""), 4096),
                ("footer.text", (e.get("footer") or {}).get("text", ""), 2048),
                ("author.name", (e.get("author") or {}).get("name", ""), 256),
            ]
            if len(fields) > 25:
                return "more than 25 fields"
            for f in fields:
                texts += [("field.name", f["name"], 256), ("field.value", f["value"], 1024)]
                if not f["name"].strip() or not f["value"].strip():
                    return "an empty field"
            for name, value, limit in texts:
                n = len(value.strip().encode("utf-16-le")) // 2
                if n > limit:
                    return f"{name} longer than {limit}"
                total += n
        if total > 6000:
            return "embeds longer than 6000 in all"
        return None

    async def wait_for(self, n: int, within: float = 20) -> list[dict[str, Any]]:
        """Until ``n`` embeds arrived (over however many messages); all embeds in order."""
        await until(lambda: len(self.embeds) >= n, self.changed, within, f"{n} embeds")
        return self.embeds

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return [e for m in self.messages for e in m.get("embeds", [])]
