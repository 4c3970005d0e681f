"""The CLI end to end, as a user runs it: admin commands and `serve`, restarts keep the data."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import time
from pathlib import Path

import httpx
import pytest

from support.loading import SLOW_LOAD, saved_data
from support.processes import Serve, cli, orderlog


@pytest.mark.slow
def test_cli_admin_commands_without_a_server(tmp_path: Path) -> None:
    """workspace create/list and key create/list/revoke work on the embedded store, in JSON."""
    created = cli("workspace", "create", "Bloxy Cafe", data_dir=tmp_path)
    ws = created["workspace_id"]
    assert set(created["keys"]) == {"write", "read", "admin"}
    assert all(k.startswith("olk_") for k in created["keys"].values())
    listed = cli("workspace", "list", data_dir=tmp_path)
    assert [w["id"] for w in listed["workspaces"]] == [ws]
    key = cli("key", "create", ws, "--scope", "read", "--label", "kitchen tv", data_dir=tmp_path)
    keys = cli("key", "list", ws, data_dir=tmp_path)["keys"]
    assert {k["label"] for k in keys} >= {"kitchen tv"}
    assert all("key" not in k and "sha256" not in k for k in keys)
    cli("key", "revoke", key["key_id"], data_dir=tmp_path)
    keys = cli("key", "list", ws, data_dir=tmp_path)["keys"]
    assert next(k for k in keys if k["key_id"] == key["key_id"])["revoked_at"]
    assert not list(tmp_path.glob("*.sock"))  # the command's Redis stopped with it


@pytest.mark.slow
def test_cli_serve_first_run_lifecycle_and_restart_keeps_data(tmp_path: Path) -> None:
    """serve prints a demo workspace on first run; an order written survives a restart; admin
    commands reach the running server's store."""
    serve = Serve(tmp_path)
    base = serve.start()
    ws = cli("workspace", "create", "Second", data_dir=tmp_path)  # while serve runs
    auth = {"Authorization": f"Bearer {ws['keys']['write']}"}
    url = f"{base}/v1/workspaces/{ws['workspace_id']}"
    created = httpx.post(
        f"{url}/orders",
        headers=auth,
        timeout=5,
        json={"customer": {"UserId": 1, "Name": "a"}, "items": ["Latte"]},
    )
    assert created.status_code == 201, created.text
    oid = created.json()["id"]
    done = httpx.post(
        f"{url}/orders/{oid}/status", headers=auth, timeout=5, json={"status": "completed"}
    )
    assert done.status_code == 200
    out = serve.stop()
    assert "First run: created a demo workspace" in out
    assert "write key:" in out
    assert "dashboard:" in out

    serve.start()
    again = httpx.get(f"{url}/orders/{oid}", headers=auth, timeout=5)
    assert again.status_code == 200
    assert again.json()["status"] == "completed"
    out = serve.stop()
    assert "First run" not in out
    assert len(cli("workspace", "list", data_dir=tmp_path)["workspaces"]) == 2


@pytest.mark.slow
def test_cli_serve_on_a_busy_port_stops_before_the_first_run(tmp_path: Path) -> None:
    """With its port taken, serve exits at once with a clear message, before it starts Redis or
    makes the demo workspace: no keys printed for a server that never ran."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = orderlog("serve", "--port", str(port), "--data-dir", tmp_path)
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr, proc.stderr
    assert "--port" in proc.stderr  # what to do about it
    assert "First run" not in proc.stdout
    assert "key:" not in proc.stdout
    assert not (tmp_path / "appendonlydir").exists()  # Redis never started
    assert cli("workspace", "list", data_dir=tmp_path)["workspaces"] == []


@pytest.mark.slow
def test_cli_demo_fills_the_first_run_workspace(tmp_path: Path) -> None:
    """`orderlog demo` without --workspace fills the demo workspace the first run made (found by
    its mark, not its name) with keys of its own, revoked when it stops; a lost key of that
    workspace comes back the documented way, `orderlog key create`."""
    serve = Serve(tmp_path)
    base = serve.start()
    try:
        (first,) = cli("workspace", "list", data_dir=tmp_path)["workspaces"]
        ws = first["id"]
        cli("workspace", "create", "Demo cafe", data_dir=tmp_path)  # same name, not the demo
        proc = orderlog(
            *("demo", "--url", base, "--duration", "2", "--rate", "120", "--quiet"),
            *("--data-dir", tmp_path),
        )
        assert proc.returncode == 0, proc.stderr
        assert f"filling the demo workspace {ws}" in proc.stdout, proc.stdout
        assert re.search(r"(\d+) orders, \d+ changes, 0 failed", proc.stdout), proc.stdout
        assert len(cli("workspace", "list", data_dir=tmp_path)["workspaces"]) == 2
        keys = cli("key", "list", ws, data_dir=tmp_path)["keys"]
        demo_keys = [k for k in keys if k["label"].startswith("orderlog demo")]
        assert len(demo_keys) == 2
        assert all(k["revoked_at"] for k in demo_keys)
        read = cli("key", "create", ws, "--scope", "read", data_dir=tmp_path)["key"]
        got = httpx.get(
            f"{base}/v1/workspaces/{ws}/orders/by-number/1",
            headers={"Authorization": f"Bearer {read}"},
            timeout=5,
        )
        assert got.status_code == 200, got.text
    finally:
        out = serve.stop()
    assert f"workspace id: {ws}" in out
    assert f"orderlog key create {ws} --scope read" in out  # beside the keys it printed


@pytest.mark.slow
def test_cli_serve_while_redis_loads_a_large_aof(tmp_path: Path) -> None:
    """serve on a store whose embedded Redis takes seconds to load its AOF does not crash: it
    answers meanwhile (/healthz 200; /readyz and requests 503, saying Redis is loading), prints
    how far the load got, then serves the saved data (and makes no demo workspace)."""
    saved = asyncio.run(saved_data(tmp_path, filler=30_000))
    shim = tmp_path / "bin" / "redis-server"  # the embedded Redis is the redis-server on PATH
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {shutil.which("redis-server")} "$@" {" ".join(SLOW_LOAD)}\n')
    shim.chmod(0o755)
    serve = Serve(tmp_path, {"PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}"})
    ws = saved.workspace
    base = serve.start(until="/healthz")
    try:
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 503, ready.text
        assert ready.json()["message"].startswith("Redis is loading its data into memory")
        order = f"{base}/v1/workspaces/{ws.id}/orders/{saved.order_id}"
        during = httpx.get(order, headers=ws.auth("read"), timeout=5)
        assert during.status_code == 503, during.text
        assert during.headers["retry-after"] == "1"
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "Redis never finished loading"
            time.sleep(0.2)
        got = httpx.get(order, headers=ws.auth("read"), timeout=5)
        assert got.status_code == 200, got.text
    finally:
        out = serve.stop()
    assert "Redis is loading its data; serving meanwhile" in out, out
    assert re.search(r"Redis is loading its data into memory: \d+% of \d+ MB", out), out
    assert "Traceback" not in out, out
    assert "First run" not in out
