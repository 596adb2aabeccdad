"""The style the project keeps: ruff (lint and format) on everything, mypy --strict on the
engine. Part of the test run so that CI holds main to it."""

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.unit


def tool(name: str) -> str:
    path = shutil.which(name, path=str(ROOT / ".venv" / "bin")) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (./quickstart.sh test installs it)")
    return path


def run(*cmd: str) -> None:
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{' '.join(cmd)}\n{out.stdout}\n{out.stderr}"


def test_ruff_lint() -> None:
    run(tool("ruff"), "check", ".")


def test_ruff_format() -> None:
    run(tool("ruff"), "format", "--check", ".")


def test_mypy_strict_on_the_engine() -> None:
    run(sys.executable, "-m", "mypy")
