"""One webhook's deliveries, in order, by the process holding its lease (engine.py).

The worker first claims what the webhook's consumer group still has pending (a previous
holder's unfinished work), then reads new events. It delivers from the head of that backlog:

- an event the webhook's filter skips (or the stream trimmed) is acknowledged unsent;
- a JSON webhook gets one event per request, signed; a Discord webhook gets up to 10 events
  as one message of embeds (within Discord's size limits), never faster than its rate-limit
  headers allow;
- a 2xx acknowledges the events; anything else leaves them pending and the head is retried
  after a backoff (domain/webhooks.py ``next_delay``; a 429 waits what it asks) until
  ``retry_for`` has passed since its first failure: then it becomes a dead letter and the
  next event goes. A webhook failing without a success for ``disable_after`` is disabled, as is
  one whose receiver says it is gone (410; Discord's 404). Nothing after the head is sent before
  the head is delivered: events arrive in order.

The retry state (which event, how many failures, when next) is written to the webhook's record
with every failure, so a process taking over continues the same schedule. Acknowledgements and
log entries of successful deliveries are written in small groups (``FLUSH_EVERY`` events or
``FLUSH_AFTER`` s), in one script call: a crash in between re-sends those few events (at least
once), and the webhook-id header lets receivers drop the repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson

from orderlog.domain import discord, webhooks
from orderlog.domain.webhooks import Target
from orderlog.errors import StoreUnavailable
from orderlog.outbound.client import Reply, Slot
from orderlog.store.delivery import Entry
from orderlog.store.webhooks import Webhook, iso, now_ms

if TYPE_CHECKING:
    from orderlog.outbound.engine import Engine

log = logging.getLogger("orderlog.outbound")

FLUSH_EVERY = 64
FLUSH_AFTER = 0.2
RECHECK = 2.0  # seconds between re-reads of the record while waiting or idle
REDRIVE_PAGE = 10  # "send again" requests taken at a time
ERROR_SHOWN = 300  # characters of an answer's body kept as its error
ORDER_NUMBER = re.compile(rb'"order_number":(\d+)')


class Stop(Exception):
    """The worker must stop: the webhook was deleted or disabled, or the lease is lost."""


class Worker:
    def __init__(self, engine: Engine, workspace_id: str, webhook_id: str) -> None:
        self.engine = engine
        self.ws = workspace_id
        self.id = webhook_id
        self.queue = engine.queue
        self.config = engine.config
        self.wake = asyncio.Event()
        self.stopping = False
        self.slot = Slot()
        self.backlog: deque[Entry] = deque()
        self.acks: list[str] = []
        self.logs: list[bytes] = []
        self.delivered_ok = False
        self.first_unflushed = 0.0
        self.epoch = b""
        self.webhook: Webhook | None = None
        self.read_at = 0.0
        self.redrive_due = True
        self.bucket_until = 0.0  # Discord: the bucket is empty until then (monotonic)
        self.idle = False
        self.targets: dict[str, Target] = {}

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()

    # -- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        me = self.engine.me
        try:
            await self.adopt()
            while not self.stopping:
                try:
                    await self.step()
                except StoreUnavailable as exc:
                    log.warning("webhook %s: %s", self.id, exc.message)
                    await self.readopt()
        except Stop:
            pass
        finally:
            self.slot.close()
            with contextlib.suppress(StoreUnavailable, Stop):
                await self.flush()
            with contextlib.suppress(StoreUnavailable):
                await self.queue.release(self.ws, self.id, me)
            self.engine.observer.webhook_lag(self.id, None)

    async def readopt(self) -> None:
        """After Redis went away: wait until it answers, then start again from what it holds
        pending. Nothing is sent meanwhile: the event in flight when Redis went away is no
        longer in the backlog, so sending on from the backlog would overtake it."""
        while not self.stopping:
            await self.pause(1.0)
            with contextlib.suppress(StoreUnavailable):
                await self.adopt()
                return

    async def adopt(self) -> None:
        """Start (again) from what Redis says is pending: the events in flight when Redis went
        away are still pending there, first in line (those delivered and waiting for their
        acknowledgement are not sent again)."""
        done = set(self.acks)
        pending = await self.queue.adopt(self.ws, self.id, self.engine.me)
        self.backlog = deque(e for e in pending if e.id not in done)
        self.epoch = await self.queue.epoch(self.ws)

    async def step(self) -> None:
        hook = await self.current()
        if self.redrive_due:
            self.redrive_due = False
            await self.redrive(hook)
        if not self.backlog:
            await self.flush()
            self.backlog.extend(await self.queue.read(self.ws, self.id, self.engine.me, 100))
            if not self.backlog:
                self.idle = True
                self.engine.observer.webhook_lag(self.id, 0.0)
                await self.pause(self.config.idle_poll)
                return
        self.idle = False
        self.engine.observer.webhook_lag(self.id, (now_ms() - self.backlog[0].ms) / 1000)
        batch = self.take(hook)
        if batch:
            await self.deliver(batch)
        if self.acks and (
            len(self.acks) >= FLUSH_EVERY or time.monotonic() - self.first_unflushed > FLUSH_AFTER
        ):
            await self.flush()

    async def current(self, force: bool = False) -> Webhook:
        """The webhook's record, re-read at most every ``RECHECK`` s (or now, ``force``).
        Raises Stop when it was deleted or disabled."""
        if force or self.webhook is None or time.monotonic() - self.read_at > RECHECK:
            found = await self.engine.webhooks.find(self.ws, self.id)
            self.read_at = time.monotonic()
            # An admin's "send again" is looked for as often as the record is read (every
            # RECHECK s, at once in the process the request came to), not before every event.
            self.redrive_due = True
            if found is None or not found.spec.enabled:
                raise Stop
            self.webhook = found
        return self.webhook

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds`` or until woken (a new event, a stop, a change)."""
        if self.stopping:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.wake.wait()
        self.wake.clear()

    def take(self, hook: Webhook) -> list[Entry]:
        """The next events to send as one request, taken off the backlog; the skipped ones
        before them are acknowledged."""
        batch: list[Entry] = []
        most = discord.MAX_EMBEDS if hook.spec.format == "discord" else 1
        while self.backlog and len(batch) < most:
            entry = self.backlog[0]
            if entry.rest is None:
                self.backlog.popleft()
                self._ack([entry.id])
                self.logs.append(self._entry([entry], None, "lost", 0, None))
                continue
            if not hook.spec.wants(entry.event, entry.status):
                self.backlog.popleft()
                self._ack([entry.id])
                continue
            batch.append(self.backlog.popleft())
        return batch

    def _ack(self, ids: list[str]) -> None:
        if not self.acks:
            self.first_unflushed = time.monotonic()
        self.acks.extend(ids)

    async def flush(self) -> None:
        if not self.acks and not self.logs:
            return
        state = {"last_ok": str(now_ms())} if self.delivered_ok else {}
        acks, logs = self.acks, self.logs
        self.acks, self.logs, self.delivered_ok = [], [], False
        try:
            held = await self.queue.settle(
                self.ws, self.id, self.engine.me, acks=acks, logs=logs, state=state
            )
        except StoreUnavailable:
            # Not known to be written: kept, so adopt() does not send these events again and
            # the next flush writes them (acknowledging twice is harmless).
            self.acks[:0], self.logs[:0] = acks, logs
            self.delivered_ok = self.delivered_ok or bool(state)
            raise
        if not held:
            raise Stop

    # -- one request, until it is delivered or given up ------------------------------------------
    async def deliver(self, batch: list[Entry]) -> None:
        hook = await self.current()
        state = hook.state
        resumed = state.get("head") == batch[0].id
        failures = int(state.get("failures") or 0) if resumed else 0
        first_fail = int(state.get("first_fail") or 0) if resumed else 0
        next_at = int(state.get("next_at") or 0) if resumed else 0
        while True:
            if next_at:
                await self.wait_until(next_at, batch[0].id)
                hook = await self.current()
            body, batch = await self.render(hook, batch)
            await self.engine.governor.turn()
            if failures:
                self.engine.observer.webhook_retried(self.id)
            reply = await self.send(hook, body, [e.id for e in batch])
            verdict = webhooks.verdict(reply.status, hook.spec.format) if reply.status else "failed"
            now = now_ms()
            attempt = failures + 1
            if verdict == "delivered":
                self._ack([e.id for e in batch])
                self.logs.append(self._entry(batch, reply, "delivered", attempt, None))
                self.delivered_ok = True
                self.engine.observer.webhook_delivered(self.id, len(batch), reply.seconds)
                if failures or state.get("failing_since"):
                    await self.flush()
                    await self._state(
                        {
                            "head": "",
                            "failures": "",
                            "first_fail": "",
                            "next_at": "",
                            "failing_since": "",
                        }
                    )
                return
            self.engine.observer.webhook_failed(self.id)
            failures += 1
            first_fail = first_fail or now
            failing_since = int(state.get("failing_since") or 0) or now
            error = self._error(reply)
            common = {
                "last_fail": str(now),
                "last_error": error,
                "last_status": str(reply.status or ""),
            }
            if verdict == "gone":
                self.logs.append(self._entry(batch, reply, "disabled", attempt, None))
                self.backlog.extendleft(reversed(batch))
                await self.disable(f"the receiver answered {reply.status}: it is gone", common)
                raise Stop
            if now - first_fail >= self.config.retry_for * 1000:
                await self.bury(batch, reply, attempt, error, common)
                return
            if now - failing_since >= self.config.disable_after * 1000:
                self.logs.append(self._entry(batch, reply, "disabled", attempt, None))
                self.backlog.extendleft(reversed(batch))
                hours = self.config.disable_after / 3600
                await self.disable(
                    f"failing for {hours:g} h without a success; last error: {error}", common
                )
                raise Stop
            delay = webhooks.next_delay(
                failures,
                self.config.retry_base,
                self.config.retry_max_interval,
                random.random(),
                self._retry_after(reply, hook),
                verdict == "throttled",
            )
            next_at = now + int(delay * 1000)
            self.logs.append(self._entry(batch, reply, "retrying", attempt, next_at))
            await self.flush()
            await self._state(
                {
                    "head": batch[0].id,
                    "failures": str(failures),
                    "first_fail": str(first_fail),
                    "next_at": str(next_at),
                    "failing_since": str(failing_since),
                    **common,
                }
            )
            state = (await self.current(force=True)).state

    async def wait_until(self, at_ms: int, head: str) -> None:
        """Sleep until ``at_ms``, re-reading the record every few seconds: an admin may make
        the event due now, disable or delete the webhook, or queue a redrive meanwhile."""
        while True:
            left = (at_ms - now_ms()) / 1000
            if left <= 0 or self.stopping:
                if self.stopping:
                    raise Stop
                return
            await self.pause(min(left, RECHECK))
            hook = await self.current(force=True)
            if hook.state.get("head") == head and hook.state.get("next_at") == "0":
                return
            await self.redrive(hook)

    async def _state(self, fields: dict[str, str]) -> None:
        if not await self.queue.settle(self.ws, self.id, self.engine.me, state=fields):
            raise Stop

    async def disable(self, reason: str, common: dict[str, str]) -> None:
        await self.flush()
        await self._state(
            {"enabled": "0", "disabled_reason": reason, "disabled_at": str(now_ms()), **common}
        )
        log.warning("webhook %s of workspace %s disabled: %s", self.id, self.ws, reason)

    async def bury(
        self, batch: list[Entry], reply: Reply, attempt: int, error: str, common: dict[str, str]
    ) -> None:
        """Give up on ``batch``: each event becomes a dead letter (kept with its body)."""
        self.logs.append(self._entry(batch, reply, "dead", attempt, None))
        await self.flush()
        for entry in batch:
            letter = orjson.dumps(
                {
                    "event": entry.event,
                    "order_number": _order_number(entry.rest),
                    "status": entry.status,
                    "rest": (entry.rest or b"").decode(),
                    "attempts": attempt,
                    "error": error,
                    "dead_at": iso(now_ms()),
                }
            )
            if not await self.queue.settle(
                self.ws, self.id, self.engine.me, dead=(entry.id, letter)
            ):
                raise Stop
            self.engine.observer.webhook_dead(self.id)
        await self._state({"head": "", "failures": "", "first_fail": "", "next_at": "", **common})

    # -- requests ------------------------------------------------------------------------------
    async def render(self, hook: Webhook, batch: list[Entry]) -> tuple[bytes, list[Entry]]:
        """The request body for ``batch``, and the part of it that fits: a Discord message
        may hold fewer embeds than events were taken (the rest go back to the backlog)."""
        if hook.spec.format == "json":
            return batch[0].body(self.epoch), batch
        label, name = await self.engine.looks(self.ws)
        embeds = [discord.embed(orjson.loads(e.body(self.epoch)), label, name) for e in batch]
        n = discord.fitting(embeds)
        if n < len(batch):
            self.backlog.extendleft(reversed(batch[n:]))
        return discord.message(embeds[:n]), batch[:n]

    async def send(self, hook: Webhook, body: bytes, ids: list[str]) -> Reply:
        target = self.target(hook)
        if hook.spec.format == "discord":
            await self.engine.discord_turn(target.host, self.bucket_until)
            reply = await self.engine.client.post(target, [], body, self.slot)
            if reply.status is not None:
                wait, is_global = discord.rate_limit(reply.status, reply.headers, reply.body)
                until = time.monotonic() + wait
                if is_global:
                    self.engine.discord_pause(target.host, until)
                else:
                    self.bucket_until = until
            return reply
        epoch = self.epoch.decode()
        message_id = webhooks.message_id(epoch, ids[0])
        headers = webhooks.signature_headers(
            hook.signing_secrets(), message_id, int(time.time()), body
        )
        return await self.engine.client.post(target, headers, body, self.slot)

    def target(self, hook: Webhook) -> Target:
        url = hook.spec.url
        found = self.targets.get(url)
        if found is None:
            found = webhooks.parse_url(url)
            if hook.spec.format == "discord" and "wait=" not in found.target:
                # wait=true: Discord answers once the message is saved (or says why not).
                query = ("&" if "?" in found.target else "?") + "wait=true"
                found = Target(found.scheme, found.host, found.port, found.target + query)
            self.targets = {url: found}
        return found

    def _retry_after(self, reply: Reply, hook: Webhook) -> float | None:
        if hook.spec.format == "discord" and reply.status == 429:
            return discord.rate_limit(reply.status, reply.headers, reply.body)[0]
        return webhooks.parse_retry_after(reply.headers.get("retry-after"))

    # -- manual re-sends -----------------------------------------------------------------------
    async def redrive(self, hook: Webhook) -> None:
        """Send each event an admin asked for once more, out of band (not in stream order)."""
        asked = await self.queue.redrive(self.ws, self.id, REDRIVE_PAGE)
        if len(asked) == REDRIVE_PAGE:
            self.redrive_due = True  # more may be waiting: the next step takes them
        for sid in asked:
            letter = await self.queue.dead_letter(self.ws, self.id, sid)
            if letter is not None:
                entry: Entry | None = Entry(sid, letter["status"], letter["rest"].encode())
            else:
                entry = await self.queue.entry(self.ws, sid)
            if entry is None or entry.rest is None:
                self.logs.append(self._entry([Entry(sid, "", None)], None, "lost", 0, None))
                continue
            body, _ = await self.render(hook, [entry])
            reply = await self.send(hook, body, [sid])
            ok = reply.status is not None and reply.ok
            self.logs.append(
                self._entry([entry], reply, "delivered" if ok else "failed", 1, None, manual=True)
            )
            if ok:
                self.engine.observer.webhook_delivered(self.id, 1, reply.seconds)
                if letter is not None:
                    await self.queue.forget_dead(self.ws, self.id, sid)
            else:
                self.engine.observer.webhook_failed(self.id)
        if self.logs and not self.acks:
            await self.flush()

    # -- the delivery log ----------------------------------------------------------------------
    def _error(self, reply: Reply) -> str:
        if reply.error:
            return reply.error
        shown = reply.body[:ERROR_SHOWN].decode("utf-8", "replace").strip()
        return f"HTTP {reply.status}" + (f": {shown}" if shown else "")

    def _entry(
        self,
        batch: list[Entry],
        reply: Reply | None,
        outcome: str,
        attempt: int,
        next_at: int | None,
        *,
        manual: bool = False,
    ) -> bytes:
        first = batch[0]
        entry: dict[str, Any] = {
            "delivery_id": first.id,
            "events": [e.id for e in batch],
            "event": first.event or None,
            "order_number": _order_number(first.rest),
            "attempt": attempt,
            "at": iso(now_ms()),
            "outcome": outcome,
            "status_code": reply.status if reply else None,
            "latency_ms": round(reply.seconds * 1000, 1) if reply else None,
            "error": None if reply is None or reply.ok else self._error(reply),
            "next_retry_at": iso(next_at) if next_at else None,
        }
        if outcome == "lost":
            entry["error"] = "the event left the stream (ORDERLOG_STREAM_MAXLEN) before delivery"
        if manual:
            entry["manual"] = True
        return orjson.dumps(entry)


def _order_number(rest: bytes | None) -> int | None:
    found = ORDER_NUMBER.search(rest or b"")
    return int(found.group(1)) if found else None
