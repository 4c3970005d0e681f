"""Browser rendering of the kitchen display in a rush: today's keyed page against the reference
(the old page that rebuilt every tile on every change), in the same run.

    python -m bench.render [--tickets 200] [--rate 10] [--seconds 10] [--runs 3] [--throttle 1,4]
                           [--trace DIR]

1. Starts a private Redis and ``orderlog serve`` (bench/soak.py's ``served_workspace``).
2. For each run, each CPU throttling rate (Chrome DevTools Protocol
   ``Emulation.setCPUThrottlingRate``: 4 = a cheap kitchen PC or tablet) and each page
   (interleaved, so the machine's noise falls on both): makes ``--tickets`` open tickets (half
   waiting, half preparing), opens the kitchen with a write key in Debian's Chromium at
   1920x1080, and once it is live drives ``--rate`` changes a second for ``--seconds`` (new
   tickets, tickets started, tickets finished, round robin, never the oldest ten) while it
   clicks the first ticket's bump button once a second.
3. A ``PerformanceObserver`` records every long task (main thread busy > 50 ms) of the loaded
   window; each bump's latency is from the click event's timestamp (when the browser received
   the input, so a blocked main thread counts) to the DOM change that shows the ticket bumped
   (its status changed, or the tile gone), seen by a ``MutationObserver``.
4. Prints, per page and rate, the median over the runs of each run's longest task and of each
   run's slowest bump, with their range, and whether every run met the budget (no long task
   over 50 ms, every bump reflected within 100 ms).

Not a test: a benchmark with a printed table. tests/e2e/test_render_bench.py runs it at a tiny
size so it cannot silently break.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.harness import table
from bench.soak import served_workspace

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "bench" / "reference"
CHROMIUM = "/usr/bin/chromium"
# A document served by request interception (the reference page) has no address, so Chromium's
# local network access checks would refuse its WebSocket to 127.0.0.1; both pages run with the
# checks off, which changes nothing else.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-features=LocalNetworkAccessChecks",
]
LONG_TASK_BUDGET_MS = 50
BUMP_BUDGET_MS = 100
# A Chrome trace of the measured seconds (--trace DIR, one JSON file per page, rate and run): the
# main thread's tasks and what they did (script with its CPU samples, style, layout, paint,
# commit), to open in DevTools' Performance panel. Tracing slows the page: the run's figures
# are for diagnosis, not for the table of record.
TRACE_CATEGORIES = [
    "devtools.timeline", "disabled-by-default-devtools.timeline", "blink", "v8.execute",
    "disabled-by-default-v8.cpu_profiler", "toplevel",
]  # fmt: skip
PAGES = {"reference": "/bench-ref/kitchen.html", "keyed": "/kitchen.html"}
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}

# Runs in the page before its own scripts: long tasks and input timestamps, and the probe that
# waits for a ticket's bump to show.
PROBES = """
window.__bench = { longTasks: [], lastInput: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__bench.longTasks.push([e.startTime, e.duration]);
}).observe({ type: "longtask", buffered: true });
addEventListener("click", (e) => { window.__bench.lastInput = e.timeStamp; }, true);
window.__benchTarget = () => {
  const button = document.querySelector(".tile:not(.overflow) button.bump");
  if (!button) return null;
  const tile = button.closest(".tile");
  const r = button.getBoundingClientRect();
  const id = tile.dataset.order, from = tile.dataset.status;
  window.__benchReflected = new Promise((resolve) => {
    const done = (value) => { observer.disconnect(); clearTimeout(timer); resolve(value); };
    const observer = new MutationObserver(() => {
      const now = document.querySelector(`.tile[data-order="${id}"]`);
      if (!now || now.dataset.status !== from) done(performance.now() - window.__bench.lastInput);
    });
    observer.observe(document.body,
      { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"] });
    const timer = setTimeout(() => done(null), 30000);
  });
  return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
};
"""


@dataclass
class Sample:
    """One page at one throttling rate in one run."""

    long_tasks: list[float] = field(default_factory=list)
    bumps: list[float] = field(default_factory=list)
    missed: int = 0  # bumps not reflected within 30 s

    @property
    def max_long_task(self) -> float:
        return max(self.long_tasks, default=0.0)

    @property
    def max_bump(self) -> float:
        return max(self.bumps, default=float("nan"))


class Kitchen:
    """The workspace's open tickets, and the changes a rush makes to them."""

    def __init__(self, http: httpx.AsyncClient, ws: str, keys: dict[str, str]) -> None:
        self.http = http
        self.base = f"/v1/workspaces/{ws}"
        self.auth = {"Authorization": f"Bearer {keys['write']}"}
        self.auth_read = {"Authorization": f"Bearer {keys['read']}"}
        self.waiting: list[str] = []
        self.preparing: list[str] = []
        self.step = 0
        self.traces = 0  # traces written (--trace)

    async def batch(self, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for i in range(0, len(operations), 100):
            resp = await self.http.post(
                f"{self.base}/batch",
                json={"operations": operations[i : i + 100]},
                headers=self.auth,
            )
            resp.raise_for_status()
            results += resp.json()["results"]
        return results

    async def reset(self, tickets: int) -> None:
        """Finish every open ticket, then open ``tickets`` new ones."""
        resp = await self.http.get(
            f"{self.base}/events", params={"status": "waiting_for_preparation,preparing"},
            headers=self.auth_read,
        )  # fmt: skip
        resp.raise_for_status()
        open_ids = [o["id"] for o in resp.json()["orders"]]
        if open_ids:
            await self.batch([{"op": "status", "id": i, "status": "cancelled"} for i in open_ids])
        half = tickets // 2
        made = await self.batch(
            [self.new_ticket(i, "waiting_for_preparation" if i < tickets - half else "preparing")
             for i in range(tickets)]
        )  # fmt: skip
        self.waiting = [r["id"] for r in made[: tickets - half]]
        self.preparing = [r["id"] for r in made[tickets - half :]]

    @staticmethod
    def new_ticket(i: int, status: str) -> dict[str, Any]:
        items = ["Latte", {"name": "Cookie", "quantity": 2}, "Bagel", "Mocha"][: 1 + i % 4]
        return {"op": "create", "customer": {"UserId": 1000 + i, "Name": f"Guest{i}"},
                "items": items, "status": status}  # fmt: skip

    async def change(self) -> None:
        """One change of the rush: a new ticket, a ticket started or a ticket finished (never one
        of the ten oldest, which the bumps take)."""
        kind = self.step % 3
        self.step += 1
        if kind == 1 and len(self.waiting) > 10:
            oid = self.waiting.pop()
            self.preparing.append(oid)
            await self.batch([{"op": "status", "id": oid, "status": "preparing"}])
        elif kind == 2 and len(self.preparing) > 10:
            oid = self.preparing.pop()
            await self.batch([{"op": "status", "id": oid, "status": "waiting_for_pickup"}])
        else:
            made = await self.batch([self.new_ticket(self.step, "waiting_for_preparation")])
            self.waiting.append(made[0]["id"])


async def serve_reference(route: Any) -> None:
    path = REFERENCE / route.request.url.split("/bench-ref/", 1)[1].split("?")[0]
    body = await asyncio.to_thread(path.read_bytes)
    await route.fulfill(body=body, content_type=TYPES.get(path.suffix, "text/plain"))


async def measure(
    chromium: Any, base: str, fragment: str, page_name: str, throttle: float,
    kitchen: Kitchen, args: argparse.Namespace,
) -> Sample:  # fmt: skip
    from playwright.async_api import expect

    await kitchen.reset(args.tickets)
    context = await chromium.new_context(base_url=base, viewport={"width": 1920, "height": 1080})
    try:
        page = await context.new_page()
        await page.route("**/bench-ref/**", serve_reference)
        await page.add_init_script(PROBES)
        cdp = await context.new_cdp_session(page)
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        await page.goto(PAGES[page_name] + fragment)
        await expect(page.locator("#conn")).to_have_text("live", timeout=60_000)
        await expect(page.locator(".tile button.bump").first).to_be_visible(timeout=60_000)
        await page.wait_for_timeout(1000)  # the first render is done: measure the rush only
        if args.trace:
            await chromium.start_tracing(page=page, categories=TRACE_CATEGORIES)
        start = await page.evaluate("performance.now()")
        sample = Sample()
        stop = time.monotonic() + args.seconds

        async def rush() -> None:
            period = 1 / args.rate
            next_at = time.monotonic()
            while next_at < stop:
                await kitchen.change()
                next_at += period
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

        async def bumps() -> None:
            while time.monotonic() < stop - 0.5:
                began = time.monotonic()
                target = await page.evaluate("window.__benchTarget()")
                if target:
                    await page.mouse.click(target["x"], target["y"])
                    latency = await page.evaluate("window.__benchReflected")
                    if latency is None:
                        sample.missed += 1
                    else:
                        sample.bumps.append(latency)
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))

        await asyncio.gather(rush(), bumps())
        end = await page.evaluate("performance.now()")
        if args.trace:
            trace = await chromium.stop_tracing()
            name = f"{page_name}-{throttle:g}x-{kitchen.traces}.json"
            kitchen.traces += 1
            await asyncio.to_thread(write_trace, Path(args.trace) / name, trace)
        tasks = await page.evaluate("window.__bench.longTasks")
        sample.long_tasks = [d for t, d in tasks if start <= t <= end]
        return sample
    finally:
        await context.close()


def write_trace(path: Path, trace: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(trace)
    print(f"trace: {path}", flush=True)


def summary(values: list[float]) -> str:
    """The median and range of one figure over the runs."""
    if not values or any(v != v for v in values):  # NaN: a run without a reflected bump
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.0f}"
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def report(results: dict[tuple[str, float], list[Sample]], args: argparse.Namespace) -> str:
    rows = []
    for (name, throttle), samples in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        meets = all(
            s.max_long_task <= LONG_TASK_BUDGET_MS and s.max_bump <= BUMP_BUDGET_MS and not s.missed
            for s in samples
        )
        rows.append([
            name, f"{throttle:g}x",
            summary([s.max_long_task for s in samples]),
            summary([float(len(s.long_tasks)) for s in samples]),
            summary([statistics.median(s.bumps) if s.bumps else float("nan") for s in samples]),
            summary([s.max_bump for s in samples]),
            sum(s.missed for s in samples),
            "yes" if meets else "no",
        ])  # fmt: skip
    head = (
        f"{args.tickets} open tickets, {args.rate:g} changes/s for {args.seconds:g} s, a bump a "
        f"second; median of {args.runs} run(s) (range)\n"
    )
    return head + table(
        ["page", "CPU", "longest task ms", "long tasks", "bump median ms", "slowest bump ms",
         "bumps lost", "within budget"],
        rows,
    )  # fmt: skip


async def run(args: argparse.Namespace) -> int:
    from playwright.async_api import async_playwright

    if not await asyncio.to_thread(Path(CHROMIUM).exists):
        print(f"{CHROMIUM} is missing (apt-get install chromium)")
        return 1
    throttles = [float(t) for t in args.throttle.split(",")]
    load = os.getloadavg()
    results: dict[tuple[str, float], list[Sample]] = {}
    async with served_workspace("render-", "Render cafe") as target:
        if target is None:
            return 1
        fragment = (
            f"#key={target.keys['read']}&workspace={target.workspace_id}"
            f"&write={target.keys['write']}"
        )
        async with (
            httpx.AsyncClient(base_url=target.base, timeout=30) as http,
            async_playwright() as p,
        ):
            kitchen = Kitchen(http, target.workspace_id, target.keys)
            chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                for r in range(args.runs):
                    for throttle in throttles:
                        for name in args.pages.split(","):
                            sample = await measure(
                                chromium, target.base, fragment, name, throttle, kitchen, args
                            )
                            results.setdefault((name, throttle), []).append(sample)
                            print(
                                f"run {r + 1} {name:9s} {throttle:g}x: longest task "
                                f"{sample.max_long_task:.0f} ms, {len(sample.long_tasks)} long "
                                f"tasks, slowest bump {sample.max_bump:.0f} ms "
                                f"({len(sample.bumps)} bumps, {sample.missed} lost)",
                                flush=True,
                            )
            finally:
                await chromium.close()
    print()
    print(f"load average at the start {load[0]:.1f}, at the end {os.getloadavg()[0]:.1f}")
    print(report(results, args))
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tickets", type=int, default=200, help="open tickets on screen")
    p.add_argument("--rate", type=float, default=10, help="changes per second")
    p.add_argument("--seconds", type=float, default=10, help="measured seconds per page")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--throttle", default="1,4", help="CPU throttling rates, comma-separated")
    p.add_argument("--pages", default=",".join(PAGES), help="pages to measure, comma-separated")
    p.add_argument("--trace", metavar="DIR", help="write a Chrome trace of each measured window")
    sys.exit(asyncio.run(run(p.parse_args())))


if __name__ == "__main__":
    main()
