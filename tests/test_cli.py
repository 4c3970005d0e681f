"""The CLI end to end, as a user runs it: admin commands and `serve`, restarts keep the data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderlog.store.embedded import free_port

SRC = str(Path(__file__).resolve().parents[1] / "src")


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    out["PYTHONPATH"] = SRC + os.pathsep + out.get("PYTHONPATH", "")
    return out


def cli(*args: str, data_dir: Path) -> Any:
    proc = subprocess.run(
        [sys.executable, "-m", "orderlog", *args, "--data-dir", str(data_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


class Serve:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orderlog",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env(),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stdout.read() if self.proc.stdout else ""
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return self.base
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("serve did not become ready in 30 s")

    def stop(self) -> str:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, out
        return out


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
