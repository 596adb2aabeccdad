"""Fixtures for the Dagster layer: a project (config file, repositories, store) in tmp_path."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from snake_pipe_core import Store
from snake_pipe_dagster.resources import SnakePipeResource
from tests.conftest import MakeRepo

# Quarantine material: one file per common reason.
BAD_FILES = {
    "bad/truncated.js.ast.json": b'{"type": "Program", "body": [',
    "bad/empty.js.ast.json": b"",
    "bad/list.js.ast.json": b"[1, 2, 3]",
    "bad/unknown.ast.json": b'{"hello": "world"}',
}


@dataclass(frozen=True)
class Project:
    """A snake-pipe project: its config file, repositories folder and store."""

    config: Path
    repos: Path
    store_path: Path
    resource: SnakePipeResource

    @property
    def store(self) -> Store:
        return Store(self.store_path)

    def resources(self) -> dict[str, object]:
        return {"snake_pipe": self.resource}


def write_config(path: Path, body: str = "") -> Path:
    path.write_text(
        'store = "store/snake.duckdb"\nrepo_roots = ["repos"]\nworkers = 1\n' + body,
        encoding="utf-8",
    )
    return path


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
