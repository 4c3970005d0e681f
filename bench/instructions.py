"""Instructions per create: orderlog's server beside the publish-only reference, counted by
valgrind, not timed.

    python -m bench.instructions [--servers orderlog,reference] [--runs 3] [--seconds 6]
                                 [--mix create|full] [--quick]

On a shared machine a timed figure moves by a third from one hour to the next for the same code
(docs/performance.md); the instructions a server executes per request do not. Each server runs
under ``valgrind --tool=callgrind`` (~50x slower, so a low fixed rate: 150 writes/s on 8
keep-alive connections from bench/ingest_load.c) against its own Redis, twice: for ``seconds``
and for three times as long. The difference of the two totals over the difference of the writes
answered is the cost of one more write, start-up and shutdown cancelled out: every instruction
of the server process (uvicorn, the event loop, the app, the Redis client, the access log), not
the kernel's and not Redis's. Ratios pair each run's orderlog figure with the reference's.

Under valgrind every request waits long enough for the event loop to batch more per iteration
than at full speed, so this is a cost per write at a low rate; bench.ingest has the timed ones.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from . import harness

RATE = 150  # writes/s offered: what a server under valgrind answers without a queue
CONNS = 8
STARTUP = 240.0  # s: a server's start under valgrind (imports at ~1/50 of the speed)


def wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server under valgrind exited ({proc.returncode})")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5),
        ):
            return
        time.sleep(0.5)
    raise RuntimeError("the server under valgrind did not start in time")


@contextlib.contextmanager
def counted(kind: str, url: str, port: int, out: Path, log: Path) -> Iterator[None]:
    """Server ``kind`` on ``port`` under callgrind (its counts land in ``out`` at exit)."""
    if kind == "orderlog":
        command = harness.orderlog_command(url, port)
    else:  # the reference, as bench.ingest runs it
        command = [sys.executable, *harness.UVICORN, str(port), "--no-access-log"]
        command.append("bench.peers.reference_app:app")
    valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    env = {"PYTHONPATH": f"{harness.SRC}:{harness.ROOT}", "REDIS_URL": url, **harness.UNLIMITED}
    with harness.process([*valgrind, *command], harness.SERVER_CORE, log, env=env) as proc:
        wait_up(port, proc)
        yield
        proc.terminate()  # a clean exit writes the counts (slow under valgrind: wait for it)
        proc.wait(STARTUP)


def total(out: Path) -> int:
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def measure(kind: str, mix: str, seconds: float, loader: Path, tmp: Path) -> dict[str, float]:
    """One run: the server's instructions per write (two counted runs, their difference)."""
    counts = []
    for factor in (1, 3):
        with harness.redis_server("no") as url:
            ws, key = "bench", "unused"
            if kind == "orderlog":
                ws, keys = harness.create_workspace(url)
                key = keys["write"]
            port = harness.free_port()
            out = tmp / f"{kind}-{factor}.callgrind"
            with counted(kind, url, port, out, tmp / f"{kind}-{factor}.log"):
                args = ["--ports", str(port), "--rate", str(RATE), "--conns", str(CONNS)]
                args += ["--duration", str(seconds * factor), "--warmup", "1"]
                args += ["--workspace", ws, "--key", key, "--mix", mix]
                result = harness.run_loader(loader, args, timeout=seconds * factor + 60)
            if result["errors"]:
                raise RuntimeError(f"{kind}: {result['errors']} writes refused")
            counts.append((total(out), int(result["ok"])))  # type: ignore[call-overload]
    (short, short_ok), (long, long_ok) = counts
    return {"instructions": (long - short) / (long_ok - short_ok), "writes": long_ok - short_ok}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--servers", default="orderlog,reference")
    p.add_argument("--seconds", type=float, default=6.0, help="the shorter counted run")
    p.add_argument("--mix", default="create", choices=["create", "full"])
    p.add_argument("--quick", action="store_true", help="1 s counted runs, one round: a check")
    harness.add_runs_argument(p)
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("bench.instructions needs valgrind (apt-get install valgrind)")
    seconds, runs = (1.0, 1) if args.quick else (args.seconds, args.runs)
    servers = args.servers.split(",")
    mix = args.mix
    if "reference" in servers and mix != "create":
        sys.exit("the reference only creates: --mix create")
    print(harness.preamble(harness.command_line("bench.instructions"), runs))
    loader = harness.build("ingest_load")
    table = harness.Runs()
    with tempfile.TemporaryDirectory(prefix="orderlog-instructions-") as tmp:
        for i in range(runs):
            for kind in servers:
                row = table.measure(
                    kind, functools.partial(measure, kind, mix, seconds, loader, Path(tmp))
                )
                print(
                    f"  run {i + 1} (load before {row['load']:.2f}): {kind}: "
                    f"{row['instructions']:,.0f} instructions per write "
                    f"({row['writes']:.0f} writes counted)",
                    flush=True,
                )
    rows = [
        [kind, mix, runs, table.loads(kind), table.spread(kind, "instructions", 0)]
        for kind in servers
    ]
    headers = ["server", "mix", "runs", "load before", "instructions per write"]
    print(harness.table(headers, rows))
    if "orderlog" in servers and "reference" in servers:
        ratio = table.ratio("orderlog", "reference", "instructions")
        print(f"\norderlog / reference, instructions per create, run by run: {ratio}")


if __name__ == "__main__":
    main()
