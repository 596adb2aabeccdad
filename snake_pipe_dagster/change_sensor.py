"""``ast_change_sensor``: what the file watcher records becomes incremental runs in seconds.

Each tick it

1. keeps one watcher alive on the host: a missing or stale heartbeat in the change journal
   starts ``snake-pipe watch`` as a detached process (its lock makes a second one exit at
   once). The watcher never runs inside the code server, which reloads, nor in run workers;
2. compacts the journal up to the cursor of the previous tick, which Dagster has persisted
   once this tick runs;
3. reads at most :data:`MAX_RECORDS_PER_TICK` records after its cursor and requests one run
   of ``incremental_ast_job`` per repository with changes (rules, cursor and run keys:
   :mod:`snake_pipe_dagster.change_plan`), adding the partition of a configured repository
   that has none yet in the same tick, so a new repository does not wait for
   ``repo_discovery_sensor``;
4. when there is nothing to launch, waits up to ``$SNAKE_PIPE_CHANGE_WAIT_S`` (default
   4 s) for a new record or for a held repository's run to end, and answers at once when
   one comes. Dagster's sensor daemon starts a sensor's evaluation at most every 5 s,
   whatever its interval (``MIN_INTERVAL_LOOP_TIME``), so without this wait a change would
   sit 2.5 s on average (5 s at worst) before its run is even requested; with it, ~0.3 s
   while a tick listens. A change that comes in the cycle's last second, or after a tick
   answered for an earlier change, waits for the next tick. The wait must end before the
   daemon's next loop (5 s) or that loop skips the sensor, whose tick is still in flight.

It is stopped by default: turned on, it starts a long-lived watcher process on the machine
(one that outlives ``dagster dev``, by design: a reload must not blind it), and it must be
the journal's only consumer (not together with ``snake-pipe watch --ingest``). Turn it on in
the UI (Automation), with ``hourly_reconciliation_schedule`` for what happens while nothing
watches. Turning it off leaves the watcher running: ``snake-pipe watch --stop`` stops it.
"""

import os
import time
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path

import dagster as dg

from snake_pipe_core import ChangeJournal, Settings, SnakePipeError

from .assets import INGEST_STEP, IngestConfig
from .change_plan import ChangeCursor, RunPlan, TickPlan, plan_tick, start_position
from .jobs import (
    INCREMENTAL_PRIORITY,
    PRIORITY_TAG,
    RECONCILIATION_PRIORITY,
    incremental_ast_job,
)
from .partitions import REPO_PARTITIONS_NAME, repo_partitions
from .resources import SnakePipeResource

__all__ = [
    "CHANGE_INTERVAL_ENV",
    "CHANGE_PRIORITY",
    "CHANGE_SENSOR_NAME",
    "CHANGE_WAIT_ENV",
    "HOLD_MAX_S",
    "MAX_RECORDS_PER_TICK",
    "MAX_RUNS_PER_TICK",
    "RESCAN_PRIORITY",
    "TRIGGER_TAG",
    "ast_change_sensor",
    "busy_repositories",
    "change_interval_seconds",
    "change_wait_seconds",
]

# The name this sensor holds the journal under (ChangeJournal.claim_consumer).
CONSUMER = "dagster:ast_change_sensor"

CHANGE_SENSOR_NAME = "ast_change_sensor"
CHANGE_INTERVAL_ENV = "SNAKE_PIPE_CHANGE_INTERVAL_S"
DEFAULT_CHANGE_INTERVAL_S = 2
CHANGE_WAIT_ENV = "SNAKE_PIPE_CHANGE_WAIT_S"
DEFAULT_CHANGE_WAIT_S = 4.0
MAX_CHANGE_WAIT_S = 30.0  # well inside the daemon's 60 s timeout for an evaluation
MAX_RECORDS_PER_TICK = 10_000
MAX_RUNS_PER_TICK = 1000
# A run in flight longer than this no longer holds its repository's changes back (a run
# whose worker died stays STARTED unless run monitoring is on).
HOLD_MAX_S = 600.0
MAX_SPAWN_BACKOFF_S = 600.0
# Runs for the paths a developer just saved go first; whole-repository diffs (a watcher's
# start-up rescan of every repository, an overflow) queue behind them, as reconciliation does.
CHANGE_PRIORITY = INCREMENTAL_PRIORITY
RESCAN_PRIORITY = RECONCILIATION_PRIORITY
TRIGGER_TAG = "snake_pipe/trigger"
JOURNAL_TAG = "snake_pipe/journal_records"
PARTITION_TAG = "dagster/partition"
SENSOR_NAME_TAG = "dagster/sensor_name"
_JOURNAL_POLL_S = 0.05
_RUNS_POLL_S = 0.5
_QUEUED = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED)
_IN_FLIGHT = [
    *_QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _env_value(env: Mapping[str, str] | None, name: str, default: float) -> str:
    return (os.environ if env is None else env).get(name, "").strip() or str(default)


def change_interval_seconds(env: Mapping[str, str] | None = None) -> int:
    """The sensor's minimum interval: ``$SNAKE_PIPE_CHANGE_INTERVAL_S``, default 2 s."""
    raw = _env_value(env, CHANGE_INTERVAL_ENV, DEFAULT_CHANGE_INTERVAL_S)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(
            f"{CHANGE_INTERVAL_ENV} must be a whole number of seconds >= 1, got {raw!r}"
        )
    return int(raw)


def change_wait_seconds(env: Mapping[str, str] | None = None) -> float:
    """How long a tick with nothing to launch waits for news: ``$SNAKE_PIPE_CHANGE_WAIT_S``,
    default 4 s; 0 answers at once."""
    raw = _env_value(env, CHANGE_WAIT_ENV, DEFAULT_CHANGE_WAIT_S)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_CHANGE_WAIT_S:
        raise ValueError(
            f"{CHANGE_WAIT_ENV} must be seconds in [0, {MAX_CHANGE_WAIT_S:.0f}], got {raw!r}"
        )
    return seconds


def busy_repositories(
    instance: dg.DagsterInstance,
    repos: Collection[str],
    *,
    now: float | None = None,
    hold_max_s: float = HOLD_MAX_S,
) -> set[str]:
    """The repositories among ``repos`` whose changes must wait for a run in flight: one that
    has started (it may have read a file before it changed), or one this sensor queued (so a
    burst queues one run per repository, not dozens). A run queued by anything else reads the
    disk after these changes anyway, so it holds nothing back."""
    wanted = set(repos)
    if not wanted:
        return set()
    # Thousands of keys (a rescan of everything) would make a huge IN (...): filter here.
    tags = {PARTITION_TAG: sorted(wanted)} if len(wanted) <= 500 else {}
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=_IN_FLIGHT, tags=tags))
    now = time.time() if now is None else now
    busy = set()
    for record in records:
        run = record.dagster_run
        repo = run.tags.get(PARTITION_TAG)
        if repo not in wanted:
            continue
        if run.status in _QUEUED:
            if run.tags.get(SENSOR_NAME_TAG) != CHANGE_SENSOR_NAME:
                continue
            since = record.create_timestamp.timestamp()
        else:
            since = record.start_time or record.create_timestamp.timestamp()
        if now - since <= hold_max_s:
            busy.add(repo)
    return busy


def _supervise_watcher(
    context: dg.SensorEvaluationContext,
    settings: Settings,
    journal: ChangeJournal,
    cursor: ChangeCursor,
) -> ChangeCursor:
    """Start a watcher when none beats; back off while a started one never beats."""
    now = time.time()
    status = journal.watcher_status()
    stale_after = settings.watch.stale_after_s
    if status is not None and not status.is_stale(stale_after, now):
        return replace(cursor, spawned_at=None, spawns=0) if cursor.spawns else cursor
    if cursor.spawned_at is not None:
        backoff = min(stale_after * 2 ** max(cursor.spawns - 1, 0), MAX_SPAWN_BACKOFF_S)
        if now - cursor.spawned_at < backoff:
            return cursor  # give the one started to begin (or fail) before another try
    why = (
        "no watcher runs"
        if status is None
        else f"the heartbeat of watcher pid {status.pid} on {status.host} is "
        f"{status.age(now):.0f} s old"
    )
    # Imported here: the watcher side needs fcntl/inotify; the code location loads anywhere.
    from snake_pipe_core.watch_service import spawn_watcher

    log = settings.journal_path.with_suffix(".log")
    try:
        proc = spawn_watcher(settings, log_file=log)
    except OSError as e:
        context.log.error(f"{why}; starting `snake-pipe watch` failed: {e}")
    else:
        context.log.info(f"{why}: started `snake-pipe watch`, pid {proc.pid} (log {log})")
    return replace(cursor, spawned_at=now, spawns=cursor.spawns + 1)


def _compact(context: dg.SensorEvaluationContext, journal: ChangeJournal, upto: int) -> None:
    """Drop the records the previous tick's cursor covers: Dagster persisted that cursor
    (after submitting its runs) before starting this tick."""
    try:
        if upto > journal.compacted_upto():
            journal.compact(upto)
    except Exception as e:  # compaction is housekeeping: never fail a tick for it
        context.log.warning(f"could not compact the change journal up to #{upto}: {e}")


def _plan(
    instance: dg.DagsterInstance,
    journal: ChangeJournal,
    cursor: ChangeCursor,
    *,
    settings: Settings,
    configured: Mapping[str, Path],
    wait_s: float,
) -> TickPlan:
    """Plan the tick; with nothing to launch, wait (up to ``wait_s``) for news and plan again."""
    partitions = set(instance.get_dynamic_partitions(REPO_PARTITIONS_NAME))
    deadline = time.monotonic() + wait_s
    while True:
        records = journal.read(cursor.seq, MAX_RECORDS_PER_TICK)
        busy = busy_repositories(instance, {r.repo for r in records} | set(cursor.rescan))
        plan = plan_tick(
            cursor,
            records,
            window=MAX_RECORDS_PER_TICK,
            configured=configured,
            partitions=partitions,
            busy=busy,
            max_paths=settings.watch.max_run_paths,
            max_runs=MAX_RUNS_PER_TICK,
        )
        if plan.runs or time.monotonic() >= deadline:
            return plan
        head = journal.last_seq()
        next_runs_check = time.monotonic() + _RUNS_POLL_S
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(_JOURNAL_POLL_S, left))
            if journal.last_seq() != head:
                break
            if plan.held and time.monotonic() >= next_runs_check:
                if busy_repositories(instance, plan.held) != set(plan.held):
                    break
                next_runs_check = time.monotonic() + _RUNS_POLL_S


def _run_request(run: RunPlan) -> dg.RunRequest:
    paths = None if run.paths is None else list(run.paths)
    records = "none" if run.first_seq is None else f"#{run.first_seq}-#{run.last_seq}"
    priority = CHANGE_PRIORITY if paths is not None else RESCAN_PRIORITY
    return dg.RunRequest(
        run_key=run.run_key,
        partition_key=run.repo,
        run_config=dg.RunConfig(ops={INGEST_STEP: IngestConfig(mode="incremental", paths=paths)}),
        tags={PRIORITY_TAG: str(priority), TRIGGER_TAG: "watcher", JOURNAL_TAG: records},
    )


def _describe(run: RunPlan) -> str:
    what = "whole repository" if run.paths is None else f"{len(run.paths)} path(s)"
    return f"{run.repo} ({what}: {run.why})"


@dg.sensor(
    name=CHANGE_SENSOR_NAME,
    job=incremental_ast_job,
    minimum_interval_seconds=change_interval_seconds(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Keeps a file watcher (`snake-pipe watch`) running and turns the changes it "
    "records into one incremental run per repository, within seconds. Off by default: it "
    "starts a background process on this machine, and must be the change journal's only "
    "consumer (not with `snake-pipe watch --ingest`).",
)
def ast_change_sensor(
    context: dg.SensorEvaluationContext, snake_pipe: SnakePipeResource
) -> dg.SensorResult:
    """Watcher supervision, journal compaction, and one run request per changed repository."""
    try:
        settings = snake_pipe.settings()
        configured = settings.repositories()
        if not configured:
            return dg.SensorResult(skip_reason="no repository is configured: nothing to watch")
        journal = ChangeJournal(settings.journal_path)
    except SnakePipeError as e:
        raise dg.Failure(description=str(e)) from e
    with journal:
        other = journal.claim_consumer(CONSUMER)
        if other is not None:
            return dg.SensorResult(
                skip_reason=f"the journal {journal.path} is consumed by {other} (`snake-pipe "
                "watch --ingest`?): stop it, or turn this sensor off; one consumer at a time"
            )
        previous = ChangeCursor.loads(context.cursor)
        if context.cursor and previous is None:
            context.log.warning(f"unreadable cursor {context.cursor[:200]!r}: starting afresh")
        cursor, lost = start_position(
            previous,
            journal_id=journal.journal_id,
            compacted_upto=journal.compacted_upto(),
            repos=configured,
        )
        if lost:
            context.log.warning(f"{lost}: every repository ({len(configured)}) is rescanned")
        cursor = _supervise_watcher(context, settings, journal, cursor)
        if previous is not None and previous.journal_id == journal.journal_id:
            _compact(context, journal, previous.seq)
        plan = _plan(
            context.instance,
            journal,
            cursor,
            settings=settings,
            configured=configured,
            wait_s=change_wait_seconds(),
        )
    for repo, why in plan.dropped.items():
        context.log.warning(f"{repo}: changes in the journal skipped, {why}")
    waiting = f"; waiting for their turn: {', '.join(plan.held)}" if plan.held else ""
    if not plan.runs:
        what = f"changes skipped for {', '.join(plan.dropped)}" if plan.dropped else "no new change"
        return dg.SensorResult(
            skip_reason=f"{what} (journal at #{plan.head}){waiting}",
            cursor=plan.cursor.dumps(),
        )
    context.log.info(
        f"journal records up to #{plan.head}: runs for "
        + ", ".join(_describe(r) for r in plan.runs)
        + (f"; new partitions: {', '.join(plan.add_partitions)}" if plan.add_partitions else "")
        + waiting
    )
    return dg.SensorResult(
        run_requests=[_run_request(r) for r in plan.runs],
        dynamic_partitions_requests=(
            [repo_partitions.build_add_request(plan.add_partitions)]
            if plan.add_partitions
            else None
        ),
        cursor=plan.cursor.dumps(),
    )
