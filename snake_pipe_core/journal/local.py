"""The journal applied in this process, without Dagster: the ``snake-pipe watch --ingest`` loop.

The consumer (:class:`~snake_pipe_core.journal.consumer.JournalConsumer`) plans; each
:class:`~snake_pipe_core.journal.consumer.Work` becomes one ``ingest_repository`` call in the
same engine path as every other run, with ``trigger="watcher"``; its outcome goes back to the
consumer at once. The cursor is kept in the journal itself, saved before the work runs and
compacted after: a loop killed in the middle of a run comes back, finds the run it never
heard of, and tries it again.

Only one consumer may apply a journal: run ``watch --ingest`` or the Dagster sensor.
"""

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..config import Settings
from ..errors import RepositoryError, SnakePipeError
from ..ingest import ingest_repository
from ..store import Store
from .base import Journal
from .consumer import CURSOR_VALUE, JournalConsumer
from .plan import Outcome, Work

__all__ = ["CONSUMER", "apply_work", "run_ingest_loop"]

log = logging.getLogger(__name__)
# The name this process holds the journal under (Journal.claim_consumer).
CONSUMER = "snake-pipe watch --ingest"


def apply_work(settings: Settings, store: Store, work: Work, root: Path) -> Outcome:
    """Run one piece of work; what became of it."""
    try:
        s = ingest_repository(
            root,
            store=store,
            settings=settings,
            repo=work.repo,
            paths=work.paths,
            allow_mass_delete=work.confirmed,
            trigger="watcher",
        )
    except RepositoryError as e:  # the guard refused, or the root cannot be used
        log.error("%s: %s", work.repo, e)
        return "refused"
    except Exception as e:
        transient = isinstance(e, SnakePipeError) and e.transient
        log.log(logging.WARNING if transient else logging.ERROR,
                "%s: ingesting %s failed: %s", work.repo, work.describe(), e,
                exc_info=not transient)  # fmt: skip
        return "failed"
    log.info(
        "%s #%s-%d: %s → %d extracted, %d quarantined, %d deleted in %.2f s",
        work.repo,
        work.first_seq if work.first_seq is not None else "-",
        work.last_seq,
        "rescan" if work.paths is None else f"{len(work.paths)} path(s)",
        s.extracted,
        s.quarantined,
        s.deleted,
        s.seconds,
    )
    return "succeeded"


def run_ingest_loop(
    settings: Settings,
    journal: Journal,
    stop_event: threading.Event,
    wake: threading.Event | None = None,
    *,
    store: Store | None = None,
) -> None:
    """Apply the journal to the store until ``stop_event`` is set.

    Args:
        settings: repositories, rules and the ``[watch]`` tuning.
        journal: the journal to consume (and compact).
        stop_event: checked between runs; a run in progress finishes.
        wake: set by the watcher after each append, so a change is applied at once; without
            it (or when another process writes) the journal is polled every heartbeat.
        store: the store (default: ``settings.store_location``).
    """
    store = store or Store(settings.store_location)
    wake = wake or threading.Event()
    # Its own work runs here: a run it has no outcome for was lost with a process before.
    consumer = JournalConsumer(journal, settings, name=CONSUMER, missing_after_s=0.0)
    outcomes: dict[str, Outcome] = {}

    def outcome(keys: Sequence[str]) -> Mapping[str, Outcome]:
        return {k: outcomes[k] for k in keys if k in outcomes}

    state = None
    saved: str | None = None  # the cursor as last kept in the journal
    standing_aside = False
    log.info("applying the journal %s to %s", journal.where, store.describe())
    while not stop_event.is_set():
        wake.clear()  # before reading: an append after the read sets it again
        try:
            other = consumer.claim()
            if other is not None:
                if not standing_aside:
                    log.error("%s now consumes the journal; not applying changes while it "
                              "does", other)  # fmt: skip
                standing_aside, state = True, None
                stop_event.wait(settings.watch.heartbeat_s)
                continue
            standing_aside = False
            if state is None:
                saved = journal.load_value(CURSOR_VALUE)
                state, lost = consumer.start(saved)
                if lost:
                    log.warning("%s: every repository is diffed whole", lost)
            plan = consumer.plan(state, outcome)
            for line in plan.learned:
                log.info("%s", line)
            for repo, why in plan.dropped.items():
                log.warning("%s: changes in the journal skipped, %s", repo, why)
            cursor = plan.state.dumps()
            consumer.publish(plan, cursor=cursor if cursor != saved else None)  # before the work
            saved = cursor
            if plan.state.mark > journal.compacted_upto():
                journal.compact(plan.state.mark)
            state = plan.state
            flying = {s.key for s in state.repos.values() if s.key is not None}
            outcomes = {k: v for k, v in outcomes.items() if k in flying}
            roots = consumer.repositories()
            for work in plan.work:
                if stop_event.is_set():
                    break  # left in flight: the next start tries it again
                outcomes[work.key] = apply_work(settings, store, work, roots[work.repo])
            if plan.work:
                continue  # learn the outcomes now
            timeout = settings.watch.heartbeat_s
            if plan.next_due is not None:
                timeout = min(timeout, max(0.0, plan.next_due - time.time()))
            wake.wait(timeout)
        except Exception:  # the journal itself failed: keep the loop alive
            log.exception("the ingest loop failed; retrying")
            state = None
            stop_event.wait(5.0)
