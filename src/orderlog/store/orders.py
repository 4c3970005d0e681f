"""OrderStore: orders in Redis, written by Lua, returned as JSON bytes ready to send.

Every method takes the workspace id; keys come from ``keys.Keys``. Redis connection errors and
timeouts leave this package only as ``StoreUnavailable`` (mapped once, in ``unavailable``).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from orderlog.domain.model import (
    DEFAULT_WORKFLOW,
    ChangeStatus,
    Command,
    CreateOrder,
    SetPriority,
    Workflow,
    WorkflowChange,
)
from orderlog.domain.ratelimit import OFF, Quota, RateCheck
from orderlog.domain.search import (
    MAX_PREFIX_VALUES,
    PREFIX_FIELDS,
    PREFIX_KINDS,
    Group,
    Index,
    Query,
)
from orderlog.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    NotReplicated,
    OrderLogError,
    StatusesInUse,
    WorkflowChanged,
)
from orderlog.keys import Keys
from orderlog.store import argv, scripts
from orderlog.store.client import RedisClient, text, unavailable
from orderlog.store.multiplex import Multiplexed
from orderlog.store.replication import Replicated

SCAN_BUDGET = 3_000  # orders one search script call may examine (how long it holds Redis)
MAX_CALLS = 8  # script calls one search page may make before answering a short page
WALK_PAGE = 200  # orders per search call when walking every match (CSV, stats)


WRITE_KEYS_KEPT = 10_000  # workspaces whose write keys a process keeps made


def new_order_id() -> str:
    """24 lower-case hex digits: 4 bytes of creation time, 8 random bytes (an ObjectId's shape)."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{_random_hex()}"


class _RandomHex:
    """16 hex digits from os.urandom, drawn 4 KiB at a time: one system call per 512 ids,
    not one per id. A forked child starts with a fresh draw (never its parent's)."""

    def __init__(self) -> None:
        self.pool, self.at = "", 0
        os.register_at_fork(after_in_child=self.forget)

    def forget(self) -> None:
        self.pool, self.at = "", 0

    def __call__(self) -> str:
        if self.at >= len(self.pool):
            self.pool, self.at = os.urandom(4096).hex(), 0
        self.at += 16
        return self.pool[self.at - 16 : self.at]


_random_hex = _RandomHex()


@dataclass(frozen=True, slots=True)
class OrderResult:
    id: str
    order_number: int
    version: int
    changed: bool
    order: bytes  # the order's JSON

    def to_json(self) -> dict[str, Any]:
        return {
            "error": None,
            "id": self.id,
            "order_number": self.order_number,
            "order": orjson.Fragment(self.order),
        }


@dataclass(frozen=True, slots=True)
class Idempotency:
    """A client's Idempotency-Key, scoped to its API key, and the hash of the request."""

    digest: str
    body_hash: str


Result = OrderResult | OrderLogError


@dataclass(frozen=True, slots=True)
class SearchPage:
    """Orders as JSON bytes (with history: order dicts with their ``history``), newest first,
    and the number the next page continues below (None: nothing is left)."""

    orders: list[Any]
    next_before: int | None
    examined: int


class OrderStore:
    def __init__(
        self,
        redis: RedisClient,
        keys: Keys | None = None,
        *,
        stream_maxlen: int = 100_000,
        idempotency_ttl: int = 24 * 3600,
        publish_command: str = "PUBLISH",
        on_events: Callable[[int], object] | None = None,
        on_write: Callable[[str], object] | None = None,
        replicated: Replicated | None = None,
        pipelined: Multiplexed | None = None,
    ) -> None:
        """Args:
        replicated: writes wait for replicas (``WAIT``) before they are acknowledged.
        pipelined: the connection the scripts every request runs go through (write, read one,
            rate check): store/multiplex.py, a fifth of redis-py's CPU per call. A write that
            waits for replicas keeps redis-py (its WAIT must follow it on its own connection,
            and would hold up every other request on the pipelined one).
        """
        self.redis = redis
        self.replicated = replicated
        self.pipelined = pipelined
        self.calls: Any = pipelined or redis
        self.on_events = on_events  # told how many events each write published (metrics)
        self.on_write = on_write  # told the workspace a write added events to (webhooks)
        self.keys = keys or Keys()
        self.stream_maxlen = stream_maxlen
        self.idempotency_ttl = idempotency_ttl
        self.publish_command = publish_command
        self._write_keys: dict[str, tuple[str, ...]] = {}

    # -- writes --------------------------------------------------------------------------------
    def _fixed_write_keys(self, workspace_id: str) -> tuple[str, ...]:
        """The keys and prefixes of write.lua that depend on the workspace alone, made once per
        workspace (a process serves the few its keys name; at most WRITE_KEYS_KEPT kept)."""
        k = self.keys
        fixed = (
            k.seq(workspace_id),
            k.epoch(workspace_id),
            k.ids(workspace_id),
            k.events(workspace_id),
            k.channel(workspace_id),
            k.events_first(workspace_id),
            k.workflow_version(workspace_id),
            k.order_prefix(workspace_id),
            k.index_prefix(workspace_id),
        )
        if len(self._write_keys) >= WRITE_KEYS_KEPT:
            self._write_keys.clear()
        self._write_keys[workspace_id] = fixed
        return fixed

    async def apply(
        self,
        workspace_id: str,
        commands: list[Command],
        workflow: Workflow,
        idempotency: Idempotency | None = None,
        *,
        batch: bool = False,
        rate: RateCheck | None = None,
    ) -> list[Result]:
        """Apply commands in order, atomically, in one round trip; one result per command.
        With ``rate``, the caller's rate limit is checked in the same script (``rate.quota`` is
        filled in).

        Raises:
            InvalidInput: a command does not fit the workflow (nothing was written).
            RateLimited: the key is over its rate (nothing was written).
            NotReplicated: written on the master, but on fewer replicas than asked in time.
            WorkflowChanged: the workspace's workflow is no longer ``workflow`` (nothing was
                written): check the commands against the current one.
            StoreUnavailable: Redis is away; nothing is acknowledged.
        """
        fields = argv.encode(commands, workflow, new_order_id, batch=batch)
        k = self.keys
        fixed = self._write_keys.get(workspace_id) or self._fixed_write_keys(workspace_id)
        keys = [
            *fixed[:5],
            k.idempotency(workspace_id, idempotency.digest if idempotency else "-"),
            k.rate_limit(workspace_id, rate.key_id if rate else "-"),
            *fixed[5:7],
        ]
        rate_interval, rate_burst = rate.limit.args() if rate else OFF
        args = argv.request(
            fields,
            workspace=workspace_id,
            order_prefix=fixed[7],
            index_prefix=fixed[8],
            maxlen=self.stream_maxlen,
            idem_hash=idempotency.body_hash if idempotency else "",
            idem_ttl=self.idempotency_ttl,
            publish=self.publish_command,
            ops=len(commands),
            rate_interval=rate_interval,
            rate_burst=rate_burst,
            confirm=int(self.replicated is not None),
            workflow_version=workflow.version,
        )
        acked = None
        if self.replicated is None:
            with unavailable():
                raw, *quota = await scripts.WRITE(self.calls, keys, args)
        else:
            (raw, *quota), acked = await self.replicated.run(scripts.WRITE, keys, args)
        if rate is not None:
            rate.quota = Quota.from_script(rate.limit, *quota)
            if not rate.quota.allowed:
                raise rate.quota.error()
        reply = orjson.loads(raw)
        if reply[0] == "workflow":
            raise WorkflowChanged()
        if reply[0] == "idem":
            if reply[1] == "mismatch":
                raise InvalidInput(
                    "Idempotency-Key", "was already used with a different request body"
                )
            reply = orjson.loads(reply[2])
        else:
            # Each op that changed an order wrote one event (a replay above wrote none).
            written = sum(1 for r in reply if r[0] == "ok" and r[4])
            if self.on_events is not None:
                self.on_events(written)
            if written and self.on_write is not None:
                self.on_write(workspace_id)
        if self.replicated is not None and acked is not None and acked < self.replicated.replicas:
            raise NotReplicated(acked, self.replicated.replicas, self.replicated.timeout)
        return [_result(r, cmd) for r, cmd in zip(reply, commands, strict=True)]

    async def create(
        self,
        workspace_id: str,
        command: CreateOrder,
        workflow: Workflow,
        idempotency: Idempotency | None = None,
        rate: RateCheck | None = None,
    ) -> OrderResult:
        return only(await self.apply(workspace_id, [command], workflow, idempotency, rate=rate))

    async def change_status(
        self,
        workspace_id: str,
        command: ChangeStatus,
        workflow: Workflow,
        idempotency: Idempotency | None = None,
        rate: RateCheck | None = None,
    ) -> OrderResult:
        return only(await self.apply(workspace_id, [command], workflow, idempotency, rate=rate))

    async def change_workflow(
        self, workspace_id: str, current: Workflow, new: Workflow | None, change: WorkflowChange
    ) -> int:
        """Replace the workflow ``current`` (as read, with its version) by ``new`` (None: the
        default), moving the orders of each removed status where ``change`` says, in one
        script: each moved order gets a history entry and an event, then live clients get a
        ``workflow.changed`` event. Returns the number of orders moved.

        Raises:
            StatusesInUse: orders are in removed statuses ``change`` does not move (nothing
                was done).
            WorkflowChanged: the workflow is no longer ``current`` (nothing was done).
            StoreUnavailable, NotReplicated: as for ``apply``.
        """
        k = self.keys
        keys = [
            k.workflow(workspace_id),
            k.workflow_version(workspace_id),
            k.epoch(workspace_id),
            k.events(workspace_id),
            k.channel(workspace_id),
            k.events_first(workspace_id),
        ]
        shown = new or DEFAULT_WORKFLOW
        args: list[Any] = [
            current.version,
            orjson.dumps(new.to_json()) if new is not None else "",
            orjson.dumps(shown.to_json()),
            workspace_id,
            k.order_prefix(workspace_id),
            k.index_prefix(workspace_id),
            self.stream_maxlen,
            self.publish_command,
        ]
        for status in change.removed:
            args += [status, change.moves.get(status, "")]
        reply = await self._write(scripts.WORKFLOW, keys, args)
        kind = text(reply[0])
        if kind == "stale":
            raise WorkflowChanged()
        if kind == "held":
            pairs = reply[1:]
            raise StatusesInUse(
                {text(pairs[i]): int(pairs[i + 1]) for i in range(0, len(pairs), 2)}
            )
        moved = int(reply[2])
        if self.on_events is not None:
            self.on_events(moved + 1)
        if self.on_write is not None:
            self.on_write(workspace_id)
        return moved

    async def _write(self, script: scripts.Script, keys: list[str], args: list[Any]) -> Any:
        """Run a write script; with ``replicated``, acknowledged once enough replicas have it.

        Raises:
            NotReplicated: written on the master, on too few replicas in time.
            StoreUnavailable: Redis is away.
        """
        if self.replicated is None:
            with unavailable():
                return await script(self.redis, keys, args)
        reply, acked = await self.replicated.run(script, keys, args)
        if acked < self.replicated.replicas:
            raise NotReplicated(acked, self.replicated.replicas, self.replicated.timeout)
        return reply

    # -- reads ---------------------------------------------------------------------------------
    async def get(self, workspace_id: str, order_id: str) -> dict[str, Any]:
        """The order with its full history. Raises NotFound."""
        return await self._one(workspace_id, "id", order_id)

    async def get_by_number(self, workspace_id: str, number: int) -> dict[str, Any]:
        """The order numbered ``number`` with its full history. Raises NotFound."""
        return await self._one(workspace_id, "n", number)

    async def _one(self, workspace_id: str, by: str, value: str | int) -> dict[str, Any]:
        """``by``: read.lua's mode, "id" or "n" (number)."""
        k = self.keys
        with unavailable():
            (row,) = await scripts.READ(
                self.calls,
                [k.ids(workspace_id)],
                [workspace_id, k.order_prefix(workspace_id), by, 1, value],
            )
        if not row:
            raise NotFound("Order", value)
        return with_history(row[0], row[1])

    async def rate_check(self, workspace_id: str, rate: RateCheck) -> Quota:
        """Check (and count) one request against its key's limit; fills ``rate.quota``.

        Raises:
            RateLimited: over the limit.
            StoreUnavailable: Redis is away (a request is never let through unchecked).
        """
        return await limit(self.calls, self.keys.rate_limit(workspace_id, rate.key_id), rate)

    # -- search and retention -----------------------------------------------------------------
    async def search(
        self,
        workspace_id: str,
        query: Query,
        *,
        history: bool = False,
        budget: int = SCAN_BUDGET,
        max_calls: int = MAX_CALLS,
    ) -> SearchPage:
        """One page of a search, newest first (see store/search.lua).

        Each script call examines at most ``budget`` candidates, so one call never holds Redis
        for long; up to ``max_calls`` calls fill the page. A page may come back short (even
        empty) with a ``next_before`` when the budget ran out on a sparse intersection.
        """
        k = self.keys
        keys = [k.index(workspace_id, "all"), k.index(workspace_id, "created")]
        sizes = []
        for group in await self._prefixes(workspace_id, query.groups):
            keys += [k.index(workspace_id, *ix) for ix in group]
            sizes.append(len(group))
        lowest = query.number or 1
        before = query.before
        if query.number is not None:
            before = min(before or query.number + 1, query.number + 1)
        orders: list[Any] = []
        examined = 0
        for _ in range(max_calls):
            args = [
                workspace_id,
                k.order_prefix(workspace_id),
                lowest,
                "" if before is None else before,
                "" if query.from_ms is None else query.from_ms,
                "" if query.to_ms is None else query.to_ms,
                query.limit - len(orders),
                budget,
                int(history),
                *sizes,
            ]
            with unavailable():
                reply = await scripts.SEARCH(self.redis, keys, args)
            examined += int(reply[1])
            orders += [with_history(*row) if history else row for row in reply[2:]]
            before = int(reply[0]) or None
            if before is None or len(orders) >= query.limit:
                break
        return SearchPage(orders, before, examined)

    async def _prefixes(self, workspace_id: str, groups: tuple[Group, ...]) -> list[Group]:
        """The groups with every name, item or word filter widened to the indexed values that
        start with it (one ZRANGEBYLEX on its vocabulary each: O(log n + matches), no scan).
        The typed value itself is always kept, so data indexed before the vocabularies existed
        still matches exactly.

        Raises:
            InvalidInput: a prefix that starts more than MAX_PREFIX_VALUES values.
        """
        out = []
        for group in groups:
            widened: list[Index] = []
            for ix in group:
                kind = PREFIX_KINDS.get(ix[0])
                if kind is None:
                    widened.append(ix)
                    continue
                typed = ix[-1]
                with unavailable():
                    found = await self.redis.zrangebylex(
                        self.keys.vocabulary(workspace_id, kind),
                        b"[" + typed.encode(),
                        b"[" + typed.encode() + b"\xff",
                        start=0,
                        num=MAX_PREFIX_VALUES + 1,
                    )
                values = dict.fromkeys([typed, *map(text, found)])
                if len(values) > MAX_PREFIX_VALUES:
                    raise InvalidInput(
                        PREFIX_FIELDS[ix[0]],
                        f"{typed!r} starts more than {MAX_PREFIX_VALUES} names or words: "
                        "type more of it",
                    )
                widened += [(*ix[:-1], value) for value in values]
            out.append(tuple(dict.fromkeys(widened)))
        return out

    async def walk(
        self, workspace_id: str, query: Query, page: int = WALK_PAGE
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every order matching ``query`` with its history, newest first, ``page`` at a time (one
        bounded search per page: the CSV export and the stats report)."""
        query = replace(query, limit=page)
        while True:
            found = await self.search(workspace_id, query, history=True)
            yield found.orders
            if found.next_before is None:
                return
            query = replace(query, before=found.next_before)

    async def expire(self, workspace_id: str, cutoff_ms: int, batch: int = 200) -> int:
        """Remove up to ``batch`` orders created before ``cutoff_ms`` (epoch ms) with all their
        index entries, in one atomic script call; the number removed (0: nothing is left)."""
        k = self.keys
        keys = [
            k.ids(workspace_id),
            k.index(workspace_id, "all"),
            k.index(workspace_id, "created"),
        ]
        args = [k.order_prefix(workspace_id), k.index_prefix(workspace_id), cutoff_ms, batch]
        with unavailable():
            return int(await scripts.RETENTION(self.redis, keys, args))

    async def aclose(self) -> None:
        """Close the connections of its own: the pipelined one, the replicated writes' (the
        client is its owner's to close)."""
        if self.pipelined is not None:
            await self.pipelined.aclose()
        if self.replicated is not None:
            await self.replicated.close()

    async def ping(self) -> bool:
        with unavailable():
            return bool(await self.redis.ping())


async def limit(redis: RedisClient, key: str, rate: RateCheck) -> Quota:
    """Count one request against the GCRA state at ``key``; fills ``rate.quota``.

    Raises:
        RateLimited: over the limit.
        StoreUnavailable: Redis is away (a request is never let through unchecked).
    """
    with unavailable():
        reply = await scripts.RATE_LIMIT(redis, [key], rate.limit.args())
    rate.quota = Quota.from_script(rate.limit, *reply)
    if not rate.quota.allowed:
        raise rate.quota.error()
    return rate.quota


def with_history(order: bytes, history: bytes) -> dict[str, Any]:
    """An order's JSON and its history's JSON (as Lua returns them) -> one order dict."""
    out: dict[str, Any] = orjson.loads(order)
    out["history"] = orjson.loads(history)
    return out


def only(results: list[Result]) -> OrderResult:
    """The one result of a one-command write; its error raised."""
    (result,) = results
    if isinstance(result, OrderLogError):
        raise result
    return result


def _result(r: list[Any], cmd: Command) -> Result:
    if r[0] == "ok":
        _, oid, number, version, changed, order = r
        return OrderResult(oid, int(number), int(version), bool(changed), order.encode())
    kind = r[1]
    if kind == "notfound":
        return NotFound("Order", r[2])
    if kind == "transition":
        return InvalidTransition(r[3], r[4], r[2])
    if kind == "version":
        return Conflict(f"Order {r[2]} is at version {r[3]}, not {r[4]}.")
    if kind == "ref":
        named = cmd.order_ref if isinstance(cmd, ChangeStatus | SetPriority) else None
        return Conflict(f"The create this operation names ({named or r[2]}) failed.")
    if kind == "exists":
        return Conflict(f"Order id {r[2]} exists already.")
    if kind == "closed":
        what = "its priority" if isinstance(cmd, SetPriority) else "its items"
        return Conflict(f"Order {r[2]} is {r[3]}, a final status: {what} can no longer change.")
    if kind == "item":
        return NotFound("Item", f"{r[3]} of order {r[2]}")
    raise RuntimeError(f"write.lua answered {r!r}")
