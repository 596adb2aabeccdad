"""Run launchers for deployments beyond one machine (``deploy/multihost/dagster.yaml``).

``SnakePipeCeleryRunLauncher`` is dagster-celery's ``CeleryRunLauncher`` — each run becomes a
Celery task that a worker host executes — with one addition: it notices a run whose worker
died. Celery records a task as STARTED when a worker takes it and nothing more if that worker
is killed, so the stock health check reports such a run as running forever and Dagster's run
monitoring never fails it. Here a STARTED run whose task no live worker is executing (asked
twice in a row, a poll apart) is reported FAILED; run monitoring then fails the run, and
Dagster's run retries launch it again on a worker that is alive. The ingest it repeats is
crash-safe: committed batches stay, the rest is redone, nothing is counted twice.
"""

import logging
from typing import Any

from dagster import DagsterRun
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

__all__ = ["SnakePipeCeleryRunLauncher"]

log = logging.getLogger(__name__)
_INSPECT_TIMEOUT_S = 2.0
_MISSES_BEFORE_FAILED = 2


class SnakePipeCeleryRunLauncher(CeleryRunLauncher):
    """``CeleryRunLauncher`` that fails runs whose Celery worker is gone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._misses: dict[str, int] = {}

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        health = super().check_run_worker_health(run)
        if health.status != WorkerStatus.RUNNING:
            self._misses.pop(run.run_id, None)
            return health
        task_id = run.tags[DAGSTER_CELERY_TASK_ID_TAG]
        active = self.celery.control.inspect(timeout=_INSPECT_TIMEOUT_S).active() or {}
        running = {task["id"] for tasks in active.values() for task in tasks}
        if task_id in running:
            self._misses.pop(run.run_id, None)
            return health
        # Finished between the two questions?
        again = super().check_run_worker_health(run)
        if again.status != WorkerStatus.RUNNING:
            self._misses.pop(run.run_id, None)
            return again
        misses = self._misses.get(run.run_id, 0) + 1
        self._misses[run.run_id] = misses
        if misses < _MISSES_BEFORE_FAILED:
            return CheckRunHealthResult(
                WorkerStatus.UNKNOWN, f"no live Celery worker reports task {task_id} (yet)"
            )
        self._misses.pop(run.run_id, None)
        workers = ", ".join(sorted(active)) or "none answered"
        log.warning("run %s: its Celery task %s runs on no live worker", run.run_id, task_id)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the Celery worker running task {task_id} is gone: no live worker is executing it "
            f"(live workers: {workers})",
        )
