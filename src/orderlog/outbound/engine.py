"""The webhook delivery engine of one server process (started by the app's lifespan).

Every server process runs one. Together they share the webhooks of every workspace:

- **Leases.** A process delivers a webhook only while it holds the webhook's lease (store/
  delivery.py), renewed every ``lease / 3`` s. A process that stops hands its leases back; one
  that crashes loses them when they expire, and another process takes its webhooks over,
  claiming what the crashed one had read but not delivered (XAUTOCLAIM). So each webhook's
  events go out in order, by one process at a time, and nothing is sent twice in the normal
  case (a crash may repeat the few events in flight: at least once).
- **Fair shares.** Processes announce themselves with a heartbeat; each takes at most its share
  of the enabled webhooks (rounded up), and at most ``concurrency``. A process over its share
  (another one joined) hands back an idle webhook per round.
- **Isolation.** Each webhook has its own worker task and its own connection: a slow or dead
  receiver holds only its own webhook's deliveries (bounded by the timeout), never another's,
  nor a request. Deliveries yield to the ingest path when the loop is busy (governor.py).
- **Wake-ups.** A write in this process wakes its workspace's workers at once; events written
  through other processes are found by polling the consumer group every ``idle_poll`` s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from orderlog.domain import discord, webhooks
from orderlog.domain.model import Workflow
from orderlog.errors import OrderLogError, ServerKeyUnavailable, StoreUnavailable
from orderlog.outbound.client import Client, Reply, Slot
from orderlog.outbound.governor import Governor
from orderlog.outbound.worker import Worker
from orderlog.settings import Settings
from orderlog.store.delivery import DeliveryQueue
from orderlog.store.webhooks import Webhook, WebhookStore, iso, now_ms
from orderlog.store.workspaces import WorkspaceStore

log = logging.getLogger("orderlog.outbound")

LOOKS_TTL = 30.0  # seconds a workspace's name and workflow labels are reused for Discord
SKIP_AFTER_ERROR = 5.0
SKIP_AFTER_KEY_ERROR = 60.0  # another process (with the right server key) may take it meanwhile


@dataclass(frozen=True, slots=True)
class Config:
    concurrency: int = 64
    lease: float = 15.0
    retry_base: float = 5.0
    retry_max_interval: float = 3600.0
    retry_for: float = 86_400.0
    disable_after: float = 86_400.0
    idle_poll: float = 0.5

    @classmethod
    def from_settings(cls, settings: Settings) -> Config:
        return cls(
            concurrency=settings.webhook_concurrency,
            lease=settings.webhook_lease,
            retry_base=settings.webhook_retry_base,
            retry_max_interval=settings.webhook_retry_max_interval,
            retry_for=settings.webhook_retry_for,
            disable_after=settings.webhook_disable_after,
        )


class Observer(Protocol):
    """Where the engine reports what it does (ops/metrics.py ``Metrics`` is one)."""

    def webhook_delivered(self, webhook_id: str, events: int, seconds: float) -> None: ...
    def webhook_failed(self, webhook_id: str) -> None: ...
    def webhook_retried(self, webhook_id: str) -> None: ...
    def webhook_dead(self, webhook_id: str) -> None: ...
    def webhook_lag(self, webhook_id: str, seconds: float | None) -> None: ...


class Unobserved:
    def webhook_delivered(self, webhook_id: str, events: int, seconds: float) -> None:
        pass

    def webhook_failed(self, webhook_id: str) -> None:
        pass

    def webhook_retried(self, webhook_id: str) -> None:
        pass

    def webhook_dead(self, webhook_id: str) -> None:
        pass

    def webhook_lag(self, webhook_id: str, seconds: float | None) -> None:
        pass


Key = tuple[str, str]  # (workspace id, webhook id)


class Engine:
    def __init__(
        self,
        *,
        webhooks: WebhookStore,
        queue: DeliveryQueue,
        workspaces: WorkspaceStore,
        client: Client,
        config: Config | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.webhooks = webhooks
        self.queue = queue
        self.workspaces = workspaces
        self.client = client
        self.config = config or Config()
        self.observer: Observer = observer or Unobserved()
        self.me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.governor = Governor()
        self.workers: dict[Key, Worker] = {}
        self.tasks: dict[Key, asyncio.Task[None]] = {}
        self.skip: dict[Key, float] = {}
        self.host_pause: dict[str, float] = {}  # Discord's global limit, per host (monotonic)
        self._looks: dict[str, tuple[float, Callable[[str], str], str]] = {}
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._warned = False

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start delivering (no-op with ``concurrency`` 0: this process delivers nothing)."""
        if self.config.concurrency <= 0 or self._task is not None:
            return
        self.governor.start()
        self._task = asyncio.get_running_loop().create_task(
            self._supervise(), name="orderlog-webhooks"
        )

    async def close(self, grace: float = 2.0) -> None:
        """Stop: workers finish the request in flight (up to ``grace`` s), write what they
        acknowledged and hand their leases back, so another process continues at once."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for worker in self.workers.values():
            worker.stop()
        tasks = list(self.tasks.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=grace)
        with contextlib.suppress(StoreUnavailable):
            await self.queue.leave(self.me)
        await self.governor.close()
        self.client.close()

    def wake(self, workspace_id: str) -> None:
        """Events were written to ``workspace_id``: its workers here look now."""
        for (ws, _), worker in self.workers.items():
            if ws == workspace_id:
                worker.wake.set()

    def refresh(self, workspace_id: str | None = None, webhook_id: str | None = None) -> None:
        """A webhook was created, changed or deleted: look at the webhooks again now."""
        key = (workspace_id or "", webhook_id or "")
        self.skip.pop(key, None)
        worker = self.workers.get(key)
        if worker is not None:
            worker.read_at = 0.0  # re-read its record before the next delivery
            worker.wake.set()
        self._kick.set()

    # -- supervision ---------------------------------------------------------------------------
    async def _supervise(self) -> None:
        while not self._closing:
            try:
                await self._round()
                self._warned = False
            except StoreUnavailable as exc:
                if not self._warned:
                    log.warning("webhook deliveries paused: %s", exc.message)
                    self._warned = True
            except Exception:
                log.exception("webhook supervisor round failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.lease / 3):
                    await self._kick.wait()
            self._kick.clear()

    async def _round(self) -> None:
        lease = self.config.lease
        processes = await self.queue.heartbeat(self.me, now_ms(), ttl=lease * 2)
        for key, worker in list(self.workers.items()):
            if not await self.queue.renew(*key, self.me, lease):
                worker.stop()
        enabled = [(ws, wh) for ws, wh, on in await self.queue.webhooks() if on]
        share = min(self.config.concurrency, math.ceil(len(enabled) / processes))
        if len(self.workers) > share:
            idle = [w for w in self.workers.values() if w.idle and not w.stopping]
            if idle:
                idle[0].stop()  # another process will take it over (one per round: no churn)
        clock = time.monotonic()
        candidates = [
            k for k in enabled if k not in self.workers and self.skip.get(k, 0.0) <= clock
        ]
        random.shuffle(candidates)
        for key in candidates:
            if len(self.workers) >= share:
                break
            if await self.queue.acquire(*key, self.me, lease):
                self._start(key)

    def _start(self, key: Key) -> None:
        worker = Worker(self, *key)
        self.workers[key] = worker
        task = asyncio.get_running_loop().create_task(worker.run(), name=f"webhook-{key[1]}")
        self.tasks[key] = task
        task.add_done_callback(lambda t: self._finished(key, t))

    def _finished(self, key: Key, task: asyncio.Task[None]) -> None:
        self.workers.pop(key, None)
        self.tasks.pop(key, None)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, ServerKeyUnavailable):
            log.error("webhook %s: %s", key[1], exc.message)
            self.skip[key] = time.monotonic() + SKIP_AFTER_KEY_ERROR
        elif exc is not None:
            log.error("webhook %s delivery stopped", key[1], exc_info=exc)
            self.skip[key] = time.monotonic() + SKIP_AFTER_ERROR

    # -- what workers share --------------------------------------------------------------------
    async def looks(self, workspace_id: str) -> tuple[Callable[[str], str], str]:
        """(status label function, workspace name) for Discord messages, cached."""
        hit = self._looks.get(workspace_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1], hit[2]
        workflow: Workflow = await self.workspaces.workflow(workspace_id)
        labels = {s.name: s.label for s in workflow.statuses}
        try:
            name = (await self.workspaces.workspace(workspace_id))["name"]
        except OrderLogError:
            name = ""

        def label(status: str) -> str:
            return labels.get(status, status)

        self._looks[workspace_id] = (time.monotonic() + LOOKS_TTL, label, name)
        return label, name

    async def discord_turn(self, host: str, bucket_until: float) -> None:
        """Wait until the webhook's bucket has room and no global limit is on for ``host``."""
        until = max(bucket_until, self.host_pause.get(host, 0.0))
        wait = until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def discord_pause(self, host: str, until: float) -> None:
        self.host_pause[host] = max(self.host_pause.get(host, 0.0), until)

    # -- test sends ------------------------------------------------------------------------------
    async def send_test(self, hook: Webhook) -> dict[str, Any]:
        """Send a ``webhook.test`` event now (outside the stream and its order) and log it."""
        target = webhooks.parse_url(hook.spec.url)
        body: bytes
        headers: list[tuple[str, str]] = []
        if hook.spec.format == "discord":
            label, name = await self.looks(hook.workspace_id)
            body = discord.message([discord.embed({"event": webhooks.TEST}, label, name)])
        else:
            body = orjson.dumps(
                {
                    "type": "event",
                    "cursor": None,
                    "event": webhooks.TEST,
                    "previous_status": None,
                    "order": None,
                }
            )
            message_id = f"msg_test_{secrets.token_hex(8)}"
            headers = webhooks.signature_headers(
                hook.signing_secrets(), message_id, int(time.time()), body
            )
        slot = Slot()
        try:
            reply: Reply = await self.client.post(target, headers, body, slot)
        finally:
            slot.close()
        error = reply.error
        if error is None and not reply.ok:
            shown = reply.body[:300].decode("utf-8", "replace").strip()
            error = f"HTTP {reply.status}" + (f": {shown}" if shown else "")
        entry: dict[str, Any] = {
            "delivery_id": None,
            "events": [],
            "event": webhooks.TEST,
            "order_number": None,
            "attempt": 1,
            "at": iso(now_ms()),
            "outcome": "delivered" if reply.ok else "failed",
            "status_code": reply.status,
            "latency_ms": round(reply.seconds * 1000, 1),
            "error": error,
            "next_retry_at": None,
            "manual": True,
        }
        await self.webhooks.log(hook.workspace_id, hook.id, entry)
        return entry
