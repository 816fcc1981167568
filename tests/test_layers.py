"""Code hygiene: imports follow the data flow (import-linter); ruff finds nothing to fix;
mypy --strict (configured in pyproject.toml) finds no type error in the package."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One of the test extra's tools, run on the checkout; it must exit 0."""
    tool = Path(sys.executable).with_name(name)
    if not tool.exists():
        pytest.fail(f"{name} is missing: install the test extra (pip install -e '.[test]')")
    out = subprocess.run([str(tool), *args], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_data_flows_one_way() -> None:
    out = run_tool("lint-imports")
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert f"{len(contracts['contracts'])} kept, 0 broken" in out.stdout


def test_ruff_is_clean() -> None:
    run_tool("ruff", "check", ".")
    run_tool("ruff", "format", "--check", ".")


def test_mypy_strict_is_clean() -> None:
    assert "Success: no issues found" in run_tool("mypy").stdout
