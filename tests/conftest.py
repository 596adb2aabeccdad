import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from snake_pipe_core import Settings, Store, load_settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.fixtures and bench are importable
SHARED_SAMPLES = ROOT.parent / "shared" / "samples"

from tests.fixtures.asts import mixed_repo  # noqa: E402

MakeRepo = Callable[..., Path]


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """Write a repository of AST files: ``make_repo("name", {relpath: bytes})``; without
    files, a small mixed repository of every format."""

    def make(name: str = "repo", files: dict[str, bytes] | None = None) -> Path:
        root = tmp_path / "repos" / name
        root.mkdir(parents=True, exist_ok=True)
        for rel, data in (mixed_repo() if files is None else files).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return root

    return make


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A real DuckDB file in tmp_path."""
    return Store(tmp_path / "store" / "snake.duckdb")


@pytest.fixture
def settings(store: Store) -> Settings:
    # Inline analysis keeps unit tests fast; pool tests pass workers explicitly.
    return load_settings(env={}, store=store.path, workers=1)


def pytest_report_header() -> str:
    return f"snake-pipe tests; shared samples: {'yes' if SHARED_SAMPLES.is_dir() else 'no'}"


os.environ.setdefault("DAGSTER_TELEMETRY_DISABLED", "1")
