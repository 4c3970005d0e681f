"""GET /metrics: Prometheus text, who may read it, and what the requests and writes record."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from orderlog.app import build_state, create_app
from orderlog.ops.metrics import Metrics
from support.api import CUSTOMER, new_order
from support.metrics import samples
from support.server import WithState


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict[Any, float]:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return samples(resp.text)


async def test_metrics_count_requests_ingest_and_events(client: Any, workspace: Any) -> None:
    """Requests are counted by route template and status, writes feed the ingest histogram, and
    each event written counts once (an idempotent replay adds none)."""
    first = await new_order(client, workspace)
    await client.post(
        f"{workspace.base}/orders/{first['id']}/status",
        headers=workspace.auth(),
        json={"status": "preparing"},
    )
    headers = workspace.auth() | {"Idempotency-Key": "k1"}
    for _ in range(2):
        await client.post(f"{workspace.base}/orders", headers=headers, json={"customer": CUSTOMER})
    await client.get(f"{workspace.base}/orders/{'0' * 24}", headers=workspace.auth("read"))
    await client.get("/no/such/path/123")
    got = await scrape(client)
    req = "orderlog_http_requests_total"
    assert got[(req, (("method", "POST"), ("route", "create_order"), ("status", "201")))] == 3
    assert got[(req, (("method", "POST"), ("route", "change_status"), ("status", "200")))] == 1
    assert got[(req, (("method", "GET"), ("route", "get_order"), ("status", "404")))] == 1
    # an unknown path: one bounded label (the dashboards' mount catches it when present)
    unknown = [
        (("method", "GET"), ("route", r), ("status", "404")) for r in ("static", "unmatched")
    ]
    assert sum(got.get((req, labels), 0) for labels in unknown) == 1
    assert got[("orderlog_events_published_total", ())] == 3  # 2 creates + 1 change
    hist = "orderlog_ingest_duration_seconds_count"
    assert got[(hist, (("route", "create_order"),))] == 3
    assert got[(hist, (("route", "change_status"),))] == 1
    for name in (
        "orderlog_live_delivery_seconds_count",
        "orderlog_slow_consumer_closes_total",
        "orderlog_redis_reconnects_total",
    ):
        assert (name, ()) in got


async def test_metrics_store_down_counts_redis_errors(settings: Any, workspace: Any) -> None:
    """A write that meets an unreachable Redis is a 503 and counts as a Redis error."""
    from orderlog.store.client import make_redis
    from orderlog.store.embedded import free_port

    dead = make_redis(f"redis://127.0.0.1:{free_port()}", timeout=0.5)
    st = build_state(settings, dead)
    app = WithState(create_app(settings), st)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        resp = await c.post(
            f"{workspace.base}/orders", headers=workspace.auth(), json={"customer": CUSTOMER}
        )
        assert resp.status_code == 503
        got = await scrape(c)
    assert got[("orderlog_redis_errors_total", (("where", "request"),))] == 1
    await dead.aclose()


@pytest.mark.parametrize("client_host", ["203.0.113.9", "10.0.0.7"])
async def test_metrics_refuse_remote_clients_without_token(
    settings: Any, state: Any, client_host: str
) -> None:
    """Without a metrics token, /metrics answers loopback only (403 JSON to others)."""
    app = WithState(create_app(settings), state)
    transport = httpx.ASGITransport(app=app, client=(client_host, 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        resp = await c.get("/metrics")
    assert resp.status_code == 403
    assert resp.json()["statusCode"] == 403


async def test_metrics_token_required_when_set(settings: Any, redis: Any) -> None:
    """With ORDERLOG_METRICS_TOKEN set, /metrics needs it as a Bearer token, from anywhere."""
    secured = replace(settings, metrics_token="s3cret-token")
    app = WithState(create_app(secured), build_state(secured, redis))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get("/metrics")).status_code == 401
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert "orderlog_http_requests_total" in {
            name for name, _ in await scrape(c, Authorization="Bearer s3cret-token")
        }


def test_metrics_delivery_latency_from_stream_id() -> None:
    """The live delivery latency is now minus the stream id's millisecond time."""
    m = Metrics()
    m.delivered(1700000000000, now=1700000000.250)
    m.delivered(1700000000000, now=1700000001.0)
    got = samples(m.render().decode())
    assert got[("orderlog_live_delivery_seconds_count", ())] == 2
    assert got[("orderlog_live_delivery_seconds_sum", ())] == pytest.approx(1.25)
    assert got[("orderlog_live_delivery_seconds_bucket", (("le", "0.25"),))] == 1
