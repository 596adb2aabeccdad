"""The schedules on a real instance: one run request per repository, with dated run keys."""

from datetime import UTC, datetime

import dagster as dg
import pytest

from snake_pipe_dagster.definitions import defs
from snake_pipe_dagster.jobs import (
    FULL_PRIORITY,
    INCREMENTAL_PRIORITY,
    PRIORITY_TAG,
    RECONCILIATION_PRIORITY,
)
from snake_pipe_dagster.partitions import REPO_PARTITIONS_NAME
from snake_pipe_dagster.schedules import (
    hourly_reconciliation_schedule,
    nightly_full_reanalysis_schedule,
)

pytestmark = pytest.mark.integration

NIGHT = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)


def evaluate(
    instance: dg.DagsterInstance,
    when: datetime,
    schedule: dg.ScheduleDefinition = nightly_full_reanalysis_schedule,
):  # -> ScheduleExecutionData
    """Evaluate a tick as the daemon does: through the schedule definition, which also
    checks each run request's partition key against the job's partitions."""
    context = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=when,
        repository_def=defs.get_repository_def(),
    )
    return schedule.evaluate_tick(context)


def test_one_dated_run_request_per_repository(instance: dg.DagsterInstance) -> None:
    repos = [f"repo-{i:03d}" for i in range(120)]
    instance.add_dynamic_partitions(REPO_PARTITIONS_NAME, repos)

    data = evaluate(instance, NIGHT)

    requests = data.run_requests or []
    assert sorted(r.partition_key for r in requests) == repos
    assert {r.run_key for r in requests} == {f"full-2025-03-04-{repo}" for repo in repos}
    for request in requests:
        assert request.tags[PRIORITY_TAG] == str(FULL_PRIORITY)
        assert request.job_name in (None, "full_reanalysis_job")
    # The next night asks again, under new run keys.
    next_night = evaluate(instance, NIGHT.replace(day=5)).run_requests or []
    assert {r.run_key for r in next_night} == {f"full-2025-03-05-{repo}" for repo in repos}


def test_full_runs_queue_behind_incremental_runs() -> None:
    repo = defs.get_repository_def()
    incremental = repo.get_job("incremental_ast_job")
    full = repo.get_job(nightly_full_reanalysis_schedule.job_name)
    assert full.name == "full_reanalysis_job"
    assert int(full.tags[PRIORITY_TAG]) == FULL_PRIORITY
    assert int(incremental.tags[PRIORITY_TAG]) == INCREMENTAL_PRIORITY
    # UI backfills run at the default priority 0: between the two.
    assert FULL_PRIORITY < 0 < INCREMENTAL_PRIORITY
    config = full.get_run_config_for_partition_key("repo-000")
    assert config["ops"]["ast_ingest"]["config"]["mode"] == "full"


def test_without_partitions_the_tick_skips(instance: dg.DagsterInstance) -> None:
    data = evaluate(instance, NIGHT)
    assert not data.run_requests
    assert "repo_discovery_sensor" in (data.skip_message or "")


def test_schedule_is_nightly_and_off_by_default() -> None:
    assert nightly_full_reanalysis_schedule.cron_schedule == "0 2 * * *"
    assert nightly_full_reanalysis_schedule.execution_timezone == "UTC"
    assert nightly_full_reanalysis_schedule.default_status == dg.DefaultScheduleStatus.STOPPED


HOUR = datetime(2025, 3, 4, 13, 7, tzinfo=UTC)


def test_hourly_reconciliation_diffs_every_repository_whole(
    instance: dg.DagsterInstance,
) -> None:
    repos = [f"repo-{i:03d}" for i in range(50)]
    instance.add_dynamic_partitions(REPO_PARTITIONS_NAME, repos)

    data = evaluate(instance, HOUR, hourly_reconciliation_schedule)

    requests = data.run_requests or []
    assert sorted(r.partition_key for r in requests) == repos
    assert {r.run_key for r in requests} == {f"reconcile-2025-03-04T13-{r}" for r in repos}
    for request in requests:
        assert request.job_name in (None, "incremental_ast_job")
        assert request.tags[PRIORITY_TAG] == str(RECONCILIATION_PRIORITY)
        assert request.tags["snake_pipe/trigger"] == "reconciliation"
        config = request.run_config["ops"]["ast_ingest"]["config"]
        assert config["mode"] == "incremental"
        assert config.get("paths") is None  # the whole repository: a stat-only diff
    # The next hour asks again; the same hour evaluated again asks under the same keys.
    later = evaluate(instance, HOUR.replace(hour=14), hourly_reconciliation_schedule)
    assert {r.run_key for r in later.run_requests} == {
        f"reconcile-2025-03-04T14-{r}" for r in repos
    }
    again = evaluate(instance, HOUR.replace(minute=8), hourly_reconciliation_schedule)
    assert {r.run_key for r in again.run_requests} == {r.run_key for r in requests}


def test_reconciliation_sits_between_watcher_runs_and_full_reanalysis() -> None:
    assert FULL_PRIORITY < RECONCILIATION_PRIORITY < INCREMENTAL_PRIORITY
    assert hourly_reconciliation_schedule.job_name == "incremental_ast_job"
    assert hourly_reconciliation_schedule.cron_schedule == "7 * * * *"
    assert hourly_reconciliation_schedule.execution_timezone == "UTC"
    assert hourly_reconciliation_schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_reconciliation_without_partitions_skips(instance: dg.DagsterInstance) -> None:
    data = evaluate(instance, HOUR, hourly_reconciliation_schedule)
    assert not data.run_requests
    assert "repo_discovery_sensor" in (data.skip_message or "")
