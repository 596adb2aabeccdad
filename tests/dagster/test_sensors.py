"""repo_discovery_sensor on a real instance: partitions follow the configured repositories."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from snake_pipe_core import slugify
from snake_pipe_dagster import sensors
from snake_pipe_dagster.partitions import REPO_PARTITIONS_NAME
from snake_pipe_dagster.resources import SnakePipeResource
from snake_pipe_dagster.sensors import (
    CHUNK_SIZE,
    DISCOVERY_INTERVAL_ENV,
    discovery_interval_seconds,
    plan_partitions,
    repo_discovery_sensor,
)
from tests.dagster.helpers import Project, materialize_repo, write_config

pytestmark = pytest.mark.integration


def tick(project_or_resource: Project | SnakePipeResource, instance: dg.DagsterInstance):
    """One sensor evaluation, as the daemon does it (the cursor is unused: the instance's
    partitions are the state)."""
    resource = (
        project_or_resource.resource
        if isinstance(project_or_resource, Project)
        else project_or_resource
    )
    context = dg.build_sensor_context(
        instance=instance, cursor=None, resources={"snake_pipe": resource}
    )
    return repo_discovery_sensor(context)


def apply(result: dg.SensorResult, instance: dg.DagsterInstance) -> None:
    """Apply the partition requests the way the daemon does, one request after another."""
    for request in result.dynamic_partitions_requests or []:
        assert request.partitions_def_name == REPO_PARTITIONS_NAME
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(REPO_PARTITIONS_NAME, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(REPO_PARTITIONS_NAME, key)


def partitions(instance: dg.DagsterInstance) -> set[str]:
    return set(instance.get_dynamic_partitions(REPO_PARTITIONS_NAME))


def many_repos(root: Path, n: int) -> list[str]:
    """``n`` tiny repository folders (one small AST file each); returns their slugs."""
    names = [f"Service {i:04d}" for i in range(n)]  # spaces and capitals: slugs differ
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "main.py.ast.json").write_bytes(b'{"_type": "Module", "body": []}')
    return sorted(slugify(name) for name in names)


def test_thousands_of_repositories_are_added_in_chunks(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    slugs = many_repos(tmp_path / "repos", 2500)
    resource = SnakePipeResource(config_file=str(write_config(tmp_path / "snake_pipe.toml")))

    result = tick(resource, instance)

    assert isinstance(result, dg.SensorResult)
    requests = result.dynamic_partitions_requests
    assert requests is not None
    assert len(requests) == 5
    assert all(isinstance(r, dg.AddDynamicPartitionsRequest) for r in requests)
    assert all(len(r.partition_keys) <= CHUNK_SIZE for r in requests)
    added = [key for r in requests for key in r.partition_keys]
    assert added == slugs  # each once, in order, ASCII slugs rather than folder names
    assert "service-0042" in added
    assert not result.run_requests  # discovery only: the sensor launches nothing

    apply(result, instance)
    assert partitions(instance) == set(slugs)
    # The next tick has nothing to do.
    again = tick(resource, instance)
    assert isinstance(again, dg.SkipReason)
    assert "2500 configured repositories" in (again.skip_message or "")


def test_a_tick_is_bounded_and_the_rest_waits_for_the_next_tick() -> None:
    configured = [f"r{i:05d}" for i in range(12_000)]
    first = plan_partitions(configured, [], max_changes=5000)
    assert len(first.add) == 5000 and first.deferred == 7000
    second = plan_partitions(configured, first.add, max_changes=5000)
    assert second.add == configured[5000:10_000] and second.deferred == 2000


def test_new_repository_is_added_and_removed_one_retired_with_its_history_kept(
    project: Project, instance: dg.DagsterInstance
) -> None:
    apply(tick(project, instance), instance)
    assert partitions(instance) == {"webapp", "mixed"}
    materialize_repo(project, instance, "webapp")
    materialize_repo(project, instance, "mixed")
    rows_before = project.store.query("SELECT repo, path, state FROM manifest ORDER BY repo, path")

    # One repository is removed from disk, another appears.
    shutil.rmtree(project.repos / "webapp")
    (project.repos / "New Repo").mkdir()
    result = tick(project, instance)

    assert isinstance(result, dg.SensorResult)
    kinds = {type(r).__name__: list(r.partition_keys) for r in result.dynamic_partitions_requests}
    assert kinds == {
        "AddDynamicPartitionsRequest": ["new-repo"],
        "DeleteDynamicPartitionsRequest": ["webapp"],
    }
    apply(result, instance)
    assert partitions(instance) == {"mixed", "new-repo"}

    # History stays: the store keeps every row of the retired repository (the sensor never
    # opens it), and Dagster keeps the partition's materializations.
    assert (
        project.store.query("SELECT repo, path, state FROM manifest ORDER BY repo, path")
        == rows_before
    )
    assert project.store.query("SELECT count(*) FROM ast_files WHERE repo = 'webapp'")[0][0] > 0
    event = instance.get_latest_materialization_event(dg.AssetKey("ast_manifest"))
    assert event is not None
    statuses = instance.get_materialized_partitions(dg.AssetKey("ast_manifest"))
    assert statuses >= {"webapp", "mixed"}


def test_retirement_is_held_back_while_a_root_is_missing(
    project: Project, instance: dg.DagsterInstance, capfd: pytest.CaptureFixture[str]
) -> None:
    apply(tick(project, instance), instance)
    instance.add_dynamic_partitions(REPO_PARTITIONS_NAME, ["on-the-usb-disk"])
    # A second root that is not mounted: its repositories look removed, but are not.
    project.config.write_text(
        'store = "store/snake.duckdb"\nrepo_roots = ["repos", "usb"]\nworkers = 1\n',
        encoding="utf-8",
    )
    (project.repos / "fresh").mkdir()

    result = tick(project, instance)
    logged = capfd.readouterr().err  # context.log writes to stderr

    assert isinstance(result, dg.SensorResult)
    requests = result.dynamic_partitions_requests or []
    assert [type(r).__name__ for r in requests] == ["AddDynamicPartitionsRequest"]
    assert list(requests[0].partition_keys) == ["fresh"]  # adding goes on
    apply(result, instance)
    assert "on-the-usb-disk" in partitions(instance)
    assert "WARNING - not retiring 1 partition(s) (on-the-usb-disk" in logged
    assert str(project.config.parent / "usb") in logged

    # With nothing to add, the tick skips and says why the retirement waits.
    skipped = tick(project, instance)
    assert isinstance(skipped, dg.SkipReason)
    assert "repository root(s) missing" in (skipped.skip_message or "")
    assert "on-the-usb-disk" in partitions(instance)

    # Once the disk is back (and the repository really gone), it is retired.
    (project.config.parent / "usb").mkdir()
    result = tick(project, instance)
    assert isinstance(result, dg.SensorResult)
    [request] = result.dynamic_partitions_requests
    assert isinstance(request, dg.DeleteDynamicPartitionsRequest)
    assert list(request.partition_keys) == ["on-the-usb-disk"]


def test_mass_retirement_is_held_back(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    slugs = many_repos(tmp_path / "repos", 30)
    resource = SnakePipeResource(config_file=str(write_config(tmp_path / "snake_pipe.toml")))
    apply(tick(resource, instance), instance)
    for name in sorted((tmp_path / "repos").iterdir())[:20]:
        shutil.rmtree(name)

    result = tick(resource, instance)

    assert isinstance(result, dg.SkipReason)
    assert "20 of 30 repositories left the configuration" in (result.skip_message or "")
    assert partitions(instance) == set(slugs)


def test_a_broken_config_fails_the_tick_with_the_key_named(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    config = tmp_path / "snake_pipe.toml"
    config.write_text('store = "s.duckdb"\nworkers = "many"\n', encoding="utf-8")
    with pytest.raises(dg.Failure, match="workers"):
        tick(SnakePipeResource(config_file=str(config)), instance)


def test_the_interval_comes_from_the_environment() -> None:
    assert discovery_interval_seconds({}) == 30
    assert discovery_interval_seconds({DISCOVERY_INTERVAL_ENV: "5"}) == 5
    for bad in ("0", "soon", "-3"):
        with pytest.raises(ValueError, match=DISCOVERY_INTERVAL_ENV):
            discovery_interval_seconds({DISCOVERY_INTERVAL_ENV: bad})
    assert repo_discovery_sensor.minimum_interval_seconds == discovery_interval_seconds()
    assert sensors.repo_discovery_sensor.default_status == dg.DefaultSensorStatus.RUNNING
