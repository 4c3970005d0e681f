"""A 429 names a wait a client can honour: whole seconds, rounded up, the same in the message
and in Retry-After."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Any

import pytest

from orderlog.errors import RateLimited
from orderlog.settings import Settings
from support.server import Workspace

WAIT = re.compile(r"retry in (\d+) s\.$")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # 100 reads/s, burst 1: a refused request is a few ms at most from the next free slot
    return replace(settings, rate_read=100.0, rate_read_burst=1)


@pytest.mark.parametrize(
    ("retry_after", "wait"), [(0.000001, 1), (0.04, 1), (0.999, 1), (1.0, 1), (1.2, 2), (7.0, 7)]
)
def test_ratelimit_wait_rounds_up_to_whole_seconds(retry_after: float, wait: int) -> None:
    """A refusal microseconds from the next slot says 1 s; longer waits round up, never down."""
    exc = RateLimited(retry_after, limit=1)
    match = WAIT.search(exc.message)
    assert match is not None, exc.message
    assert int(match[1]) == wait
    assert exc.headers() == {"Retry-After": str(wait)}


async def test_ratelimit_short_wait_429_says_one_second(client: Any, workspace: Workspace) -> None:
    """Concurrent reads over a 100/s limit: each 429 says "retry in 1 s" and Retry-After: 1."""
    url = f"{workspace.base}/workflow"
    async with asyncio.timeout(30):
        responses = await asyncio.gather(
            *(client.get(url, headers=workspace.auth("read")) for _ in range(20))
        )
    refused = [r for r in responses if r.status_code == 429]
    assert refused, [r.status_code for r in responses]
    for resp in refused:
        match = WAIT.search(resp.json()["message"])
        assert match is not None, resp.json()["message"]
        assert match[1] == resp.headers["retry-after"] == "1"
