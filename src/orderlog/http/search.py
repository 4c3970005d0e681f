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
from orderlog.http.common import WORKSPACE, JSONResponse, authorize
from orderlog.http.state import state

STATS_MAX_ORDERS = 50_000  # orders one stats request reads at most (newest first)


async def _query(
    request: Request, *, paging: bool, own: tuple[str, ...] = ()
) -> tuple[str, search.Query, Workflow]:
    """The filters of the query string; ``own``: parameters the route reads itself."""
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "read")
    workflow = await state(request).workspaces.workflow(ws)
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in own]
    query = search.parse(pairs, workflow.names, paging=paging)
    return ws, query, workflow


async def search_orders(request: Request) -> Response:
    ws, query, _ = await _query(request, paging=True)
    st = state(request)
    page = await st.orders.search(ws, query)
    cursor = None if page.next_before is None else query.cursor(page.next_before)
    # The orders are JSON bytes from Lua: passed through, never decoded and re-encoded.
    return JSONResponse(
        {"orders": [orjson.Fragment(o) for o in page.orders], "next_cursor": cursor}
    )


async def export_csv(request: Request) -> Response:
    ws, query, workflow = await _query(request, paging=False, own=("bom",))
    bom = "bom" in request.query_params and export.wants_bom(request.query_params.getlist("bom"))

    async def rows() -> AsyncIterator[bytes]:
        yield (export.BOM if bom else b"") + export.header(workflow)
        async for orders in state(request).orders.walk(ws, query):
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
    workspace = await state(request).workspaces.workspace(ws)
    # Without `to`, no upper bound: an order created in this very millisecond still counts.
    query = replace(query, from_ms=start)
    orders: list[dict[str, Any]] = []
    truncated = False
    async for page in state(request).orders.walk(ws, query):
        orders += page
        if len(orders) > STATS_MAX_ORDERS:
            truncated = True
            orders = orders[:STATS_MAX_ORDERS]
            break
    rules = stats.Rules.of(workspace["settings"])
    # Tens of thousands of orders take a while in Python: off the event loop, so live
    # connections and other requests of this process keep being served meanwhile.
    out = await asyncio.to_thread(stats.report, orders, rules, workflow)
    out["range"] = {
        "from": stats.iso(start),
        "to": stats.iso(end),
        "truncated": truncated,
        "max_orders": STATS_MAX_ORDERS,
    }
    return JSONResponse(out)


routes = [
    # GET /orders shares its path with POST /orders (routes/orders.py): Starlette keeps looking
    # past a path match with the wrong method, so the order of the lists does not matter.
    Route(f"{WORKSPACE}/orders", search_orders, methods=["GET"], name="search_orders"),
    Route(f"{WORKSPACE}/orders.csv", export_csv, methods=["GET"], name="export_orders_csv"),
    Route(f"{WORKSPACE}/stats", report, methods=["GET"], name="stats"),
]
