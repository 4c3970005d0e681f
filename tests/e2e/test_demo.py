"""``orderlog demo``: a simulated cafe that drives real orders through the HTTP API."""

from __future__ import annotations

import asyncio
import random
import re
import sys
from collections import Counter
from typing import Any

import httpx

from orderlog import demo
from support.processes import env

ROBLOX_NAME = re.compile(r"^(?=.{3,20}$)[A-Za-z0-9]+(_[A-Za-z0-9]+)?$")


def test_demo_usernames_are_valid_roblox_names() -> None:
    """Generated usernames follow Roblox's rules: 3-20 characters, at most one inner '_'."""
    rng = random.Random(5)
    names = [demo.username(rng) for _ in range(500)]
    assert all(ROBLOX_NAME.match(n) for n in names), [n for n in names if not ROBLOX_NAME.match(n)]
    assert len(set(names)) > 300


async def test_demo_drives_orders_through_the_workflow(server: str, workspace: Any) -> None:
    """A fast cafe against a real server: orders are created and reach several statuses,
    with preparers and hand-overs recorded, and no request fails."""
    cafe = demo.Cafe(random.Random(1), rate=600, speed=60)
    client = demo.Client(server, workspace.id, workspace.keys["write"])
    counts = await asyncio.to_thread(demo.run, client, cafe, duration=4, log=lambda _: None)
    assert counts["failed"] == 0
    assert counts["orders"] >= 10
    assert counts["changes"] >= counts["orders"]
    async with httpx.AsyncClient(base_url=server + workspace.base, timeout=10) as http:
        orders = [
            (await http.get(f"/orders/by-number/{n}", headers=workspace.auth("read"))).json()
            for n in range(1, counts["orders"] + 1)
        ]
    statuses = Counter(o["status"] for o in orders)
    assert len(statuses) >= 3, statuses
    assert any(o["preparer"] for o in orders)
    assert any(o["handed_to"] for o in orders)
    assert all(len(o["history"]) >= 1 for o in orders)


async def test_demo_cli_creates_a_workspace_and_prints_the_url(server: str, redis_url: str) -> None:
    """Without --key the demo makes its own workspace in the server's store and prints the
    owner pages' link (read key in the fragment) and how to pair a screen with it, then runs
    for --duration."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orderlog", "demo", "--url", server, "--redis-url", redis_url,
        "--duration", "2", "--rate", "120", "--quiet",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env(),
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    stdout = out.decode()
    assert proc.returncode == 0, err.decode()
    link = re.search(r"(/#key=olk_\S+&workspace=(\w+))", stdout)
    assert link, stdout
    assert f"orderlog screen pair CODE --workspace {link.group(2)} --role kitchen" in stdout
    summary = re.search(r"(\d+) orders, (\d+) changes, 0 failed", stdout)
    assert summary, stdout
    assert int(summary.group(1)) >= 1
