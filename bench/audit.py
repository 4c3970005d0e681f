"""Dependency audit: known advisories in what is installed, and the floors in pyproject.toml.

    python -m bench.audit            # pip-audit over the installed environment + the floors
    python -m bench.audit --floors   # only the floors check (no network)

1. ``pip-audit -l --format json`` (the PyPI JSON API's advisory data, or ``--service osv``):
   prints each vulnerable package with its advisories, and how many packages could not be
   audited. If no package could be looked up (no route to the advisory service, as on a
   machine whose PyPI is a local mirror), it says so and exits 2: "nothing found" would be a lie.
2. The floors: every dependency named in ``FLOORS`` must have a ``>=`` minimum in pyproject.toml
   at or above the first release that fixes each advisory listed (sources in the comments).
   Exit 1 if a floor is too low or a vulnerable package is installed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# package -> [(advisory, first fixed release)], from the advisories themselves (GitHub advisory
# database / OSV / the projects' security pages), checked 2026-11.
FLOORS: dict[str, list[tuple[str, str]]] = {
    "starlette": [
        ("GHSA-f96h-pmfr-66vw CVE-2024-47874 multipart DoS", "0.40.0"),
        ("GHSA-2c2j-9gv5-cj73 CVE-2025-54121 multipart rollover blocks the loop", "0.47.2"),
        ("CVE-2025-62727 FileResponse Range header quadratic DoS", "0.49.1"),
        ("GHSA-86qp-5c8j-p5mr CVE-2026-48710 Host header poisons request.url", "1.0.1"),
        ("CVE-2026-48818 StaticFiles UNC paths on Windows", "1.1.0"),
        ("PYSEC-2026-248 request path rebuilds request.url's host", "1.3.0"),
        ("GHSA-82w8-qh3p-5jfq CVE-2026-54283 FormParser limits", "1.3.1"),
        ("GHSA-jp82-jpqv-5vv3 CVE-2026-54282 (distributions ship the fix by 1.6.0)", "1.6.0"),
    ],
    "h11": [
        ("GHSA-vqfr-h8mv-ghfj CVE-2025-43859 chunked-body request smuggling", "0.16.0"),
    ],
}


def version_tuple(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # "0.16" == "0.16.0"


def floors_in_pyproject(path: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """{package: minimum} for every ``name>=X`` runtime dependency."""
    deps = tomllib.loads(path.read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)", dep)
        if match:
            out[match.group(1).lower()] = match.group(2)
    return out


def check_floors(floors: dict[str, str] | None = None) -> list[str]:
    """Problems: a FLOORS package without a floor, or with one below a fixed release."""
    floors = floors_in_pyproject() if floors is None else floors
    problems = []
    for package, advisories in FLOORS.items():
        have = floors.get(package)
        if have is None:
            problems.append(f"{package}: no >= floor in pyproject.toml")
            continue
        for advisory, fixed in advisories:
            if version_tuple(have) < version_tuple(fixed):
                problems.append(f"{package}>={have} admits {advisory} (fixed in {fixed})")
    return problems


def pip_audit(service: str) -> tuple[int, int, list[tuple[str, str, list[str]]], str]:
    """(audited, skipped, [(package, version, advisory ids)], error) for this environment."""
    cmd = [sys.executable, "-m", "pip_audit", "-l", "--format", "json", "--progress-spinner"]
    cmd += ["off", "--vulnerability-service", service]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return 0, 0, [], tail[0][:200]
    audited = skipped = 0
    vulnerable = []
    for dep in report.get("dependencies", []):
        if "skip_reason" in dep:
            skipped += 1
            continue
        audited += 1
        if dep.get("vulns"):
            ids = [v["id"] for v in dep["vulns"]]
            vulnerable.append((dep["name"], dep["version"], ids))
    return audited, skipped, vulnerable, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floors", action="store_true", help="only check pyproject floors")
    parser.add_argument("--service", default="pypi", choices=["pypi", "osv"])
    args = parser.parse_args(argv)
    status = 0
    problems = check_floors()
    floors = floors_in_pyproject()
    print("floors in pyproject.toml against known advisories:")
    for package, advisories in FLOORS.items():
        print(f"  {package}>={floors.get(package, '?')}: {len(advisories)} advisories checked")
    for problem in problems:
        print(f"  PROBLEM {problem}")
        status = 1
    if args.floors:
        return status
    audited, skipped, vulnerable, error = pip_audit(args.service)
    print(f"pip-audit ({args.service}): {audited} packages audited, {skipped} skipped")
    for name, version, ids in vulnerable:
        print(f"  VULNERABLE {name} {version}: {', '.join(ids)}")
        status = 1
    if error or audited == 0:
        print(
            "  the advisory service could not be reached or knew no installed package "
            f"({error or 'every package skipped'}): nothing was verified. Run where "
            "pypi.org (or api.osv.dev with --service osv) is reachable."
        )
        return 2 if status == 0 else status
    return status


if __name__ == "__main__":
    raise SystemExit(main())
