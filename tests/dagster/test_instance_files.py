"""dagster.yaml and workspace.yaml: valid for the installed Dagster, and saying what we mean.

A key Dagster does not know makes ``dagster dev`` refuse to start, so the file is loaded here
through Dagster's own schema rather than read as plain YAML.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import TickStatus

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def instance_from_project_yaml(tmp_path: Path):
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        yield instance
    finally:
        instance.dispose()


def test_dagster_yaml_is_valid_and_tuned(instance_from_project_yaml: dg.DagsterInstance) -> None:
    instance = instance_from_project_yaml
    coordinator = instance.run_coordinator
    assert type(coordinator).__name__ == "QueuedRunCoordinator"
    assert coordinator.dequeue_interval_seconds == 1
    queue = coordinator.get_run_queue_config()
    assert 2 <= queue.max_concurrent_runs <= 4  # 2 cores; each run is a process
    limits = {(t["key"], str(t.get("value"))): t["limit"] for t in queue.tag_concurrency_limits}
    # A backfill leaves a slot for incremental runs; so does the nightly full re-analysis.
    assert limits[("dagster/backfill", "None")] < queue.max_concurrent_runs
    assert limits[("snake_pipe/mode", "full")] < queue.max_concurrent_runs
    assert limits[("dagster/backfill", "None")] >= 2  # backfills do run in parallel

    assert instance.get_sensor_settings()["use_threads"] is True
    assert instance.get_settings("schedules")["use_threads"] is True
    retention = instance.get_tick_retention_settings(InstigatorType.SENSOR)
    assert retention[TickStatus.SKIPPED] == 1
    assert retention[TickStatus.SUCCESS] > 1

    assert "snake_pipe_core" in instance.managed_python_loggers
    assert instance.python_log_level == "INFO"
    assert instance.get_settings("telemetry") == {"enabled": False}


def test_the_mode_tag_of_the_concurrency_limit_is_the_one_jobs_set() -> None:
    from snake_pipe_dagster.jobs import MODE_TAG, full_reanalysis_job

    settings = yaml.safe_load((ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    limits = settings["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert {"key": MODE_TAG, "value": "full", "limit": 2} in limits
    assert full_reanalysis_job.tags[MODE_TAG] == "full"


def test_workspace_yaml_has_one_entry_that_dagster_loads(tmp_path: Path) -> None:
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text(encoding="utf-8"))
    [entry] = workspace["load_from"]
    assert entry["python_module"]["module_name"] == "snake_pipe_dagster.definitions"
    assert entry["python_module"]["attribute"] == "defs"

    # The CLI loads the workspace as `dagster dev` would, with the project's dagster.yaml.
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Validation successful for code location snake_pipe" in done.stdout + done.stderr
