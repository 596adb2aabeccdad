"""The nightly full re-analysis: one run per repository, queued behind incremental runs."""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from .jobs import FULL_PRIORITY, PRIORITY_TAG, full_reanalysis_job
from .partitions import REPO_PARTITIONS_NAME

__all__ = ["nightly_full_reanalysis_schedule"]


@dg.schedule(
    name="nightly_full_reanalysis_schedule",
    job=full_reanalysis_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every night at 02:00 UTC, a full re-analysis of every repository partition, "
    "at a lower priority than incremental runs. Off by default: turn it on in the UI.",
)
def nightly_full_reanalysis_schedule(
    context: dg.ScheduleEvaluationContext,
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """One run request per repository. Run keys carry the date, so a re-evaluated tick never
    queues a repository twice in one night, and the next night queues it again."""
    when = context.scheduled_execution_time or datetime.now(UTC)
    day = when.strftime("%Y-%m-%d")
    repos = context.instance.get_dynamic_partitions(REPO_PARTITIONS_NAME)
    if not repos:
        yield dg.SkipReason("no repository partitions yet: repo_discovery_sensor adds them")
        return
    for repo in repos:
        yield dg.RunRequest(
            run_key=f"full-{day}-{repo}",
            partition_key=repo,
            tags={PRIORITY_TAG: str(FULL_PRIORITY)},
        )
