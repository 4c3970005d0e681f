"""The dependency floors in pyproject.toml exclude every release with a known advisory
(bench/audit.py holds the list; `python -m bench.audit` also runs pip-audit: needs network)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_audit() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "audit.py"
    spec = importlib.util.spec_from_file_location("bench_audit", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_audit_floors_exclude_known_vulnerable_releases() -> None:
    """starlette and h11 floors are at or above every advisory's fixed release."""
    audit = load_audit()
    floors = audit.floors_in_pyproject()
    print(f"\nfloors: starlette>={floors['starlette']}, h11>={floors['h11']}")
    assert audit.check_floors() == []


def test_audit_floor_check_catches_a_low_floor() -> None:
    """The check itself fails on the floors the project had before (and on a missing one)."""
    audit = load_audit()
    problems = audit.check_floors({"starlette": "0.47.2", "h11": "0.14"})
    assert any("GHSA-86qp-5c8j-p5mr" in p for p in problems)
    assert any("GHSA-vqfr-h8mv-ghfj" in p for p in problems)
    assert audit.check_floors({"starlette": "1.6"}) == ["h11: no >= floor in pyproject.toml"]
