"""Helpers of the Dagster tests, importable as ``tests.dagster.helpers`` (pytest imports
conftest modules under a name of its own, so test modules import from here)."""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from snake_pipe_core import Store
from snake_pipe_dagster.assets import ast_ingest
from snake_pipe_dagster.checks import ast_checks
from snake_pipe_dagster.partitions import REPO_PARTITIONS_NAME
from snake_pipe_dagster.resources import SnakePipeResource

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


def materialize_repo(
    project: Project,
    instance: dg.DagsterInstance,
    repo: str,
    *,
    run_config: dict[str, object] | None = None,
    checks_only: bool = False,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """Materialize one repository partition (the three assets and their checks), or run only
    the checks, on a real instance and the project's DuckDB file."""
    if repo not in instance.get_dynamic_partitions(REPO_PARTITIONS_NAME):
        instance.add_dynamic_partitions(REPO_PARTITIONS_NAME, [repo])
    if checks_only:
        # ``partition_key=`` wants a selected asset to take the partitions from; a run of
        # checks alone carries the partition as a tag, as one launched from the UI does.
        return dg.materialize(
            [ast_ingest, *ast_checks],
            selection=dg.AssetSelection.checks(*ast_checks),
            tags={"dagster/partition": repo},
            resources=project.resources(),
            instance=instance,
            raise_on_error=raise_on_error,
        )
    return dg.materialize(
        [ast_ingest, *ast_checks],
        partition_key=repo,
        resources=project.resources(),
        instance=instance,
        run_config=run_config,
        raise_on_error=raise_on_error,
    )
