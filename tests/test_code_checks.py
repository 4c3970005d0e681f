"""The code checks CI runs with the suite: the layer contracts (import-linter, pyproject.toml),
ruff's lint and format, and mypy --strict on src/. Each failure prints the tool's own report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_layers_import_only_downwards() -> None:
    """import-linter keeps every contract: cli > app > http > live | ops > store > domain, a
    domain with no I/O, and nothing importing the CLI."""
    result = run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "args", [("check", "."), ("format", "--check", ".")], ids=["lint", "format"]
)
def test_ruff_passes(args: tuple[str, ...]) -> None:
    """ruff's lint rules (pyproject.toml) and its formatting hold for the whole tree."""
    result = run(sys.executable, "-m", "ruff", *args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    """mypy --strict (pyproject.toml) finds nothing in src/."""
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
