"""Debian's Chromium for the browser tests and scripts/screenshots.py: where it is, the flags it
runs with here (no sandbox as root, no background network on a closed machine), and the skip
(a failure under ORDERLOG_REQUIRE_ALL=1) where it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def need_chromium() -> None:
    """Skip the calling test without Chromium (fail in CI, where it must be installed)."""
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("ORDERLOG_REQUIRE_ALL") == "1":
        pytest.fail(reason)
    pytest.skip(reason)
