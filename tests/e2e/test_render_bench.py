"""The browser rendering benchmark (bench/render.py) runs end to end at a tiny size: it starts
its server, drives both pages and prints its table, so it cannot break unnoticed."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_render_bench_tiny_run_prints_both_pages() -> None:
    """A one-run, few-ticket pass measures the keyed page and the reference, with bumps seen."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.render",
        "--tickets", "12", "--rate", "4", "--seconds", "3", "--runs", "1", "--throttle", "1",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    text = out.decode()
    assert proc.returncode == 0, text
    rows = {
        m["page"]: m
        for m in re.finditer(
            r"^\| (?P<page>keyed|reference) \| 1x \| (?P<longest>\d+) \| \d+ \| (?P<median>\d+) "
            r"\| (?P<slowest>\d+) \| (?P<lost>\d+) \| (?:yes|no) \|$",
            text,
            re.MULTILINE,
        )
    }
    assert set(rows) == {"keyed", "reference"}, text
    for row in rows.values():
        assert row["lost"] == "0", text
        assert int(row["median"]) > 0, text  # bumps were made and seen
