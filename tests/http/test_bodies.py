"""Request bodies sent with Content-Encoding: gzip are decoded within the body limit; other
encodings are a clear 415."""

from __future__ import annotations

import gzip
import tracemalloc
from typing import Any

import orjson
import pytest

from support.api import CUSTOMER, assert_error

ORDER = {"customer": CUSTOMER, "items": ["Latte", {"name": "Cookie", "quantity": 2}]}


def headers(ws: Any, encoding: str, **more: str) -> dict[str, str]:
    return ws.auth() | {"Content-Type": "application/json", "Content-Encoding": encoding} | more


@pytest.mark.parametrize("encoding", ["gzip", "GZip", "x-gzip", "identity"])
async def test_bodies_gzip_is_decoded(client: Any, workspace: Any, encoding: str) -> None:
    """A gzip body (or an identity one) is the order it encodes."""
    raw = orjson.dumps(ORDER)
    content = raw if encoding == "identity" else gzip.compress(raw)
    resp = await client.post(
        f"{workspace.base}/orders", headers=headers(workspace, encoding), content=content
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["order"]["items"][1] == {"name": "Cookie", "quantity": 2}


async def test_bodies_gzip_members_and_idempotency(client: Any, workspace: Any) -> None:
    """Two gzip members decode as one body, and a gzip retry of a plain request with the same
    Idempotency-Key replays it."""
    raw = orjson.dumps(ORDER)
    first = await client.post(
        f"{workspace.base}/orders",
        headers=workspace.auth() | {"Idempotency-Key": "z1"},
        json=ORDER,
    )
    assert first.status_code == 201, first.text
    split = gzip.compress(raw[:10]) + gzip.compress(raw[10:])
    again = await client.post(
        f"{workspace.base}/orders",
        headers=headers(workspace, "gzip", **{"Idempotency-Key": "z1"}),
        content=split,
    )
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]


async def test_bodies_gzip_bomb_is_413_in_bounded_memory(
    client: Any, workspace: Any, redis: Any
) -> None:
    """50 MB of JSON whitespace gzipped to ~50 KB (under the 64 KiB limit as sent) is a 413:
    decoding stops just past the limit, never holding the 50 MB."""
    bomb = gzip.compress(b'{"customer": ' + b" " * 50_000_000 + b"1}", 9)
    assert len(bomb) < 65_536
    tracemalloc.start()
    try:
        resp = await client.post(
            f"{workspace.base}/orders", headers=headers(workspace, "gzip"), content=bomb
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "65536 bytes" in assert_error(resp, 413)["message"]
    print(f"\ngzip bomb: {len(bomb)} bytes -> 413, peak traced memory {peak / 1e6:.1f} MB")
    assert peak < 5_000_000
    assert await redis.get(f"ol:{{{workspace.id}}}:seq") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not gzip at all", "not valid gzip"),
        (gzip.compress(orjson.dumps(ORDER))[:-12], "ended before its end"),
        (gzip.compress(orjson.dumps(ORDER)) + b"garbage", "not valid gzip"),
    ],
)
async def test_bodies_broken_gzip_is_400(
    client: Any, workspace: Any, content: bytes, message: str
) -> None:
    """Bytes that are not gzip, a truncated stream or trailing garbage are a 400 saying so."""
    resp = await client.post(
        f"{workspace.base}/orders", headers=headers(workspace, "gzip"), content=content
    )
    assert message in assert_error(resp, 400)["message"]


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip, gzip", "zstd"])
async def test_bodies_other_encodings_are_415(client: Any, workspace: Any, encoding: str) -> None:
    """An encoding the server does not decode is a 415 naming it, with Accept-Encoding: gzip."""
    resp = await client.post(
        f"{workspace.base}/orders", headers=headers(workspace, encoding), content=b"{}"
    )
    body = assert_error(resp, 415)
    assert "Content-Encoding" in body["message"]
    assert resp.headers["accept-encoding"] == "gzip"
