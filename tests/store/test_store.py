"""OrderStore against a real Redis: writes, transitions, indexes, events, concurrency."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from orderlog.domain import inputs, model
from orderlog.domain.model import DEFAULT_WORKFLOW
from orderlog.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from orderlog.store.orders import Idempotency

CUSTOMER = {"user_id": 101, "username": "Alice", "display_name": "Ally"}
CASHIER = {"UserId": 7, "Name": "Bob", "DisplayName": "Bobby"}
CHEF = {"user_id": "8", "username": "Chef_Carl"}


def create(**extra: Any) -> model.CreateOrder:
    return inputs.create_order(
        {
            "customer": CUSTOMER,
            "actor": CASHIER,
            "items": ["Latte", {"name": "Cookie", "quantity": 2}],
            **extra,
        }
    )


def status(order_id: str, name: str, **extra: Any) -> model.ChangeStatus:
    return inputs.change_status({"status": name, **extra}, order_id)


async def test_store_create_returns_order_with_number_and_fields(
    state: Any, workspace: Any
) -> None:
    """A create answers the id, the first order number and the full order."""
    result = await state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW)
    assert result.order_number == 1
    assert len(result.id) == 24
    order = await state.orders.get(workspace.id, result.id)
    assert order["status"] == "submitted"
    assert order["customer"] == {"user_id": 101, "username": "Alice", "display_name": "Ally"}
    assert order["cashier"]["username"] == "Bob"
    assert order["items"] == [
        {"name": "Latte", "quantity": 1, "done": False},
        {"name": "Cookie", "quantity": 2, "done": False},
    ]
    assert order["priority"] == "normal"
    assert order["created_at"].endswith("Z")
    assert len(order["created_at"]) == 24
    assert order["history"][0]["status"] == "submitted"
    assert order["history"][0]["actor"]["user_id"] == 7


async def test_store_full_seed_lifecycle_records_who_did_what(state: Any, workspace: Any) -> None:
    """The seed lifecycle: waiting, preparing (preparer), reprepare, ready, handed_to, complete."""
    r = await state.orders.create(
        workspace.id, create(status="waiting_for_preparation"), DEFAULT_WORKFLOW
    )
    steps = [
        status(r.id, "preparing", actor=CHEF),
        status(r.id, "finding_new_colleague"),
        status(r.id, "preparing", actor={"user_id": 9, "username": "Dana"}),
        status(r.id, "waiting_for_pickup"),
        status(r.id, "handed_to", actor=CASHIER, handed_to=CUSTOMER),
        status(r.id, "completed"),
    ]
    for step in steps:
        out = await state.orders.change_status(workspace.id, step, DEFAULT_WORKFLOW)
        assert out.changed
    order = await state.orders.get(workspace.id, r.id)
    assert order["status"] == "completed"
    assert order["version"] == 7
    assert order["preparer"]["username"] == "Dana"
    assert order["handed_to"]["user_id"] == 101
    assert order["handed_by"]["username"] == "Bob"
    assert [h["status"] for h in order["history"]] == [
        "waiting_for_preparation",
        "preparing",
        "finding_new_colleague",
        "preparing",
        "waiting_for_pickup",
        "handed_to",
        "completed",
    ]
    assert order["history"][1]["actor"]["user_id"] == 8


async def test_store_orders_kept_as_compact_hashes(state: Any, workspace: Any, redis: Any) -> None:
    """The embedded Redis keeps an order's hash as a listpack while its fields stay under
    1 KiB (history and items are JSON fields past Redis' default 64 bytes: docs/deploy.md);
    an order with a longer field becomes a hash table and reads back the same."""
    if os.environ.get("REDIS_URL"):
        pytest.skip("a Redis the suite did not start has its own hash-max-listpack-value")
    small = await state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW)
    for name in ("waiting_for_preparation", "preparing"):
        await state.orders.change_status(workspace.id, status(small.id, name), DEFAULT_WORKFLOW)
    items = [{"name": f"Item {i}", "notes": "extra hot, oat milk, no sugar"} for i in range(40)]
    big = await state.orders.create(workspace.id, create(items=items), DEFAULT_WORKFLOW)
    keys = state.orders.keys
    small_key, big_key = (keys.order(workspace.id, r.order_number) for r in (small, big))
    history = await redis.hget(small_key, "h")
    assert 64 < len(history) < 1024
    assert await redis.object("encoding", small_key) in (b"listpack", b"ziplist")
    assert len(await redis.hget(big_key, "items")) > 1024
    assert await redis.object("encoding", big_key) == b"hashtable"
    order = await state.orders.get(workspace.id, big.id)
    assert [i["name"] for i in order["items"]] == [f"Item {i}" for i in range(40)]
    assert (await state.orders.get(workspace.id, small.id))["status"] == "preparing"


async def test_store_order_with_thousands_of_words_indexes_them_all(
    state: Any, workspace: Any, redis: Any
) -> None:
    """Every distinct word of an order goes into the word index and its vocabulary, past what
    one Lua unpack takes (~8,000 values): 100 items with 500-character notes, 8,300 words."""
    words = [f"x{i}" for i in range(8300)]
    items = [
        {"name": f"Item {i}", "notes": " ".join(words[i * 83 : (i + 1) * 83])} for i in range(100)
    ]
    assert all(len(item["notes"]) <= inputs.MAX_NOTES for item in items)
    r = await state.orders.create(workspace.id, create(items=items), DEFAULT_WORKFLOW)
    keys = state.orders.keys
    vocabulary = set(await redis.zrange(keys.vocabulary(workspace.id, "token"), 0, -1))
    assert {w.encode() for w in words} <= vocabulary
    for word in ("x0", "x4999", "x8299"):
        assert await redis.zscore(keys.index(workspace.id, "token", word), r.order_number)
    assert (await state.orders.get(workspace.id, r.id))["items"][99]["notes"].endswith("x8299")


async def test_store_same_status_is_a_noop(state: Any, workspace: Any) -> None:
    """Re-sending the current status changes nothing and emits no event."""
    r = await state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW)
    before = await state.redis.xlen(state.orders.keys.events(workspace.id))
    out = await state.orders.change_status(
        workspace.id, status(r.id, "submitted"), DEFAULT_WORKFLOW
    )
    assert not out.changed
    assert out.version == 1
    assert await state.redis.xlen(state.orders.keys.events(workspace.id)) == before


@pytest.mark.parametrize(
    ("path", "target"),
    [
        (["completed"], "preparing"),
        (["cancelled"], "submitted"),
        (["preparing"], "submitted"),
        (["waiting_for_pickup"], "finding_new_colleague"),
        (["finding_new_colleague"], "waiting_for_pickup"),
        (["completed"], "cancelled"),
    ],
)
async def test_store_forbidden_transitions_raise(
    state: Any, workspace: Any, path: list[str], target: str
) -> None:
    """Illegal moves raise InvalidTransition naming both statuses, and change nothing."""
    r = await state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW)
    for step in path:
        if step == "finding_new_colleague":
            await state.orders.change_status(
                workspace.id, status(r.id, "preparing"), DEFAULT_WORKFLOW
            )
        await state.orders.change_status(workspace.id, status(r.id, step), DEFAULT_WORKFLOW)
    with pytest.raises(InvalidTransition) as info:
        await state.orders.change_status(workspace.id, status(r.id, target), DEFAULT_WORKFLOW)
    assert info.value.current == path[-1]
    assert info.value.target == target
    order = await state.orders.get(workspace.id, r.id)
    assert order["status"] == path[-1]


async def test_store_every_allowed_transition_applies(state: Any, workspace: Any) -> None:
    """Each edge of the default graph can be taken from a fresh order in its source status."""
    reach = {  # how to bring a new order into each status
        "submitted": [],
        "waiting_for_preparation": ["waiting_for_preparation"],
        "preparing": ["preparing"],
        "finding_new_colleague": ["preparing", "finding_new_colleague"],
        "waiting_for_pickup": ["waiting_for_pickup"],
        "handed_to": ["handed_to"],
    }
    count = 0
    for src, targets in DEFAULT_WORKFLOW.transitions.items():
        if src not in reach:
            assert not targets
            continue
        for target in targets:
            r = await state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW)
            for step in reach[src]:
                await state.orders.change_status(workspace.id, status(r.id, step), DEFAULT_WORKFLOW)
            out = await state.orders.change_status(
                workspace.id, status(r.id, target), DEFAULT_WORKFLOW
            )
            assert out.changed
            count += 1
    assert count > 20


async def test_store_unknown_order_is_not_found(state: Any, workspace: Any) -> None:
    """A status change of an order that does not exist raises NotFound."""
    with pytest.raises(NotFound):
        await state.orders.change_status(
            workspace.id, status("a" * 24, "preparing"), DEFAULT_WORKFLOW
        )
    with pytest.raises(NotFound):
        await state.orders.get_by_number(workspace.id, 99)


async def test_store_version_mismatch_conflicts(state: Any, workspace: Any) -> None:
    """A status change expecting another version is a Conflict."""
    r = await state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW)
    with pytest.raises(Conflict):
        await state.orders.change_status(
            workspace.id, status(r.id, "preparing", version=5), DEFAULT_WORKFLOW
        )


async def test_store_64_concurrent_creators_get_gapless_numbers(state: Any, workspace: Any) -> None:
    """64 concurrent creates get the numbers 1..64, each once."""
    results = await asyncio.gather(
        *(state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW) for _ in range(64))
    )
    assert sorted(r.order_number for r in results) == list(range(1, 65))
    assert len({r.id for r in results}) == 64


async def test_store_16_concurrent_writers_lose_no_update(state: Any, workspace: Any) -> None:
    """16 writers racing on one order: every accepted change is in the history, in order."""
    r = await state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW)
    targets = [
        "waiting_for_preparation",
        "preparing",
        "finding_new_colleague",
        "preparing",
        "waiting_for_pickup",
        "handed_to",
        "completed",
        "cancelled",
    ] * 2

    async def attempt(target: str) -> bool:
        try:
            out = await state.orders.change_status(
                workspace.id, status(r.id, target), DEFAULT_WORKFLOW
            )
        except InvalidTransition:
            return False
        return out.changed

    accepted = sum(await asyncio.gather(*(attempt(t) for t in targets)))
    order = await state.orders.get(workspace.id, r.id)
    assert order["version"] == 1 + accepted
    assert len(order["history"]) == 1 + accepted
    for before, after in zip(order["history"], order["history"][1:], strict=False):
        assert DEFAULT_WORKFLOW.allows(before["status"], after["status"])
        assert after["previous_status"] == before["status"]


async def test_store_idempotent_retry_creates_one_order(state: Any, workspace: Any) -> None:
    """The same idempotency key replays the first result; another body is rejected."""
    key = Idempotency("d" * 64, "body-1")
    first = await state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW, key)
    again = await state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW, key)
    assert again.id == first.id
    assert again.order_number == first.order_number
    assert await state.redis.get(state.orders.keys.seq(workspace.id)) == b"1"
    with pytest.raises(InvalidInput):
        await state.orders.create(
            workspace.id, create(), DEFAULT_WORKFLOW, Idempotency("d" * 64, "body-2")
        )


async def test_store_events_carry_order_and_cursor(state: Any, workspace: Any) -> None:
    """Each change is one stream entry and one PUBLISH with the same id, status and frame."""
    pubsub = state.redis.pubsub()
    await pubsub.subscribe(state.orders.keys.channel(workspace.id))
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    r = await state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW)
    await state.orders.change_status(
        workspace.id, status(r.id, "preparing", actor=CHEF), DEFAULT_WORKFLOW
    )
    entries = await state.redis.xrange(state.orders.keys.events(workspace.id))
    assert [e[1][b"s"] for e in entries] == [b"submitted", b"preparing"]
    messages = []
    for _ in range(2):
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        assert msg is not None
        messages.append(msg["data"])
    await pubsub.aclose()
    for (entry_id, fields), data in zip(entries, messages, strict=True):
        sid, st, epoch, rest = data.split(b"\n", 3)
        assert sid == entry_id
        assert st == fields[b"s"]
        assert rest == fields[b"f"]
        assert epoch
    assert b'"previous_status":"submitted"' in messages[1]


async def test_store_indexes_follow_status_and_staff(state: Any, workspace: Any) -> None:
    """The write script keeps status, customer, staff, item and token indexes."""
    keys = state.orders.keys
    r = await state.orders.create(workspace.id, create(), DEFAULT_WORKFLOW)
    await state.orders.change_status(
        workspace.id, status(r.id, "preparing", actor=CHEF), DEFAULT_WORKFLOW
    )
    ws = workspace.id

    async def members(name: str, *parts: str) -> list[bytes]:
        return list(await state.redis.zrange(keys.index(ws, name, *parts), 0, -1))

    assert await members("status", "submitted") == []
    assert await members("status", "preparing") == [b"1"]
    assert await members("customer_id", "101") == [b"1"]
    assert await members("customer", "alice") == [b"1"]
    assert await members("staff_id", "8") == [b"1"]
    assert await members("role_id", "preparer", "8") == [b"1"]
    assert await members("role", "cashier", "bob") == [b"1"]
    assert await members("item", "cookie") == [b"1"]
    assert await members("token", "ally") == [b"1"]
    assert await members("token", "carl") == [b"1"]


async def test_store_workflow_read_once_for_concurrent_callers(
    state: Any, workspace: Any, redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the cached workflow has expired, concurrent writes wait on one Redis read; a read
    begun before this process changed the workflow answers no caller after the change, nor
    fills the cache."""
    stored = state.workspaces
    stored.workflow_cache_seconds = 0.0  # every call finds its cache expired

    async def reads() -> int:
        stats = await redis.info("commandstats")
        return int(stats.get("cmdstat_mget", {}).get("calls", 0))

    before = await reads()
    flows = await asyncio.gather(*(stored.workflow(workspace.id) for _ in range(50)))
    assert await reads() - before == 1
    assert all(f == flows[0] for f in flows)
    real_mget = stored.redis.mget
    delays = [0.3, 0.05]

    async def late_mget(*keys: str) -> Any:  # the first reply read before the change, handed
        value = await real_mget(*keys)  # over after the next read's
        await asyncio.sleep(delays.pop(0) if delays else 0)
        return value

    monkeypatch.setattr(stored.redis, "mget", late_mget)
    stored.workflow_cache_seconds = 60.0
    stale_read = asyncio.ensure_future(stored.workflow(workspace.id))
    await asyncio.sleep(0.05)  # its MGET has been answered: the old workflow
    keys = stored.keys
    await redis.incr(keys.workflow_version(workspace.id))  # a change, as admin makes one
    stored.forget_workflow(workspace.id)
    changed = await stored.workflow(workspace.id)
    assert changed.version == flows[0].version + 1  # not the read begun before
    assert (await stale_read).version == flows[0].version
    assert (await stored.workflow(workspace.id)).version == changed.version  # nor the cache


def test_store_order_ids_unique_and_a_forked_child_draws_its_own() -> None:
    """Ids are 24 hex digits, none repeated across many draws; a forked child does not repeat
    the ids its parent goes on to draw."""
    from orderlog.store.orders import new_order_id

    ids = {new_order_id() for _ in range(5_000)}
    assert len(ids) == 5_000
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        os.write(write, new_order_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert child[8:] != new_order_id()[8:]
