"""GET /orders search and GET /orders.csv on a real Redis: filters, paging, errors, CSV."""

from __future__ import annotations

import csv
import io
import json
import random
from typing import Any

import orjson
import pytest

from orderlog.domain import export, inputs, model, search
from orderlog.domain.model import DEFAULT_WORKFLOW
from support.searchdata import ALICE, BOB, DANA, ERIN, load


async def numbers(client: Any, ws: Any, params: dict[str, Any] | str) -> list[int]:
    resp = await client.get(f"{ws.base}/orders", params=params, headers=ws.auth("read"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return [o["order_number"] for o in body["orders"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [5, 4, 3, 2, 1]),
        ({"status": "completed"}, [1]),
        ({"status": "cancelled,submitted"}, [4, 2]),
        ("status=cancelled&status=submitted", [4, 2]),
        ({"customer_id": "101"}, [5, 3, 1]),
        ({"customer": "alice"}, [5, 3, 1]),
        ({"staff_id": "8"}, [1]),
        ({"staff": "dana"}, [3, 2]),
        ({"staff": "dana", "role": "preparer"}, [3]),
        ({"staff": "dana", "role": "cashier"}, [3, 2]),
        ({"staff": "dana", "role": "handed_to"}, [3]),
        ({"staff_id": "7", "role": "handed_to"}, [3]),
        ({"staff_id": "7"}, [4, 3, 1]),
        ({"staff_id": "sys:1"}, [5]),
        ({"staff_id": "sys:1", "role": "cashier"}, [5]),
        ({"item": "latte"}, [5, 2, 1]),
        ({"item": "Iced Tea"}, [3]),
        ({"number": "3"}, [3]),
        ({"number": "99"}, []),
        ({"q": "ally"}, [5, 3, 1]),
        ({"q": "muffin erin"}, [4, 2]),
        ({"q": "chef"}, [1]),
        ({"q": "tea iced"}, [3]),
        ({"q": "latte nobody"}, []),
    ],
)
@pytest.mark.cluster_too
async def test_search_each_filter_finds_its_orders(
    client: Any, state: Any, workspace: Any, params: Any, expected: list[int]
) -> None:
    """Every filter alone answers exactly the hand-checked orders, newest first."""
    await load(state.orders, workspace.id)
    assert await numbers(client, workspace, params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"customer": "alice", "item": "latte", "status": "completed"}, [1]),
        ({"staff": "bob", "role": "cashier", "item": "muffin"}, [4]),
        ({"customer_id": "101", "status": "completed,waiting_for_preparation"}, [5, 1]),
        ({"staff_id": "9", "q": "ally tea"}, [3]),
        ({"customer": "erin", "staff": "dana", "status": "cancelled", "item": "muffin"}, [2]),
        ({"customer": "erin", "number": "2"}, [2]),
        ({"customer": "erin", "number": "3"}, []),
        ({"customer": "alice", "staff": "dana", "role": "preparer", "status": "cancelled"}, []),
    ],
)
@pytest.mark.cluster_too
async def test_search_combined_filters_intersect(
    client: Any, state: Any, workspace: Any, params: dict[str, str], expected: list[int]
) -> None:
    """Filters combine: an order must match all of them (values of one filter: any)."""
    await load(state.orders, workspace.id)
    assert await numbers(client, workspace, params) == expected


async def test_search_is_case_insensitive(client: Any, state: Any, workspace: Any) -> None:
    """Usernames, items and free text match whatever their case."""
    await load(state.orders, workspace.id)
    for params in (
        {"customer": "ALICE"},
        {"customer": "aLiCe", "item": "LATTE"},
        {"staff": "CHEF_carl"},
        {"q": "ALLY"},
    ):
        got = await numbers(client, workspace, params)
        assert got, params
        assert got == await numbers(client, workspace, {k: v.lower() for k, v in params.items()})


async def test_search_pages_stay_stable_while_orders_arrive(
    client: Any, state: Any, workspace: Any
) -> None:
    """Paging with the cursor while new orders arrive: no duplicate, no older order skipped."""
    make = lambda: inputs.create_order({"customer": ALICE, "actor": BOB, "items": ["Latte"]})  # noqa: E731
    for _ in range(3):
        await state.orders.apply(workspace.id, [make() for _ in range(40)], DEFAULT_WORKFLOW)
    seen: list[int] = []
    params: dict[str, Any] = {"customer": "alice", "limit": 25}
    while True:
        resp = await client.get(
            f"{workspace.base}/orders", params=params, headers=workspace.auth("read")
        )
        body = resp.json()
        seen += [o["order_number"] for o in body["orders"]]
        # New orders land between pages; they belong to the top, not to later pages.
        await state.orders.apply(workspace.id, [make() for _ in range(7)], DEFAULT_WORKFLOW)
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == list(range(120, 0, -1))


@pytest.mark.cluster_too
async def test_search_limit_and_cursor_walk_every_order(
    client: Any, state: Any, workspace: Any
) -> None:
    """limit=2 walks the five orders in three pages; the last cursor is null."""
    await load(state.orders, workspace.id)
    pages = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        resp = await client.get(
            f"{workspace.base}/orders", params=params, headers=workspace.auth("read")
        )
        body = resp.json()
        pages.append([o["order_number"] for o in body["orders"]])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert pages == [[5, 4], [3, 2], [1]]


async def test_search_time_range_is_from_inclusive_to_exclusive(
    client: Any, state: Any, redis: Any, workspace: Any
) -> None:
    """from/to select by created time; orders created in the same millisecond are all found."""
    await load(state.orders, workspace.id)
    created = state.orders.keys.index(workspace.id, "created")
    t = 1_800_000_000_000  # 2027-01-15T08:00:00Z
    # 2, 3 and 4 share a millisecond (their scores tie and sort as strings), 5 is a minute on.
    await redis.zadd(created, {"1": t - 60_000, "2": t, "3": t, "4": t, "5": t + 60_000})
    at = "2027-01-15T08:00:00Z"
    assert await numbers(client, workspace, {"from": at}) == [5, 4, 3, 2]
    assert await numbers(client, workspace, {"to": at}) == [1]
    assert await numbers(client, workspace, {"from": at, "to": "2027-01-15T08:00:00.001Z"}) == [
        4,
        3,
        2,
    ]
    assert await numbers(client, workspace, {"from": "2027-01-15T08:01:00+00:00"}) == [5]
    assert await numbers(client, workspace, {"from": "2027-01-15", "customer": "alice"}) == [
        5,
        3,
        1,
    ]
    assert await numbers(client, workspace, {"from": "2030-01-01"}) == []
    assert await numbers(client, workspace, {"to": "2020-01-01"}) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("colour=red", "colour"),
        ("status=baking", "status"),
        ("status=", "status"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("limit=5&limit=6", "limit"),
        ("number=-3", "number"),
        ("customer_id=a%20b", "customer_id"),
        ("staff_id=0", "staff_id"),
        ("role=chef&staff=bob", "role"),
        ("role=cashier", "role"),
        ("staff=bob&staff_id=7", "staff"),
        ("from=yesterday", "from"),
        ("from=2026-01-02&to=2026-01-01", "to"),
        ("q=%21%21%21", "q"),
        ("q=a+b+c+d+e+f+g+h+i", "q"),
        ("customer=" + "x" * 51, "customer"),
        ("item=%01", "item"),
        ("cursor=garbage", "cursor"),
        ("cursor=eyJiIjotMSwiZiI6IiJ9", "cursor"),
    ],
)
async def test_search_bad_parameter_is_422_naming_it(
    client: Any, workspace: Any, query: str, field: str
) -> None:
    """Unknown parameters and bad values answer 422 with the parameter in `field`."""
    resp = await client.get(f"{workspace.base}/orders?{query}", headers=workspace.auth("read"))
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["field"] == field
    assert body["statusCode"] == 422
    assert field in body["message"]


async def test_search_cursor_of_another_query_is_rejected(
    client: Any, state: Any, workspace: Any
) -> None:
    """A cursor only continues the search that made it."""
    await load(state.orders, workspace.id)
    resp = await client.get(
        f"{workspace.base}/orders", params={"limit": 1}, headers=workspace.auth("read")
    )
    cursor = resp.json()["next_cursor"]
    assert cursor
    resp = await client.get(
        f"{workspace.base}/orders",
        params={"customer": "erin", "cursor": cursor},
        headers=workspace.auth("read"),
    )
    assert resp.status_code == 422
    assert resp.json()["field"] == "cursor"


async def test_search_needs_a_read_key(client: Any, workspace: Any) -> None:
    """Searching is for read (and admin) keys: a write key gets 403, no key 401."""
    url = f"{workspace.base}/orders"
    assert (await client.get(url, headers=workspace.auth("write"))).status_code == 403
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=workspace.auth("admin"))).status_code == 200


@pytest.mark.cluster_too
async def test_search_scan_budget_gives_short_pages_that_resume(state: Any, workspace: Any) -> None:
    """A sparse intersection with a small budget answers short pages with a cursor; following
    the cursors finds every match exactly once."""

    def make(i: int) -> model.CreateOrder:
        cashier = BOB if i % 5 == 0 else DANA
        item = "Latte" if i % 2 == 0 else "Muffin"
        return inputs.create_order({"customer": ALICE, "actor": cashier, "items": [item]})

    await state.orders.apply(workspace.id, [make(i) for i in range(100)], DEFAULT_WORKFLOW)
    # Both filters are large (20 and 50 orders); they share every tenth order.
    params = [("item", "latte"), ("staff", "bob"), ("role", "cashier"), ("limit", "5")]
    query = search.parse(params, ["submitted"])
    page = await state.orders.search(workspace.id, query, budget=7, max_calls=1)
    assert page.examined <= 7
    assert len(page.orders) < 5
    assert page.next_before is not None
    found: list[int] = []
    while True:
        found += [int(o.split(b'"order_number":')[1].split(b",")[0]) for o in page.orders]
        if page.next_before is None:
            break
        query = search.Query(query.groups, limit=5, before=page.next_before)
        page = await state.orders.search(workspace.id, query, budget=7, max_calls=1)
    assert found == list(range(91, 0, -10))


async def test_search_status_union_drives_past_an_emptied_index(
    client: Any, state: Any, workspace: Any
) -> None:
    """A union of statuses as the driving filter keeps walking when one status has no more
    orders below the current position while another still has."""

    def make(n: int) -> model.CreateOrder:
        status = "submitted" if n <= 400 else "completed" if n <= 1000 else "cancelled"
        customer = ALICE if n <= 5 or n > 400 else ERIN
        return inputs.create_order({"customer": customer, "status": status, "items": ["Tea"]})

    for first in range(1, 1011, 100):
        batch = [make(n) for n in range(first, min(first + 100, 1011))]
        await state.orders.apply(workspace.id, batch, DEFAULT_WORKFLOW)
    # status=submitted,cancelled (410 orders) is smaller than customer=alice (615): it drives.
    got = await numbers(client, workspace, {"status": "submitted,cancelled", "customer": "alice"})
    assert got == [*range(1010, 1000, -1), 5, 4, 3, 2, 1]


async def test_search_orders_are_the_same_json_as_reads(
    client: Any, state: Any, workspace: Any
) -> None:
    """A search result is the order as GET /orders/{id} gives it, without the history."""
    ids = await load(state.orders, workspace.id)
    resp = await client.get(
        f"{workspace.base}/orders", params={"number": 3}, headers=workspace.auth("read")
    )
    (found,) = resp.json()["orders"]
    one = (
        await client.get(f"{workspace.base}/orders/{ids[2]}", headers=workspace.auth("read"))
    ).json()
    one.pop("history")
    assert found == one


@pytest.mark.cluster_too
async def test_csv_rows_have_people_items_and_stage_times(
    client: Any, state: Any, redis: Any, workspace: Any
) -> None:
    """The CSV has one row per matching order: participants, items, seconds in each stage."""
    ids = await load(state.orders, workspace.id)
    resp = await client.get(
        f"{workspace.base}/orders.csv", params={"customer": "alice"}, headers=workspace.auth("read")
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["number"] for r in table] == ["5", "3", "1"]
    first = table[2]
    assert first["id"] == ids[0]
    assert first["status"] == "completed"
    assert (first["customer_id"], first["customer"]) == ("101", "Alice")
    assert (first["cashier_id"], first["cashier"]) == ("7", "Bob")
    assert (first["preparer_id"], first["preparer"]) == ("8", "Chef_Carl")
    assert first["handed_to"] == ""
    assert json.loads(first["items"]) == [{"name": "Latte", "quantity": 1}]
    assert float(first["seconds_submitted"]) >= 0
    assert float(first["seconds_preparing"]) >= 0
    assert first["seconds_waiting_for_preparation"] == ""  # never in that status
    third = table[1]
    assert json.loads(third["items"]) == [{"name": "Iced Tea", "quantity": 2}]
    assert (third["handed_to_id"], third["handed_to"]) == ("7", "Bob")
    assert third["seconds_handed_to"] == ""  # still open
    assert table[0]["cashier_id"] == "sys:1"


async def test_csv_neutralises_formulas(client: Any, state: Any, workspace: Any) -> None:
    """Cells starting with = + - @ are prefixed with a quote so spreadsheets show text."""
    evil = {"user_id": 5, "username": "=HYPERLINK(1)", "display_name": "@evil"}
    command = inputs.create_order({"customer": evil, "items": ["+cmd", "-2"]})
    await state.orders.create(workspace.id, command, DEFAULT_WORKFLOW)
    resp = await client.get(f"{workspace.base}/orders.csv", headers=workspace.auth("read"))
    (row,) = list(csv.DictReader(io.StringIO(resp.text)))
    assert row["customer"] == "'=HYPERLINK(1)"
    assert json.loads(row["items"]) == [
        {"name": "+cmd", "quantity": 1},
        {"name": "-2", "quantity": 1},
    ]


async def test_csv_streams_many_pages_and_checks_params(
    client: Any, state: Any, workspace: Any
) -> None:
    """More orders than one page all come out; a bad filter is a 422 before any CSV."""
    make = lambda: inputs.create_order({"customer": ALICE, "items": ["Latte"]})  # noqa: E731
    for _ in range(5):
        await state.orders.apply(workspace.id, [make() for _ in range(100)], DEFAULT_WORKFLOW)
    resp = await client.get(f"{workspace.base}/orders.csv", headers=workspace.auth("read"))
    table = list(csv.DictReader(io.StringIO(resp.text)))
    assert [int(r["number"]) for r in table] == list(range(500, 0, -1))
    bad = await client.get(
        f"{workspace.base}/orders.csv", params={"limit": 5}, headers=workspace.auth("read")
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "limit"


async def test_csv_items_are_unambiguous_json(client: Any, state: Any, workspace: Any) -> None:
    """Item names with ';', commas, quotes, a leading '2x', emoji or CJK read back exactly from
    the items cell (a JSON array of the API's item objects)."""
    items = [
        "Tea; Cake",
        {"name": "2x Latte", "quantity": 1},
        {"name": 'Say "cheese", please', "quantity": 3, "notes": "no ice; warm"},
        "🍰 抹茶",
    ]
    command = inputs.create_order({"customer": ALICE, "items": items})
    await state.orders.create(workspace.id, command, DEFAULT_WORKFLOW)
    resp = await client.get(f"{workspace.base}/orders.csv", headers=workspace.auth("read"))
    (row,) = list(csv.DictReader(io.StringIO(resp.text)))
    assert json.loads(row["items"]) == [
        {"name": "Tea; Cake", "quantity": 1},
        {"name": "2x Latte", "quantity": 1},
        {"name": 'Say "cheese", please', "quantity": 3, "notes": "no ice; warm"},
        {"name": "🍰 抹茶", "quantity": 1},
    ]


async def test_csv_bom_for_excel(client: Any, state: Any, workspace: Any) -> None:
    """?bom=1 starts the file with a UTF-8 byte order mark (Excel then reads emoji and CJK
    right); without it, or with bom=0, there is none; another value is a 422."""
    command = inputs.create_order({"customer": ALICE, "items": ["🍰 抹茶"]})
    await state.orders.create(workspace.id, command, DEFAULT_WORKFLOW)
    url = f"{workspace.base}/orders.csv"
    auth = workspace.auth("read")
    with_bom = await client.get(url, params={"bom": "1", "customer": "alice"}, headers=auth)
    assert with_bom.status_code == 200, with_bom.text
    assert with_bom.content.startswith(b"\xef\xbb\xbfnumber,")
    (row,) = list(csv.DictReader(io.StringIO(with_bom.content.decode("utf-8-sig"))))
    assert json.loads(row["items"])[0]["name"] == "🍰 抹茶"
    for params in ({}, {"bom": "0"}, {"bom": "false"}):
        plain = await client.get(url, params=params, headers=auth)
        assert plain.content.startswith(b"number,")
    for bad in ({"bom": "yes"}, {"bom": ["1", "1"]}):
        resp = await client.get(url, params=bad, headers=auth)
        assert resp.status_code == 422
        assert resp.json()["field"] == "bom"
    searched = await client.get(f"{workspace.base}/orders", params={"bom": "1"}, headers=auth)
    assert searched.json()["field"] == "bom"  # a CSV option only


def test_csv_row_seconds_per_stage_from_history() -> None:
    """Seconds per stage come from consecutive history entries; repeated stages add up."""

    def entry(status: str, at: str) -> dict[str, Any]:
        return {"status": status, "at": f"2026-11-20T10:{at}Z", "actor": None}

    order = {
        "order_number": 9,
        "id": "a" * 24,
        "status": "completed",
        "created_at": "2026-11-20T10:00:00.000Z",
        "updated_at": "2026-11-20T10:05:00.000Z",
        "customer": {"user_id": 1, "username": "Ann"},
        "cashier": None,
        "items": [{"name": "Latte", "quantity": 1}, {"name": "Cookie", "quantity": 3}],
        "history": [
            entry("submitted", "00:00.000"),
            entry("preparing", "00:20.000"),
            entry("finding_new_colleague", "01:00.000"),
            entry("preparing", "01:30.500"),
            entry("waiting_for_pickup", "02:00.500"),
            entry("completed", "05:00.000"),
        ],
    }
    header = next(csv.reader(io.StringIO(export.header(DEFAULT_WORKFLOW).decode())))
    row = dict(zip(header, export.row(order, DEFAULT_WORKFLOW), strict=True))
    assert row["seconds_submitted"] == 20
    assert row["seconds_preparing"] == 70  # 40 + 30
    assert row["seconds_finding_new_colleague"] == 30.5
    assert row["seconds_waiting_for_pickup"] == 179.5
    assert row["seconds_waiting_for_preparation"] is None
    assert json.loads(row["items"]) == [
        {"name": "Latte", "quantity": 1},
        {"name": "Cookie", "quantity": 3},
    ]
    assert (row["customer_id"], row["cashier_id"], row["cashier"]) == ("1", None, None)


async def test_search_agrees_with_brute_force(state: Any, workspace: Any) -> None:
    """Random data, random filter combinations, small pages and tiny budgets: following the
    cursors yields exactly what filtering every order in Python yields, newest first."""
    rng = random.Random(4)
    people = [{"user_id": 500 + i, "username": f"User{i}"} for i in range(5)]
    items = ["Latte", "Tea", "Muffin", "Cookie", "Bagel", "Soup"]
    statuses = ["submitted", "preparing", "completed", "cancelled"]
    orders = []
    for _ in range(6):
        batch = []
        for _ in range(100):
            order = {
                "customer": rng.choice(people),
                "actor": rng.choice(people[:3]),
                "items": rng.sample(items, rng.randint(1, 2)),
                "status": rng.choice(statuses),
            }
            orders.append(order)
            batch.append(inputs.create_order(order))
        await state.orders.apply(workspace.id, batch, DEFAULT_WORKFLOW)

    def pick() -> tuple[list[tuple[str, str]], Any]:
        params: list[tuple[str, str]] = []
        tests = []
        if rng.random() < 0.5:
            wanted = set(rng.sample(statuses, rng.randint(1, 2)))
            params.append(("status", ",".join(wanted)))
            tests.append(lambda o, w=wanted: o["status"] in w)
        if rng.random() < 0.5:
            who = rng.choice(people)
            params.append(("customer", who["username"]))
            tests.append(lambda o, w=who: o["customer"] is w)
        if rng.random() < 0.5:
            who = rng.choice(people[:3])
            params += [("staff_id", str(who["user_id"])), ("role", "cashier")]
            tests.append(lambda o, w=who: o["actor"] is w)
        if rng.random() < 0.5:
            item = rng.choice(items)
            params.append(("item", item))
            tests.append(lambda o, i=item: i in o["items"])
        return params, lambda o: all(t(o) for t in tests)

    for _ in range(80):
        params, keep = pick()
        expected = [n for n in range(len(orders), 0, -1) if keep(orders[n - 1])]
        limit = rng.randint(1, 20)
        query = search.parse([*params, ("limit", str(limit))], statuses)
        found: list[int] = []
        for _ in range(1000):
            page = await state.orders.search(
                workspace.id,
                query,
                budget=rng.choice([rng.randint(1, 40), 3000]),
                max_calls=rng.randint(1, 3),
            )
            assert len(page.orders) <= limit
            found += [orjson.loads(o)["order_number"] for o in page.orders]
            if page.next_before is None:
                break
            query = search.Query(query.groups, limit=limit, before=page.next_before)
        assert found == expected, params


@pytest.mark.cluster_too
async def test_search_names_items_and_words_match_by_prefix(
    client: Any, state: Any, workspace: Any
) -> None:
    """ "bloxy" finds BloxyCola (an item, and a word of q), "Matcha" finds Matcha Latte, a
    username prefix finds its customer and its staff member (in a role too), and a word of an
    item's notes is searchable."""
    orders = [
        {"customer": {"UserId": 1, "Name": "BloxyFan22"}, "items": ["BloxyCola"]},
        {"customer": {"UserId": 2, "Name": "Noob"}, "items": ["Matcha Latte"]},
        {
            "customer": {"UserId": 3, "Name": "Kitty"},
            "actor": {"UserId": 9, "Name": "CashierCarla"},
            "items": [{"name": "Latte", "notes": "oat milk, extra hot"}],
        },
    ]
    for body in orders:
        command = inputs.create_order(body)
        await state.orders.apply(workspace.id, [command], DEFAULT_WORKFLOW)
    cases = [
        ({"item": "bloxy"}, [1]),
        ({"item": "Matcha"}, [2]),
        ({"item": "matcha latte"}, [2]),
        ({"item": "latte"}, [3]),  # a prefix of the whole name: "matcha latte" does not start so
        ({"q": "bloxy"}, [1]),
        ({"q": "lat"}, [3, 2]),
        ({"q": "oat"}, [3]),
        ({"q": "extra ho"}, [3]),
        ({"customer": "blox"}, [1]),
        ({"staff": "cashierc"}, [3]),
        ({"staff": "cashierc", "role": "cashier"}, [3]),
        ({"staff": "cashierc", "role": "preparer"}, []),
        ({"q": "zzz"}, []),
    ]
    for params, expected in cases:
        assert await numbers(client, workspace, params) == expected, params


async def test_search_prefix_standing_for_too_many_values_is_422(
    client: Any, state: Any, workspace: Any
) -> None:
    """A prefix that starts more than MAX_PREFIX_VALUES indexed words asks for more letters
    (422 naming the parameter) instead of walking hundreds of indexes."""
    items = [f"Bagel{i:03}" for i in range(search.MAX_PREFIX_VALUES + 1)]
    for start in range(0, len(items), 50):
        command = inputs.create_order({"customer": ALICE, "items": items[start : start + 50]})
        await state.orders.apply(workspace.id, [command], DEFAULT_WORKFLOW)
    resp = await client.get(f"{workspace.base}/orders?q=bag", headers=workspace.auth("read"))
    assert resp.status_code == 422
    assert resp.json()["field"] == "q"
    assert "type more" in resp.json()["message"]
    assert await numbers(client, workspace, {"q": "bagel050"}) == [2]
