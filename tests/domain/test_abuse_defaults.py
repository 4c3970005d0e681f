"""The default burst threshold against the demo cafe's traffic (bench/abuse_thresholds.py): a
normal rush flags no cashier, a farming cashier is flagged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_rush_flags_nobody_and_a_farmer_is_flagged() -> None:
    """At the demo's default rate and up to twice it, the default rules flag no cashier and no
    customer, while the old 5-in-60-s rule flagged all three cashiers; a cashier ringing an order
    every 5 s for 5 minutes is flagged in every run."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.abuse_thresholds", "--minutes", "60", "--seeds", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 7 and cells[0].isdigit():
            rows[int(cells[0])] = cells
    assert set(rows) >= {6, 12}
    for rate in (6, 9, 12):
        _, _, _, _, old, new, farmer = rows[rate]
        assert old.startswith("3 (3-3) cashiers"), (rate, old)
        assert new == "0 (0-0) cashiers, 0 (0-0) customers", (rate, new)
        assert farmer == "3/3 runs", (rate, farmer)
