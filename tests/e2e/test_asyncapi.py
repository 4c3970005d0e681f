"""/asyncapi.json: a valid AsyncAPI 3.0 document whose message schemas every frame a running
server sends (WebSocket and Server-Sent Events) satisfies, and whose close codes are the ones
docs/protocol.md lists."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection

from orderlog.domain.webhooks import EVENTS
from orderlog.http.asyncapi import CLOSE_TABLE, document
from support.api import BAKERY, CASHIER, CUSTOMER
from support.live import create, http, move, socket, sse_frames
from support.schemas import asyncapi_document_schema, component, errors
from support.server import Workspace

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def served(doc: dict[str, Any]) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(doc))  # type: ignore[no-any-return]


class Frames:
    """Validates frames against the payload schemas of one channel's messages, chosen by the
    frame's ``type`` as the document states it (each payload's ``type`` const; an order event
    and a workflow.changed event share the type ``event``: a frame must fit one of them)."""

    def __init__(self, doc: dict[str, Any], channel: str) -> None:
        self.validators: dict[str, list[Any]] = {}
        for ref in doc["channels"][channel]["messages"].values():
            name = ref["$ref"].rsplit("/", 1)[1]
            payload = doc["components"]["messages"][name]["payload"]["$ref"]
            schema = doc["components"]["schemas"][payload.rsplit("/", 1)[1]]
            kind = schema["properties"]["type"]["const"]
            validator = component(doc, payload.removeprefix("#"), asyncapi=True)
            self.validators.setdefault(kind, []).append(validator)
        self.seen: list[dict[str, Any]] = []

    def check(self, raw: str | bytes) -> dict[str, Any]:
        frame = orjson.loads(raw)
        assert frame["type"] in self.validators, f"no message for {frame}"
        problems = [errors(v, frame) for v in self.validators[frame["type"]]]
        assert [] in problems, (frame, problems)
        self.seen.append(frame)
        return frame  # type: ignore[no-any-return]

    def kinds(self) -> set[str]:
        return {f["type"] for f in self.seen}

    def events(self) -> set[str]:
        evs = [f for f in self.seen if f["type"] == "event"]
        evs += [e for f in self.seen if f["type"] == "batch" for e in f["events"]]
        return {e["event"] for e in evs}


async def next_frame(conn: ClientConnection, frames: Frames) -> dict[str, Any]:
    async with asyncio.timeout(10):
        return frames.check(await conn.recv())


async def test_asyncapi_document_is_valid_asyncapi_3(client: httpx.AsyncClient) -> None:
    """GET /asyncapi.json is the document, valid against the AsyncAPI 3.0.0 schema, and every
    $ref in it resolves."""
    resp = await client.get("/asyncapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc == served(document())
    assert doc["asyncapi"] == "3.0.0"
    assert errors(asyncapi_document_schema(), doc) == []
    refs = [line for line in orjson.dumps(doc).decode().split('"$ref":"')[1:]]
    for ref in (r.split('"', 1)[0] for r in refs):
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]  # KeyError: a dangling $ref


def test_asyncapi_close_codes_are_the_protocol_docs() -> None:
    """docs/protocol.md's close code table is the document's, row for row."""
    assert CLOSE_TABLE in PROTOCOL.read_text()


async def test_asyncapi_websocket_frames_match_the_schemas(
    server: str, redis: Any, workspace: Workspace
) -> None:
    """Every frame a running server sends over a WebSocket (snapshot, each event kind, batch,
    reset, status, pong) is valid against the document's message payloads."""
    doc = served(document())
    frames = Frames(doc, "live")
    async with http(server) as client:
        (kept,) = await create(client, workspace)
        async with socket(server, workspace) as conn:
            snap = await next_frame(conn, frames)
            assert snap["type"] == "snapshot"
            assert [o["id"] for o in snap["orders"]] == [kept]
            (oid,) = await create(client, workspace)
            await move(client, workspace, oid, "preparing")
            for recipient in (CUSTOMER, CASHIER):
                resp = await client.post(
                    f"{workspace.base}/orders/{oid}/status",
                    headers=workspace.auth(),
                    json={"status": "handed_to", "handed_to": recipient},
                )
                assert resp.status_code == 200, resp.text
            for path, body in [
                ("priority", {"priority": "rush"}),
                ("items/0/done", {"done": True}),
            ]:
                resp = await client.post(
                    f"{workspace.base}/orders/{kept}/{path}", headers=workspace.auth(), json=body
                )
                assert resp.status_code == 200, resp.text
            while frames.events() != set(EVENTS):
                await next_frame(conn, frames)
            await conn.send('{"type":"ping"}')
            while (await next_frame(conn, frames))["type"] != "pong":
                pass
            await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            states = []
            while states != ["reconnecting", "live"]:
                frame = await next_frame(conn, frames)
                if frame["type"] == "status":
                    states.append(frame["state"])
        # Resuming from the snapshot's cursor replays the 6 events since as one batch.
        async with socket(server, workspace, cursor=snap["cursor"]) as conn:
            batch = await next_frame(conn, frames)
            assert batch["type"] == "batch"
            assert [e["event"] for e in batch["events"]] == [
                "order.created",
                "order.status_changed",
                "order.status_changed",
                "order.updated",
                "order.priority_changed",
                "order.item_done",
            ]
        async with socket(server, workspace, cursor="ab:1-0") as conn:
            assert (await next_frame(conn, frames)) == {"type": "reset", "reason": "epoch"}
            assert (await next_frame(conn, frames))["type"] == "snapshot"
    assert frames.kinds() == {"snapshot", "event", "batch", "reset", "status", "pong"}


async def test_asyncapi_event_stream_frames_match_the_schemas(
    server: str, workspace: Workspace
) -> None:
    """Every Server-Sent Events message's data is a frame valid against the document, its id
    the frame's cursor."""
    doc = served(document())
    frames = Frames(doc, "eventStream")
    url = f"{workspace.base}/events/stream"
    async with http(server) as client:
        async with client.stream("GET", url, headers=workspace.auth("read")) as resp:
            lines = resp.aiter_lines()
            ((ident, snap),) = await sse_frames(lines, 1)
            frames.check(orjson.dumps(snap))
            assert ident == snap["cursor"]
            (oid,) = await create(client, workspace)
            await move(client, workspace, oid, "cancelled")
            for ident, frame in await sse_frames(lines, 2):
                frames.check(orjson.dumps(frame))
                assert ident == frame["cursor"]
        headers = workspace.auth("read") | {"Last-Event-ID": "ab:1-0"}
        async with client.stream("GET", url, headers=headers) as resp:
            for _, frame in await sse_frames(resp.aiter_lines(), 2):
                frames.check(orjson.dumps(frame))
    assert frames.kinds() == {"snapshot", "event", "reset"}
    assert frames.events() == {"order.created", "order.status_changed"}


async def test_asyncapi_workflow_changed_frame_matches_its_schema(
    server: str, workspace: Workspace
) -> None:
    """The workflow.changed event a workflow change sends (alone, and in a resumed batch with the
    order it moved) is valid against the document's WorkflowChanged payload."""
    doc = served(document())
    frames = Frames(doc, "live")
    async with http(server) as client:
        (oid,) = await create(client, workspace)
        await move(client, workspace, oid, "preparing")
        async with socket(server, workspace) as conn:
            snap = await next_frame(conn, frames)
            resp = await client.put(
                f"{workspace.base}/workflow",
                headers=workspace.auth("admin"),
                json={**BAKERY, "migrate": {"preparing": "baking"}},
            )
            assert resp.status_code == 200, resp.text
            while "workflow.changed" not in frames.events():
                await next_frame(conn, frames)
        async with socket(server, workspace, cursor=snap["cursor"]) as conn:
            batch = await next_frame(conn, frames)
            assert [e["event"] for e in batch["events"]] == [
                "order.status_changed",
                "workflow.changed",
            ]
