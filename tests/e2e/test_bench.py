"""The benchmark's C tools against a real server: they build, and they count what they should."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from support.server import Workspace

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None and not os.environ.get("ORDERLOG_REQUIRE_ALL"),
    reason="the benchmark's C tools need gcc",
)


def build(name: str) -> str:
    """bench/<name>.c built by the bench's own build step; the binary's path."""
    out = subprocess.run(
        [sys.executable, "-c", f"from bench.harness import build; print(build({name!r}))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout.strip()


async def run_loader(port: str, workspace: Workspace, mix: str, rate: int) -> dict[str, Any]:
    loader = await asyncio.create_subprocess_exec(
        build("ingest_load"),
        *("--ports", port, "--rate", str(rate), "--duration", "1", "--warmup", "0"),
        *("--conns", "4", "--workspace", workspace.id, "--key", workspace.keys["write"]),
        *("--mix", mix),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(loader.communicate(), 30)
    return json.loads(out)  # type: ignore[no-any-return]


async def test_bench_ingest_load_full_writes_all_accepted(
    server: str, workspace: Workspace
) -> None:
    """The load generator's creates and status changes are valid writes: all answered 2xx."""
    result = await run_loader(server.rsplit(":", 1)[1], workspace, "full", 60)
    assert result["sent"] == 60
    assert result["codes"] == {"2xx": 60, "4xx": 0, "5xx": 0}


async def test_bench_fanout_client_counts_every_event(server: str, workspace: Workspace) -> None:
    """5 subscribers of the C client receive each of the events the load generator publishes."""
    port = server.rsplit(":", 1)[1]
    client = await asyncio.create_subprocess_exec(
        build("fanout_client"),
        *("--port", port, "--path", f"{workspace.base}/live", "--subscribers", "5"),
        *("--header", f"Authorization: Bearer {workspace.keys['read']}"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert client.stdin is not None
    assert client.stdout is not None
    try:
        ready = await asyncio.wait_for(client.stdout.readline(), 30)
        assert ready.split() == [b"ready", b"5"]
        now = time.time_ns()
        client.stdin.write(f"{now} {now + 5 * 10**9} {now + 5 * 10**9}\n".encode())
        await client.stdin.drain()
        published = await run_loader(port, workspace, "create", 40)
        out, _ = await asyncio.wait_for(client.communicate(), 30)
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()
    received = json.loads(out.decode().splitlines()[-1])
    assert published["ok"] == 40
    assert received["events_received"] == 5 * 40
    assert received["events_in_window"] == 5 * 40
    assert received["closed_by_server"] == 0
