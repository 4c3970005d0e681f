"""Screenshots of every dashboard page from demo data, into docs/screenshots/.

    python scripts/screenshots.py [--out docs/screenshots] [--warmup 45]

Starts ``orderlog serve`` on a free port with a fresh data directory, creates a workspace with
short ticket-age thresholds (so the colours show within a minute), runs the demo cafe fast for
``--warmup`` seconds and, with it still running, photographs each page in Debian's Chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from orderlog import demo  # noqa: E402
from orderlog.store.embedded import free_port  # noqa: E402
from support.browser import ARGS, CHROMIUM  # noqa: E402  (one place for the launch flags)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["PYTHONPATH"] = str(ROOT / "src")
    env["ORDERLOG_DEMO_WORKSPACE"] = "0"
    return env


def _call(base: str, method: str, path: str, key: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("orderlog serve exited")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("orderlog serve did not start")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--warmup", type=float, default=45.0, help="seconds of demo before shooting")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cli = [sys.executable, "-m", "orderlog"]
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port), "--data-dir", tmp], env=_env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_up(base, server)
            made = subprocess.run(
                [*cli, "workspace", "create", "Bloxy Cafe", "--json", "--data-dir", tmp],
                env=_env(), capture_output=True, check=True,
            )  # fmt: skip
            ws = json.loads(made.stdout)
            wid, keys = ws["workspace_id"], ws["keys"]
            _call(
                base, "PATCH", f"/v1/workspaces/{wid}/settings", keys["admin"],
                {"age_warn_seconds": 25, "age_late_seconds": 50, "pickup_linger_seconds": 8},
            )  # fmt: skip
            stop = threading.Event()
            cafe = demo.Cafe(random.Random(7), rate=40, speed=6)
            client = demo.Client(base, wid, keys["write"])

            def drive() -> None:
                demo.run(client, cafe, duration=args.warmup + 120, log=lambda _: None,
                         sleep=lambda s: stop.wait(s))  # fmt: skip

            thread = threading.Thread(target=drive, daemon=True)
            thread.start()
            time.sleep(args.warmup)
            done = _call(
                base, "GET", f"/v1/workspaces/{wid}/orders?status=completed&limit=1", keys["read"]
            )["orders"]
            order_page = f"order.html?id={done[0]['id']}" if done else "order.html?n=1"
            fragment = f"#key={keys['read']}&workspace={wid}&write={keys['write']}"
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(base + "/index.html" + fragment)
                for name, path in [
                    ("signin", "index.html"),
                    ("board", "board.html"),
                    ("kitchen", "kitchen.html"),
                    ("pickup", "pickup.html"),
                    ("orders", "orders.html"),
                    ("order", order_page),
                    ("staff", "staff.html"),
                ]:
                    page.goto(f"{base}/{path}")
                    if name == "kitchen":  # a click lets the browser start the sound
                        page.click("#kitchen-stats")
                        page.evaluate("window.scrollTo(0, 0)")
                    page.wait_for_load_state("networkidle")  # a live page never idles: 0.5 s
                    page.wait_for_timeout(1500)
                    page.screenshot(path=str(out / f"{name}.png"))
                    print(f"saved {out / f'{name}.png'}")
                browser.close()
            stop.set()
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
