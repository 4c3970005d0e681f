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


# -- every benchmark command of README and docs, at a tiny size ---------------------------------


def bench_command(*args: str, timeout: float = 180, **env: str) -> str:
    """A benchmark command run from the repository root as the docs write it; its stdout.
    Fails on a non-zero exit, with the end of its output."""
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
        check=False,
    )
    assert proc.returncode == 0, (
        f"{args}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


def table(text: str, first: str) -> list[dict[str, str]]:
    """The rows of the markdown table whose first column is titled ``first``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first} |"))
    titles = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(titles, (c.strip() for c in line.strip("|").split("|")), strict=True)))
    return rows


def test_bench_runs_pair_ratios_run_by_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeated runs report median (range); ratios pair run i with run i, then take the median."""
    monkeypatch.syspath_prepend(str(ROOT))
    from bench.harness import Runs

    runs = Runs()
    for mine, theirs in [(2.0, 1.0), (4.0, 4.0), (9.0, 3.0)]:
        runs.add("mine", 0.5, {"x": mine})
        runs.add("theirs", 1.5, {"x": theirs})
    assert runs.spread("mine", "x") == "4.0 (2.0-9.0)"
    assert runs.ratio("mine", "theirs", "x") == "2.00x (1.00x-3.00x)"  # medians would say 1.33x
    assert runs.loads("theirs") == "1.50, 1.50, 1.50"
    runs.add("none", 0.1, {"x": 0.0})
    assert runs.ratio("mine", "none", "x") == "-"
    runs.add("late", 0.2, {"x": None})  # a latency where nothing arrived
    runs.add("late", 0.2, {"x": 8.0})
    assert runs.spread("late", "x") == "8.0 [none in 1 of 2 runs]"
    assert runs.ratio("late", "mine", "x") == "2.00x"  # run 2 only: 8 / 4


def test_bench_profile_summary_reads_frames_with_line_separators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folded stack is one \\n-ended line even when a frame's text holds a character that
    str.splitlines() would cut at (py-spy writes what the code object says)."""
    monkeypatch.syspath_prepend(str(ROOT))
    from bench.profile_summary import summarise

    folded = tmp_path / "odd.folded"
    folded.write_text("run (a.py:1);send (b.py:2) 3\nrun (a.py:1);<lambda \x1e\u2028> (c.py:3) 2\n")
    text = summarise(folded, 5)
    assert text.startswith("odd.folded: 5 samples")
    assert "100.0%  run (a.py:1)" in text


@pytest.mark.slow
def test_bench_live_command_runs_every_server() -> None:
    """bench.live with orderlog, the reference and both peers: every subscriber subscribed, none
    lost an event, and a ratio row per other server."""
    out = bench_command(
        *("-m", "bench.live", "--servers", "orderlog,reference,broadcaster,socketio"),
        *("--scenarios", "5@20", "--duration", "0.5", "--warmup", "0.2", "--grace", "0.5"),
        *("--runs", "1"),
    )
    rows = table(out, "server")
    assert [r["server"] for r in rows] == ["orderlog", "reference", "broadcaster", "socketio"]
    for row in rows:
        assert row["subscribed"] == "5", row
        assert row["lost"] == "0", row
        assert float(row["delivered msgs/s"]) > 0, row
    ratios = table(out, "scenario")
    assert [r["other"] for r in ratios] == ["reference", "broadcaster", "socketio"]
    assert all(r["p99"].endswith("x") for r in ratios), ratios


@pytest.mark.slow
def test_bench_ingest_command_runs_orderlog_beside_the_reference(tmp_path: Path) -> None:
    """bench.ingest: every row accepted writes without an error, the reference ratios are
    there, and its profiles are what bench.profile_summary ranks."""
    out = bench_command(
        *("-m", "bench.ingest", "--fsync", "everysec", "--duration", "0.5", "--warmup", "0.2"),
        *("--runs", "1", "--profile", str(tmp_path)),
    )
    rows = table(out, "appendfsync")
    assert [(r["server"], r["processes"]) for r in rows] == [
        ("orderlog", "1"),
        ("orderlog", "1"),
        ("orderlog", "1"),
        ("reference", "1"),
        ("reference", "1"),
        ("orderlog", "2"),
    ]
    assert all(row["errors"] == "0" for row in rows), rows
    # (on a busy machine a 0.5 s window may close before a saturated server answers)
    assert sum(float(row["writes/s accepted"].replace(",", "")) for row in rows) > 0
    assert all(float(row["Redis CPU %"].split()[0]) >= 0 for row in rows), rows  # measured
    assert sum(float(row["Redis CPU %"].split()[0]) for row in rows) > 0, rows
    ratios = table(out.split("orderlog / reference, run by run")[1], "appendfsync")
    assert len(ratios) == 4
    assert all(r["ratio"].endswith("x") for r in ratios), ratios
    folded = sorted(p.name for p in tmp_path.iterdir())
    assert folded == [
        "orderlog-create-everysec.folded",
        "orderlog-full-everysec.folded",
        "reference-create-everysec.folded",
    ]
    ranked = bench_command(
        "-m", "bench.profile_summary", str(tmp_path / "orderlog-create-everysec.folded")
    )
    assert "samples" in ranked
    assert "inclusive:" in ranked


@pytest.mark.slow
def test_bench_search_command_lifts_the_read_limit() -> None:
    """bench.search asks more pages than the read key's default burst (400) at more than its
    rate (200/s): every query row is answered, none stops on a 429."""
    out = bench_command("-m", "bench.search", "--orders", "300", "--requests", "60", "--runs", "1")
    rows = table(out, "kind")
    assert len(rows) == 18
    assert all(float(r["p50 ms"]) > 0 for r in rows)
    assert "| 1 day(s) |" in out


@pytest.mark.slow
def test_bench_slow_consumer_command_closes_the_stuck_client() -> None:
    """bench.slow_consumer: the client that never reads is closed, the readers miss nothing
    (exit 0). Enough events (~6 MiB) to fill the kernel's buffers for the stuck socket."""
    out = bench_command(
        *("-m", "bench.slow_consumer", "--readers", "3", "--rate", "2500", "--seconds", "4"),
        *("--runs", "1"),
        ORDERLOG_LIVE_QUEUE_EVENTS="1000",
    )
    assert table(out, "runs")[0]["events missing"] == "0"


@pytest.mark.slow
def test_bench_soak_command_runs() -> None:
    """bench.soak for a few seconds: clients connect, orders are written and completed."""
    out = bench_command(
        *("-m", "bench.soak", "--minutes", "0.1", "--clients", "5", "--full", "2"),
        *("--churn", "1", "--orders", "20", "--every", "2", "--warmup", "1"),
    )
    assert "soak " in out
    assert "failures 0" in out, out[-1500:]


@pytest.mark.slow
def test_bench_capacity_command_runs() -> None:
    """bench.capacity: every model input measured, the deployments' table, both checks."""
    out = bench_command(
        *("-m", "bench.capacity", "--duration", "0.5", "--warmup", "0.2", "--runs", "1"),
        timeout=600,
    )
    inputs = {r["input"]: r["value"] for r in table(out, "input")}
    assert len(inputs) == 13, inputs
    assert all(v.replace(",", "").replace(".", "").isdigit() for v in inputs.values()), inputs
    assert len(table(out, "workspaces")) == 5
    assert "- --workers 2 at 1,000 writes/s" in out
    assert "- cluster, 150 workspaces" in out


def test_bench_memory_command_runs() -> None:
    """bench/memory.py (run as a script, as docs/deploy.md writes it) prints its sizing table."""
    out = bench_command("bench/memory.py", "200", "10", "--runs", "1")
    rows = {r["figure"]: r["value"] for r in table(out, "figure")}
    assert any(k.startswith("Redis memory per order") for k in rows)
    assert all(v.split()[0] != "-" for v in rows.values())


def test_bench_audit_floors_command_runs() -> None:
    """python -m bench.audit --floors (no network) checks the floors and exits 0."""
    assert "advisories checked" in bench_command("-m", "bench.audit", "--floors")


@pytest.mark.slow
def test_bench_webhooks_command_delivers_everything(tmp_path: Path) -> None:
    """bench.webhooks: both loads with and without webhooks answered without an error, every
    delivery made (nothing left, nothing twice), the ratio rows there, and the profiled run's
    share of webhook code."""
    out = bench_command(
        *("-m", "bench.webhooks", "--duration", "0.5", "--warmup", "0.2", "--runs", "1"),
        *("--profile", str(tmp_path)),
    )
    rows = table(out, "load")
    assert [(r["load"].split(",")[0], r["webhooks"]) for r in rows] == [
        ("max", "none"),
        ("max", "3 active"),
        ("fixed 1000/s", "none"),
        ("fixed 1000/s", "3 active"),
    ]
    assert all(r["errors"] == "0" for r in rows), rows
    assert all(float(r["of deliveries due"].replace(",", "")) > 0 for r in rows[1::2]), rows
    assert "NOT every delivery" not in out
    ratios = table(out.split("run by run")[1], "load")
    assert all(r["ratio"].endswith("x") for r in ratios), ratios
    assert "webhook code in " in out
    assert (tmp_path / "webhooks-three-max.folded").stat().st_size > 0


def test_bench_wait_command_measures_both_modes() -> None:
    """bench.wait: writes without WAIT and with WAIT 1 against a real replica, both measured in
    the same round, at each concurrency."""
    out = bench_command("-m", "bench.wait", "--writes", "40", "--runs", "1")
    rows = table(out, "mode")
    assert [(r["mode"], r["writers"]) for r in rows] == [
        ("no WAIT", "1"),
        ("WAIT 1", "1"),
        ("no WAIT", "16"),
        ("WAIT 1", "16"),
    ]
    assert all(float(r["p50 ms"]) > 0 for r in rows)
    assert all(r["p50 vs no WAIT"].endswith("x") for r in rows)


@pytest.mark.skipif(
    shutil.which("valgrind") is None and not os.environ.get("ORDERLOG_REQUIRE_ALL"),
    reason="bench.instructions counts with valgrind",
)
def test_bench_instructions_command_counts_both_servers() -> None:
    """bench.instructions --quick: orderlog and the reference each counted under valgrind, a
    plausible cost per create (a request is tens of thousands of instructions at least: a count
    of start-up alone, or of nothing, would not be), and the ratio of the two."""
    out = bench_command("-m", "bench.instructions", "--quick", timeout=600)
    rows = {r["server"]: r for r in table(out, "server")}
    assert set(rows) == {"orderlog", "reference"}
    for row in rows.values():
        assert 20_000 < float(row["instructions per write"].replace(",", "")) < 20_000_000
    assert "orderlog / reference, instructions per create, run by run: " in out
