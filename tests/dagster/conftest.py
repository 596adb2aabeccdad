"""Fixtures for the Dagster layer: a project (config file, repositories, store) in tmp_path."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from snake_pipe_dagster.resources import SnakePipeResource
from tests.conftest import MakeRepo
from tests.dagster.helpers import BAD_FILES, Project, write_config


@pytest.fixture(autouse=True)
def _no_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SNAKE_PIPE_CONFIG", "SNAKE_PIPE_STORE", "SNAKE_PIPE_WORKERS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(tmp_path: Path, make_repo: MakeRepo) -> Project:
    """Two repositories: ``webapp`` (all valid) and ``mixed`` (valid plus bad files)."""
    make_repo("webapp")
    make_repo("mixed")
    for rel, data in BAD_FILES.items():
        (tmp_path / "repos" / "mixed" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "repos" / "mixed" / rel).write_bytes(data)
    config = write_config(tmp_path / "snake_pipe.toml")
    return Project(
        config=config,
        repos=tmp_path / "repos",
        store_path=tmp_path / "store" / "snake.duckdb",
        resource=SnakePipeResource(config_file=str(config)),
    )


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst
