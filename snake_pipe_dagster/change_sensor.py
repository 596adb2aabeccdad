"""``ast_change_sensor``: the change journal's consumer, as Dagster runs.

The engine decides (:class:`snake_pipe_core.journal.JournalConsumer`: the lease, the cursor,
loss detection, planning, retries, compaction; ``keep_watcher_alive``: one watcher process on
the host). This module keeps what is Dagster's: each planned work becomes a run request of
``incremental_ast_job`` with the consumer's run key, tags and partition; what became of
earlier runs is read back by run key; the cursor lives in Dagster's cursor storage. One run
per repository at a time comes from the run queue (``dagster/partition``, limit 1 per value,
in ``dagster.yaml``). A repository the mass-delete guard has just refused also gets a run of
``ast_metadata``'s ``hashes_match_disk_check`` alone, so that the refusal shows as a failing check.

A tick with nothing to launch listens for up to ``$SNAKE_PIPE_CHANGE_WAIT_S`` (default 4 s):
the daemon evaluates a sensor at most every 5 s, so without it a change would wait 2.5 s on
average before its run is even requested. Off by default: turned on, it starts a long-lived
watcher on the machine (``snake-pipe watch --stop`` stops it).
"""

import os
from collections.abc import Mapping, Sequence

import dagster as dg

from snake_pipe_core.journal import ConsumerState, JournalConsumer, Outcome, Work, open_journal

from .assets import INGEST_STEP, IngestConfig
from .checks import CHECKED_ASSET, MATCHES_DISK_CHECK
from .errors import engine_errors
from .jobs import INCREMENTAL_PRIORITY, PRIORITY_TAG, RECONCILIATION_PRIORITY, incremental_ast_job
from .partitions import REPO_PARTITIONS_NAME, repo_partitions
from .resources import SnakePipeResource

__all__ = ["ast_change_sensor", "change_interval_seconds", "change_wait_seconds", "run_outcomes"]

CONSUMER = "dagster:ast_change_sensor"  # the name it holds the journal's lease under
CHANGE_INTERVAL_ENV = "SNAKE_PIPE_CHANGE_INTERVAL_S"
CHANGE_WAIT_ENV = "SNAKE_PIPE_CHANGE_WAIT_S"
RUN_KEY_TAG = "dagster/run_key"
TRIGGER_TAG = "snake_pipe/trigger"
JOURNAL_TAG = "snake_pipe/journal_records"
TRY_TAG = "snake_pipe/try"  # 1 for the first try of a piece of work
_OUTCOMES: Mapping[dg.DagsterRunStatus, Outcome] = {
    dg.DagsterRunStatus.SUCCESS: "succeeded",
    dg.DagsterRunStatus.FAILURE: "failed",
    dg.DagsterRunStatus.CANCELED: "failed",
}


def change_interval_seconds(env: Mapping[str, str] | None = None) -> int:
    """The sensor's minimum interval: ``$SNAKE_PIPE_CHANGE_INTERVAL_S``, default 2 s."""
    raw = (os.environ if env is None else env).get(CHANGE_INTERVAL_ENV, "").strip() or "2"
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(
            f"{CHANGE_INTERVAL_ENV} must be a whole number of seconds >= 1, got {raw!r}"
        )
    return int(raw)


def change_wait_seconds(env: Mapping[str, str] | None = None) -> float:
    """How long a tick with nothing to launch waits for news: ``$SNAKE_PIPE_CHANGE_WAIT_S``,
    default 4 s, at most 30 s (inside the daemon's timeout); 0 answers at once."""
    raw = (os.environ if env is None else env).get(CHANGE_WAIT_ENV, "").strip() or "4"
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 30:
        raise ValueError(f"{CHANGE_WAIT_ENV} must be seconds in [0, 30], got {raw!r}")
    return seconds


def run_outcomes(instance: dg.DagsterInstance, keys: Sequence[str]) -> dict[str, Outcome]:
    """What became of the runs requested under these run keys (unknown keys left out)."""
    records = instance.get_run_records(filters=dg.RunsFilter(tags={RUN_KEY_TAG: list(keys)}))
    return {
        r.dagster_run.tags[RUN_KEY_TAG]: _OUTCOMES.get(r.dagster_run.status, "pending")
        for r in records
    }


def _run_request(work: Work) -> dg.RunRequest:
    paths = None if work.paths is None else list(work.paths)
    config = IngestConfig(mode="incremental", paths=paths, allow_mass_delete=work.confirmed)
    priority = INCREMENTAL_PRIORITY if paths is not None else RECONCILIATION_PRIORITY
    records = "none" if work.first_seq is None else f"#{work.first_seq}-#{work.last_seq}"
    return dg.RunRequest(
        run_key=work.key,
        partition_key=work.repo,
        run_config=dg.RunConfig(ops={INGEST_STEP: config}),
        tags={
            PRIORITY_TAG: str(priority),
            TRIGGER_TAG: "watcher",
            JOURNAL_TAG: records,
            TRY_TAG: str(work.attempt + 1),
        },
    )


def _refusal_check_request(repo: str, state: ConsumerState) -> dg.RunRequest:
    """A run of the refusal check alone (the failed run's own checks never ran)."""
    return dg.RunRequest(
        run_key=f"{state.key_prefix(repo)}:refused-{state.repo(repo).retry_at}",  # one a try
        partition_key=repo,
        asset_selection=[],
        asset_check_keys=[dg.AssetCheckKey(CHECKED_ASSET, MATCHES_DISK_CHECK)],
        tags={TRIGGER_TAG: "watcher"},
    )


@dg.sensor(
    name="ast_change_sensor",
    job=incremental_ast_job,
    minimum_interval_seconds=change_interval_seconds(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Keeps a file watcher (`snake-pipe watch`) running and turns the changes it "
    "records into one incremental run per repository, within seconds, and again until each "
    "has succeeded. Off by default: it starts a background process on this machine, and must "
    "be the change journal's only consumer (not with `snake-pipe watch --ingest`).",
)
def ast_change_sensor(
    context: dg.SensorEvaluationContext, snake_pipe: SnakePipeResource
) -> dg.SensorResult:
    """Run requests for the journal consumer's plan; its cursor in Dagster's storage."""
    from snake_pipe_core.watch.service import keep_watcher_alive  # fcntl: not at import time

    with engine_errors():
        settings = snake_pipe.settings()
        if not settings.repositories():
            return dg.SensorResult(skip_reason="no repository is configured: nothing to watch")
        journal = open_journal(settings)
    with journal:
        consumer = JournalConsumer(journal, settings, name=CONSUMER)
        if (other := consumer.claim()) is not None:
            return dg.SensorResult(
                skip_reason=f"the journal {journal.where} is consumed by {other}: stop it, or "
                "turn this sensor off; one consumer at a time"
            )

        def supervise(state: ConsumerState) -> ConsumerState:
            state, message = keep_watcher_alive(settings, journal, state)
            if message:
                context.log.info(message)
            return state

        plan = consumer.next(
            context.cursor,
            lambda keys: run_outcomes(context.instance, keys),
            wait_s=change_wait_seconds(),
            supervise=supervise,
        )
    if plan.lost:
        context.log.warning(f"{plan.lost}: every repository is diffed whole")
    for line in plan.learned:
        context.log.info(line)
    for repo, why in plan.dropped.items():
        context.log.warning(f"{repo}: changes in the journal skipped, {why}")
    waiting = "; ".join(f"{repo}: {why}" for repo, why in plan.waiting.items())
    requests = [_run_request(w) for w in plan.work]
    requests += [_refusal_check_request(repo, plan.state) for repo in plan.refused]
    if not requests:
        return dg.SensorResult(
            skip_reason=f"no new change (journal at #{plan.head})"
            + (f"; waiting: {waiting}" if waiting else ""),
            cursor=plan.state.dumps(),
        )
    if plan.work:
        context.log.info(f"runs for {', '.join(w.describe() for w in plan.work)}")
    have = set(context.instance.get_dynamic_partitions(REPO_PARTITIONS_NAME))
    new = sorted({r.partition_key for r in requests if r.partition_key} - have)
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[repo_partitions.build_add_request(new)] if new else None,
        cursor=plan.state.dumps(),
    )
