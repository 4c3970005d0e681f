"""Webhooks as tests drive them: settings that allow loopback receivers and retry quickly, the
admin API calls, and what the workspace's stream holds (the truth deliveries are judged by)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from orderlog.keys import Keys
from orderlog.settings import Settings
from support.receivers import SignedReceiver
from support.server import Workspace, running_server

# Retries in tests: 0.2 s doubling to at most 1 s (the defaults are 5 s to 1 h).
QUICK = {
    "webhook_allow_private": True,
    "webhook_retry_base": 0.2,
    "webhook_retry_max_interval": 1.0,
    "webhook_lease": 2.0,
    "webhook_timeout": 5.0,
}


def quick(settings: Settings, **more: Any) -> Settings:
    return dataclasses.replace(settings, **(QUICK | more))


async def add(client: httpx.AsyncClient, ws: Workspace, url: str, **spec: Any) -> dict[str, Any]:
    resp = await client.post(
        f"{ws.base}/webhooks", headers=ws.auth("admin"), json={"url": url, **spec}
    )
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def get(client: httpx.AsyncClient, ws: Workspace, webhook_id: str) -> dict[str, Any]:
    resp = await client.get(f"{ws.base}/webhooks/{webhook_id}", headers=ws.auth("admin"))
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def deliveries(client: httpx.AsyncClient, ws: Workspace, webhook_id: str) -> dict[str, Any]:
    resp = await client.get(f"{ws.base}/webhooks/{webhook_id}/deliveries", headers=ws.auth("admin"))
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def stream(redis: Any, ws: Workspace) -> list[dict[str, Any]]:
    """Every event of the workspace's stream, as {"id", "event", "status", "order"}."""
    out = []
    for sid, fields in await redis.xrange(Keys().events(ws.id)):
        rest = orjson.loads(b"{" + fields[b"f"])
        out.append(
            {
                "id": sid.decode(),
                "event": rest["event"],
                "status": fields[b"s"].decode(),
                "order": rest["order"],
            }
        )
    return out


def stream_id(event: dict[str, Any]) -> str:
    """The stream id inside a delivered event's cursor."""
    return str(event["cursor"]).split(":", 1)[1]


def delivering(
    settings: Settings, ws: Workspace, *receivers: SignedReceiver, **spec: Any
) -> contextlib.AbstractAsyncContextManager[tuple[httpx.AsyncClient, list[dict[str, Any]]]]:
    """orderlog (``settings``) and each receiver served, a webhook (``spec``) to each receiver,
    its secret given to it: (an API client of the server, the webhooks as created)."""
    return delivering_each(settings, ws, *((r, spec) for r in receivers))


@contextlib.asynccontextmanager
async def delivering_each(
    settings: Settings, ws: Workspace, *webhooks: tuple[SignedReceiver, dict[str, Any]]
) -> AsyncIterator[tuple[httpx.AsyncClient, list[dict[str, Any]]]]:
    """As ``delivering``, a webhook of its own ``spec`` to each (receiver, spec)."""
    async with contextlib.AsyncExitStack() as stack:
        urls = [await stack.enter_async_context(running_server(r.app)) for r, _ in webhooks]
        base = await stack.enter_async_context(running_server(settings))
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=10))
        made = []
        for (receiver, spec), url in zip(webhooks, urls, strict=True):
            made.append(await add(client, ws, url, **spec))
            receiver.secrets.append(made[-1]["secret"])
        yield client, made
