"""The journal applied to the store without Dagster: the ``snake-pipe watch --ingest`` loop.

It takes the same path as a sensor-launched run: records after the cursor are grouped into
one unit of work per repository (:func:`~snake_pipe_core.changes.group_changes`) and each
becomes one ``ingest_repository(paths=...)`` call, or a whole-repository incremental diff
for a rescan. The cursor is the journal's compaction mark: records are compacted once they
are applied, so a restarted loop resumes where the last one stopped.

Failures are sorted the way the engine's errors say: a repository that cannot be ingested
(missing root, refused mass deletion) is terminal — it is logged and its records dropped
(the next rescan or ``snake-pipe ingest`` picks it up); a transient error (the store is
locked) retries the same records with back-off; an unexpected one retries a few times, then
gives up loudly rather than wedge the loop.

Only one consumer may compact a journal: run ``watch --ingest`` or the Dagster sensor.
"""

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from .changes import RepoChanges, group_changes
from .config import Settings
from .errors import RepositoryError, SnakePipeError
from .ingest import ingest_repository
from .journal import ChangeJournal
from .store import Store

__all__ = ["CONSUMER", "Outcome", "apply_changes", "run_ingest_loop"]

log = logging.getLogger(__name__)
_MAX_ATTEMPTS = 3  # for unexpected errors; transient ones retry until they pass
_MAX_BACKOFF_S = 60.0
# applied: done (terminal failures included, they are logged); transient: try the same work
# again later; failed: an unexpected error, worth a few more attempts.
Outcome = Literal["applied", "transient", "failed"]
# The name this process holds the journal under (ChangeJournal.claim_consumer).
CONSUMER = "snake-pipe watch --ingest"


def apply_changes(
    settings: Settings,
    store: Store,
    work: Mapping[str, RepoChanges],
    *,
    roots: Mapping[str, Path] | None = None,
) -> Outcome:
    """Run one incremental ingest per repository of ``work`` (a rescan when its ``paths`` is
    None), in the same engine path as every other run, with ``trigger="watcher"``."""
    roots = settings.repositories() if roots is None else roots
    outcome: Outcome = "applied"
    for repo, changes in sorted(work.items()):
        root = roots.get(repo)
        if root is None:
            log.warning("the journal names %s, which is not configured; skipped", repo)
            continue
        try:
            s = ingest_repository(
                root,
                store=store,
                settings=settings,
                repo=repo,
                paths=changes.paths,
                trigger="watcher",
            )
        except RepositoryError as e:
            log.error("%s: %s (its changes are skipped; the next rescan covers them)", repo, e)
            continue
        except Exception as e:
            transient = isinstance(e, SnakePipeError) and e.transient
            log.log(
                logging.WARNING if transient else logging.ERROR,
                "%s: ingesting %s failed: %s",
                repo,
                "a rescan" if changes.rescan else f"{len(changes.paths or ())} path(s)",
                e,
                exc_info=not transient,
            )
            if outcome != "failed":
                outcome = "transient" if transient else "failed"
            continue
        log.info(
            "%s #%d-%d: %s → %d extracted, %d quarantined, %d deleted in %.2f s",
            repo,
            changes.first_seq,
            changes.last_seq,
            "rescan" if changes.rescan else f"{len(changes.paths or ())} path(s)",
            s.extracted,
            s.quarantined,
            s.deleted,
            s.seconds,
        )
    return outcome


def run_ingest_loop(
    settings: Settings,
    journal: ChangeJournal,
    stop_event: threading.Event,
    wake: threading.Event | None = None,
    *,
    store: Store | None = None,
    batch_records: int = 10_000,
) -> None:
    """Apply the journal to the store until ``stop_event`` is set.

    Args:
        settings: repositories, rules and ``watch.max_run_paths``.
        journal: the journal to consume (and compact).
        stop_event: checked between runs; a run in progress finishes.
        wake: set by the watcher after each append, so a change is applied at once; without
            it (or when another process writes) the journal is polled every heartbeat.
        store: the store (default: ``settings.store``).
        batch_records: records read at a time, which bounds memory.
    """
    store = store or Store(settings.store_location)
    wake = wake or threading.Event()
    cursor = journal.compacted_upto()
    attempts = 0
    standing_aside = False
    log.info("applying the journal %s to %s from #%d", journal.path, store.describe(), cursor)
    while not stop_event.is_set():
        wake.clear()  # before reading: an append after the read sets it again
        try:
            other = journal.claim_consumer(CONSUMER)
            if other is not None:
                if not standing_aside:
                    log.error("%s now consumes the journal; not applying changes while it "
                              "does", other)  # fmt: skip
                standing_aside = True
                stop_event.wait(settings.watch.heartbeat_s)
                continue
            standing_aside = False
            if journal.compacted_upto() > cursor:  # someone else dropped records unseen
                log.warning("journal records after #%d were compacted by another consumer: "
                            "rescanning every repository", cursor)  # fmt: skip
                rescan = {
                    r: RepoChanges(r, None, cursor, cursor, 0) for r in settings.repositories()
                }
                if apply_changes(settings, store, rescan) != "applied":
                    stop_event.wait(5.0)
                    continue
                cursor = journal.compacted_upto()
            records = journal.read(cursor, batch_records)
            if not records:
                wake.wait(settings.watch.heartbeat_s)
                continue
            work = group_changes(records, max_paths=settings.watch.max_run_paths)
            outcome = apply_changes(settings, store, work)
            if outcome != "applied":
                attempts += 1
                if outcome == "transient" or attempts < _MAX_ATTEMPTS:
                    stop_event.wait(min(2.0**attempts, _MAX_BACKOFF_S))
                    continue
                log.error("giving up on journal records #%d-#%d after %d attempts; run "
                          "`snake-pipe ingest` to reconcile", records[0].seq, records[-1].seq,
                          attempts)  # fmt: skip
            attempts = 0
            cursor = records[-1].seq
            journal.compact(cursor)
        except Exception:  # the journal itself failed: keep the loop alive
            log.exception("the ingest loop failed; retrying")
            stop_event.wait(5.0)
