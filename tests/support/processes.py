"""orderlog as a user runs it: the CLI in a subprocess, `serve` started and stopped."""

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

from orderlog.store.embedded import free_port

SRC = str(Path(__file__).resolve().parents[2] / "src")


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    out["PYTHONPATH"] = SRC + os.pathsep + out.get("PYTHONPATH", "")
    return out


def cli(*args: str, data_dir: Path | None = None, redis_url: str | None = None) -> Any:
    """The CLI's --json answer, on the embedded store in ``data_dir`` or the Redis at
    ``redis_url`` (a test's own store)."""
    where = ["--data-dir", str(data_dir)] if data_dir is not None else []
    if redis_url is not None:
        where = ["--redis-url", redis_url]
    proc = subprocess.run(
        [sys.executable, "-m", "orderlog", *args, *where, "--json"],
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


class Served:
    """``orderlog serve [--workers N]`` on a free port against a given Redis, with extra
    environment variables; killed, not stopped, when a test wants a crash."""

    def __init__(self, redis_url: str, workers: int = 1, **environ: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        extra = {"REDIS_URL": redis_url, "ORDERLOG_DEMO_WORKSPACE": "0", **environ}
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "orderlog", "serve"),
                *("--port", str(self.port), "--workers", str(workers)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={k: v for k, v in env().items() if k != "PROMETHEUS_MULTIPROC_DIR"} | extra,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("serve did not become ready in 30 s")

    def output(self) -> str:
        out, _ = self.proc.communicate(timeout=30)
        return out

    def kill(self) -> None:
        """SIGKILL: no shutdown, no handing back of anything."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=30)

    def stop(self) -> str:
        """SIGINT (a clean stop); its output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        return out
