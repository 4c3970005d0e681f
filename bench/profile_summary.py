"""Summarise py-spy's folded stacks: the functions and files that hold the most samples.

From ``bench.live``/``bench.ingest --profile DIR``: functions inclusive and by own line, and own
samples by source file (where a layer's cost shows: a middleware module, redis-py's connection,
logging).

    python -m bench.profile_summary DIR/orderlog-1000-100.folded [--top 25]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FILE = re.compile(r"\(([^():]*)(?::\d+)?\)$")
PREFIXES = re.compile(r"\((?:/[^()]*?/site-packages/|/[^()]*?/src/|/usr/local/lib/python3\.\d+/)")


def short(frame: str) -> str:
    return PREFIXES.sub("(", frame)


def summarise(path: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    files: Counter[str] = Counter()
    total = 0
    # one stack per \n-ended line (splitlines would also cut at \x1c-\x1e or \u2028 in a frame)
    for line in path.read_text().split("\n"):
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [short(f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
        match = FILE.search(frames[-1])
        files[match[1] if match else "(native: uvloop, C extensions)"] += n
    out = [f"{path.name}: {total} samples", "inclusive:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    out.append("own line:")
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    out.append("own samples by file:")
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in files.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folded", type=Path, nargs="+")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    for path in args.folded:
        print(summarise(path, args.top))


if __name__ == "__main__":
    main()
