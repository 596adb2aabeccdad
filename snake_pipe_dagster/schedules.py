"""Schedules: the hourly reconciliation and the nightly full re-analysis, one run per repository.

- ``hourly_reconciliation_schedule``: an incremental run of every repository with no paths,
  i.e. a whole-repository diff that only stats files and reads the changed ones. It covers
  whatever happened while neither the watcher nor Dagster was running (and anything a file
  system's notifications never reported), at a priority between ``ast_change_sensor``'s runs
  and the full re-analysis.
- ``nightly_full_reanalysis_schedule``: re-reads, re-hashes and re-parses everything, queued
  behind incremental runs;
- ``nightly_store_maintenance_schedule``: the store's maintenance, queued behind the night's
  full re-analysis; on by default.

The first two are off by default (turn them on in the UI): they launch runs nobody asked for.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from .jobs import (
    FULL_PRIORITY,
    PRIORITY_TAG,
    RECONCILIATION_PRIORITY,
    full_reanalysis_job,
    incremental_ast_job,
    store_maintenance_job,
)
from .partitions import REPO_PARTITIONS_NAME

__all__ = [
    "hourly_reconciliation_schedule",
    "nightly_full_reanalysis_schedule",
    "nightly_store_maintenance_schedule",
]

_NO_PARTITIONS = "no repository partitions yet: repo_discovery_sensor adds them"


def _execution_time(context: dg.ScheduleEvaluationContext) -> datetime:
    return context.scheduled_execution_time or datetime.now(UTC)


@dg.schedule(
    name="hourly_reconciliation_schedule",
    job=incremental_ast_job,
    cron_schedule="7 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every hour (at :07), a whole-repository incremental diff of every repository "
    "partition: it catches what happened while no watcher or Dagster was running. Cheap (stat "
    "only, plus the files that changed). Off by default: turn it on with ast_change_sensor.",
)
def hourly_reconciliation_schedule(
    context: dg.ScheduleEvaluationContext,
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """One run request per repository, with the job's default config (no paths: the whole
    repository). Run keys carry the hour, so a re-evaluated tick queues nothing twice."""
    hour = _execution_time(context).astimezone(UTC).strftime("%Y-%m-%dT%H")
    yield from _per_repository(
        context,
        f"reconcile-{hour}",
        {PRIORITY_TAG: str(RECONCILIATION_PRIORITY), "snake_pipe/trigger": "reconciliation"},
    )


@dg.schedule(
    name="nightly_full_reanalysis_schedule",
    job=full_reanalysis_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every night at 02:00 UTC, a full re-analysis of every repository partition, "
    "at a lower priority than incremental runs, then the store's maintenance. Off by "
    "default: turn it on in the UI.",
)
def nightly_full_reanalysis_schedule(
    context: dg.ScheduleEvaluationContext,
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """One run request per repository. Run keys carry the date, so a re-evaluated tick never
    queues a repository twice in one night, and the next night queues it again."""
    day = _execution_time(context).astimezone(UTC).strftime("%Y-%m-%d")
    yield from _per_repository(context, f"full-{day}", {PRIORITY_TAG: str(FULL_PRIORITY)})


@dg.schedule(
    name="nightly_store_maintenance_schedule",
    job=store_maintenance_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night at 02:30 UTC, the store's maintenance: small files merged, "
    "old snapshots expired, files no snapshot needs deleted. It queues behind the night's "
    "full re-analysis (a lower priority). On by default: it launches no analysis, and a "
    "store that takes many small commits needs it.",
)
def nightly_store_maintenance_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """One maintenance run a night (run key by date)."""
    day = _execution_time(context).astimezone(UTC).strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"maintain-{day}")


def _per_repository(
    context: dg.ScheduleEvaluationContext, run_key_prefix: str, tags: dict[str, str]
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """One run request per repository partition, run key ``<prefix>-<repo>``."""
    repos = context.instance.get_dynamic_partitions(REPO_PARTITIONS_NAME)
    if not repos:
        yield dg.SkipReason(_NO_PARTITIONS)
        return
    for repo in repos:
        yield dg.RunRequest(run_key=f"{run_key_prefix}-{repo}", partition_key=repo, tags=dict(tags))
