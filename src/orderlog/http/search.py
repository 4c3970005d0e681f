"""Order history: search (JSON pages), the CSV export and the stats report (read scope)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from orderlog.domain import export, search, stats
from orderlog.domain.model import Workflow
from orderlog.http.common import JSONResponse, authorize, state
from orderlog.http.openapi import WS_PARAM, add_paths, errors, ok, query_param, ref

PAGE = 200  # orders per script call for the CSV export and the stats report


async def _query(request: Request, *, paging: bool) -> tuple[str, search.Query, Workflow]:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "read")
    workflow = await state(request).workspaces.workflow(ws)
    query = search.parse(request.query_params.multi_items(), workflow.names, paging=paging)
    return ws, query, workflow


async def search_orders(request: Request) -> Response:
    ws, query, _ = await _query(request, paging=True)
    st = state(request)
    page = await st.orders.search(
        ws,
        query,
        budget=st.settings.search_scan_budget,
        max_calls=st.settings.search_max_calls,
    )
    cursor = b"null" if page.next_before is None else orjson.dumps(query.cursor(page.next_before))
    # The orders are JSON bytes from Lua: joined, never decoded and re-encoded.
    body = b'{"orders":[' + b",".join(page.orders) + b'],"next_cursor":' + cursor + b"}"
    return Response(body, media_type="application/json")


async def _pages(request: Request, ws: str, query: search.Query) -> AsyncIterator[list[Any]]:
    """Every matching order with its history, newest first, one bounded page at a time."""
    st = state(request)
    query = replace(query, limit=PAGE)
    while True:
        page = await st.orders.search(
            ws,
            query,
            history=True,
            budget=st.settings.search_scan_budget,
            max_calls=st.settings.search_max_calls,
        )
        yield [export.with_history(order, hist) for order, hist in page.orders]
        if page.next_before is None:
            return
        query = replace(query, before=page.next_before)


async def export_csv(request: Request) -> Response:
    ws, query, workflow = await _query(request, paging=False)

    async def rows() -> AsyncIterator[bytes]:
        yield export.header(workflow)
        async for orders in _pages(request, ws, query):
            yield export.rows(orders, workflow)

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="orders-{ws}.csv"'},
    )


async def report(request: Request) -> Response:
    # The search filters narrow the report too: `staff=x&role=preparer` is x's own figures.
    ws, query, workflow = await _query(request, paging=False)
    start, end = stats.window(query.from_ms, query.to_ms)
    settings = state(request).settings
    # Without `to`, no upper bound: an order created in this very millisecond still counts.
    query = replace(query, from_ms=start)
    orders: list[dict[str, Any]] = []
    truncated = False
    async for page in _pages(request, ws, query):
        orders += page
        if len(orders) > settings.stats_max_orders:
            truncated = True
            orders = orders[: settings.stats_max_orders]
            break
    rules = stats.Rules.from_settings(settings)
    # Tens of thousands of orders take a while in Python: off the event loop, so live
    # connections and other requests of this process keep being served meanwhile.
    out = await asyncio.to_thread(stats.report, orders, rules, workflow)
    out["range"] = {
        "from": stats.iso(start),
        "to": stats.iso(end),
        "truncated": truncated,
        "max_orders": settings.stats_max_orders,
    }
    return JSONResponse(out)


W = "/v1/workspaces/{workspace_id}"
routes = [
    # GET /orders shares its path with POST /orders (routes/orders.py): Starlette keeps looking
    # past a path match with the wrong method, so the order of the lists does not matter.
    Route(f"{W}/orders", search_orders, methods=["GET"], name="search_orders"),
    Route(f"{W}/orders.csv", export_csv, methods=["GET"], name="export_orders_csv"),
    Route(f"{W}/stats", report, methods=["GET"], name="stats"),
]


TIME = {"type": "string", "format": "date-time"}
FILTER_PARAMS = [
    query_param("status", "one or several statuses, comma-separated (any of them)"),
    query_param("customer_id", "the customer's user id"),
    query_param("customer", "the customer's username at order time (case-insensitive)"),
    query_param("staff_id", "a staff member's user id, any role (see role)"),
    query_param("staff", "a staff member's username, any role (case-insensitive)"),
    query_param(
        "role", "restrict staff/staff_id to a role", {"enum": ["cashier", "preparer", "handed_to"]}
    ),
    query_param("number", "the order number", {"type": "integer", "minimum": 1}),
    query_param("item", "an item name (case-insensitive)"),
    query_param("from", "created at or after (ISO 8601)", TIME),
    query_param("to", "created before (ISO 8601)", TIME),
    query_param("q", "free text: every word must appear in a username, display name or item"),
]
ERRORS = errors("401", "403", "422", "429", "503")

add_paths(
    {
        f"{W}/orders": {
            "get": {
                "summary": "Search orders, newest first (read scope)",
                "parameters": [
                    WS_PARAM,
                    *FILTER_PARAMS,
                    query_param(
                        "limit",
                        "orders per page",
                        {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    ),
                    query_param("cursor", "next_cursor of the previous page"),
                ],
                "responses": {
                    "200": ok(ref("SearchPage"), "A page of orders"),
                    **ERRORS,
                },
            }
        },
        f"{W}/orders.csv": {
            "get": {
                "summary": "Every order matching the filters, as CSV (read scope)",
                "parameters": [WS_PARAM, *FILTER_PARAMS],
                "responses": {
                    "200": {"description": "CSV, one row per order", "content": {"text/csv": {}}},
                    **ERRORS,
                },
            }
        },
        f"{W}/stats": {
            "get": {
                "summary": "Counts, speed of service, staff leaderboard, abuse flags of the orders "
                "matching the filters (read scope)",
                "parameters": [
                    WS_PARAM,
                    *(p for p in FILTER_PARAMS if p["name"] not in ("from", "to")),
                    query_param(
                        "from", "created at or after (ISO 8601; default: to - 7 days)", TIME
                    ),
                    query_param("to", "created before (ISO 8601; default: now)", TIME),
                ],
                "responses": {
                    "200": ok({"type": "object"}, "The report"),
                    **ERRORS,
                },
            }
        },
    },
    {
        "SearchPage": {
            "type": "object",
            "required": ["orders", "next_cursor"],
            "properties": {
                "orders": {"type": "array", "items": ref("Order")},
                "next_cursor": {"type": ["string", "null"]},
            },
        }
    },
)
