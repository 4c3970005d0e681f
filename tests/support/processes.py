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


def orderlog(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m orderlog ARGS` as a user runs it: its exit status, stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "orderlog", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
        check=False,
    )


def cli(*args: str, data_dir: Path | None = None, redis_url: str | None = None) -> Any:
    """The CLI's --json answer, on the embedded store in ``data_dir`` or the Redis at
    ``redis_url`` (a test's own store); it must succeed."""
    where = ["--data-dir", str(data_dir)] if data_dir is not None else []
    if redis_url is not None:
        where = ["--redis-url", redis_url]
    proc = orderlog(*args, *where, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


class Serve:
    """`orderlog serve` in a subprocess on a free port. Its output goes to a file, not a pipe:
    a pipe nobody reads fills up (64 KiB of access log) and blocks the server mid-request."""

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[str] | None = None
        self.base = f"http://127.0.0.1:{self.port}"
        self.output = data_dir.parent / f"serve-{self.port}.log"
        self.read_from = 0  # what stop() returns starts here (each start's own output)

    def start(self, until: str = "/readyz") -> str:
        """Start and return the base URL once ``until`` answers 200."""
        self.read_from = self.output.stat().st_size if self.output.exists() else 0
        with self.output.open("a") as out:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "orderlog", "serve"),
                    *("--port", str(self.port), "--data-dir", str(self.data_dir)),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env=env() | self.extra_env,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.read()
            try:
                if httpx.get(self.base + until, timeout=1).status_code == 200:
                    return self.base
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("serve did not become ready in 30 s")

    def read(self) -> str:
        """What the server printed since it was last started."""
        with self.output.open() as out:
            out.seek(self.read_from)
            return out.read()

    def stop(self) -> str:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)
        out = self.read()
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
