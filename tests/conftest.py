import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from snake_pipe_core import Settings, Store, load_settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.fixtures and bench are importable
SHARED_SAMPLES = ROOT.parent / "shared" / "samples"

from tests.fixtures.asts import mixed_repo  # noqa: E402
from tests.services import Postgres, postgres_bin, postgres_server  # noqa: E402

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


def needs_services(*programs: str) -> None:
    """Skip, or under ``SNAKE_PIPE_REQUIRE_SERVICES`` (CI) fail, when a server is missing."""
    missing = [p for p in programs if (postgres_bin() if p == "postgres" else shutil.which(p))
               is None]  # fmt: skip
    if missing:
        message = f"needs {', '.join(missing)} from Debian's packages (.ci/run installs them)"
        if os.environ.get("SNAKE_PIPE_REQUIRE_SERVICES"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL server for the session; a test makes a database of its own."""
    needs_services("postgres")
    with postgres_server() as pg:
        yield pg


@pytest.fixture
def postgres_dsn(postgres: Postgres, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the session's server, as a libpq connection string."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    postgres.psql(f'DROP DATABASE IF EXISTS "{name}"')
    return postgres.dsn(postgres.create_database(name))


def pytest_report_header() -> str:
    return f"snake-pipe tests; shared samples: {'yes' if SHARED_SAMPLES.is_dir() else 'no'}"


os.environ.setdefault("DAGSTER_TELEMETRY_DISABLED", "1")
