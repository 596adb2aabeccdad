"""The watcher as a long-lived process: one per journal, a heartbeat, and a way to start it.

Why a process of its own: inside Dagster's code server a watcher would die on every reload
and be duplicated in run processes. ``snake-pipe watch`` (:func:`serve`) runs
:func:`run_watcher`, which holds the journal's one-watcher lock for its whole life (an
exclusive ``flock`` beside a journal file, an advisory lock of its session for a journal in
PostgreSQL) — dropped when the process dies, however it dies, so a second watcher can start
at once and a stale lock cannot exist. It writes a heartbeat into the journal every
``watch.heartbeat_s``; a supervisor (the Dagster sensor) calls :func:`keep_watcher_alive`,
which starts one (:func:`spawn_watcher`) when the heartbeat is stale, and a spawned watcher
that finds the lock taken simply exits.

Any error in the watching loop restarts it with a rescan of every repository (nothing that
happened while it was down is missed); the restarts back off up to a minute.
"""

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..config import Settings
from ..errors import JournalInUse, StoreError, WatcherAlreadyRunning
from ..journal import Change, ConsumerState, FileChange, Journal, open_journal

__all__ = [
    "MAX_SPAWN_BACKOFF_S",
    "WatcherAlreadyRunning",
    "keep_watcher_alive",
    "run_watcher",
    "serve",
    "spawn_watcher",
]

log = logging.getLogger(__name__)
MAX_SPAWN_BACKOFF_S = 600.0


def _summary(changes: list[FileChange], limit: int = 5) -> str:
    shown = [f"{c.repo}:{c.path}" if c.path is not None else f"{c.repo}:(rescan)" for c in changes]
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


def _record_changes(
    settings: Settings,
    journal: Journal,
    stop_event: threading.Event,
    on_append: Callable[[int], None] | None,
) -> None:
    from .watcher import Watcher  # Linux-only (inotify); imported when a watcher runs

    w = settings.watch
    last_beat = time.monotonic()
    with Watcher(
        settings.repositories,
        discovery=settings.discovery,
        settle_s=w.settle_s,
        max_delay_s=w.max_delay_s,
        max_pending_paths=w.max_pending_paths,
        self_check_s=w.self_check_s,
        self_check_timeout_s=w.self_check_timeout_s,
        timeout_s=w.heartbeat_s,
        stop_event=stop_event,
    ) as watcher:
        journal.heartbeat()
        for batch in watcher:
            if batch:
                changes = sorted(
                    batch, key=lambda c: (c.repo, c.change is not Change.RESCAN, c.path or "")
                )
                seq = journal.append(changes)
                log.info("journal #%d: %s", seq, _summary(changes))
                if on_append is not None:
                    on_append(seq)
            now = time.monotonic()
            if now - last_beat >= w.heartbeat_s:
                journal.heartbeat()
                last_beat = now


def run_watcher(
    settings: Settings,
    journal: Journal,
    stop_event: threading.Event,
    *,
    on_append: Callable[[int], None] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Watch every configured repository and append its changes to the journal until
    ``stop_event`` is set.

    Args:
        settings: repositories, discovery rules and the ``[watch]`` tuning.
        journal: where changes go; its lock file makes this the only watcher of it.
        stop_event: set it (e.g. from a signal handler) for a clean stop.
        on_append: called with the last sequence number after each committed batch.
        on_ready: called once the lock is held, before the watches are set up.

    Raises:
        WatcherAlreadyRunning: another process watches for this journal.
    """
    with journal.watcher_lock():
        journal.watcher_started()
        log.info("watcher %d started; journal %s", os.getpid(), journal.where)
        backoff = 1.0
        try:
            if on_ready is not None:
                on_ready()
            while not stop_event.is_set():
                try:
                    _record_changes(settings, journal, stop_event, on_append)
                except Exception as e:
                    log.error("the watcher failed%s; restarting in %.0f s with a rescan of "
                              "every repository", f": {e}" if isinstance(e, StoreError) else "",
                              backoff,  # a full disk, a damaged journal: said, no traceback
                              exc_info=not isinstance(e, StoreError))  # fmt: skip
                    if stop_event.wait(backoff):
                        break
                    backoff = min(backoff * 2, 60.0)
        finally:
            try:
                journal.watcher_stopped()
            except Exception:  # the journal may be what failed; the lock goes anyway
                log.exception("could not record the watcher's stop")
            log.info("watcher %d stopped", os.getpid())


def spawn_watcher(
    settings: Settings, *, log_file: str | os.PathLike[str] | None = None, verbose: bool = False
) -> "subprocess.Popen[bytes]":
    """Start ``snake-pipe watch`` for these settings as a detached process (its own session,
    output appended to ``log_file``, default ``<journal>.log``). If a watcher already runs,
    the new process exits at once; the caller need not check first. A daemon thread reaps it.
    """
    cmd = [sys.executable, "-m", "snake_pipe_core.cli"]
    if settings.config_file is not None:
        cmd += ["--config", str(settings.config_file)]
    if verbose:
        cmd.append("-v")
    cmd += ["watch", "--store", settings.store]
    if settings.store_data:
        cmd += ["--store-data", settings.store_data]
    target = Path(log_file) if log_file is not None else settings.journal_path.with_suffix(".log")
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    threading.Thread(target=proc.wait, name="watcher-reaper", daemon=True).start()
    log.info("started a watcher, pid %d (log %s)", proc.pid, target)
    return proc


def keep_watcher_alive(
    settings: Settings,
    journal: Journal,
    state: ConsumerState,
    *,
    spawn: "Callable[[], subprocess.Popen[bytes]] | None" = None,
    now: float | None = None,
) -> tuple[ConsumerState, str | None]:
    """Start a watcher when none beats (``spawn``, default :func:`spawn_watcher`); back off
    while one started never beats (``watch.stale_after_s``, doubling, up to 10 minutes).
    A shared journal's watcher belongs to the host that sees the files: then this only says,
    as often, that none beats and where to start it.

    Returns the state with the record of the start, and what to log (None: all is well)."""
    now = time.time() if now is None else now
    status = journal.watcher_status()
    stale_after = settings.watch.stale_after_s
    if status is not None and not status.is_stale(stale_after, now):
        if state.spawns:
            return replace(state, spawned_at=None, spawns=0), None
        return state, None
    if state.spawned_at is not None:
        backoff = min(stale_after * 2 ** max(state.spawns - 1, 0), MAX_SPAWN_BACKOFF_S)
        if now - state.spawned_at < backoff:
            return state, None  # give the one started time to begin (or fail)
    why = (
        "no watcher runs"
        if status is None
        else f"the heartbeat of watcher pid {status.pid} on {status.host} is "
        f"{status.age(now):.0f} s old"
    )
    if journal.is_shared and spawn is None:
        message = (
            f"{why} for the journal in {journal.where}: start `snake-pipe watch` on the host "
            "that sees the repositories (deploy/multihost/README.md); changes are missed "
            "until it runs, and its start rescans"
        )
        return replace(state, spawned_at=now, spawns=state.spawns + 1), message
    log_file = settings.journal_path.with_suffix(".log")
    try:
        proc = spawn() if spawn is not None else spawn_watcher(settings, log_file=log_file)
    except OSError as e:
        message = f"{why}; starting `snake-pipe watch` failed: {e}"
    else:
        message = f"{why}: started `snake-pipe watch`, pid {proc.pid} (log {log_file})"
    return replace(state, spawned_at=now, spawns=state.spawns + 1), message


def serve(settings: Settings, stop_event: threading.Event, *, ingest: bool = False) -> None:
    """The ``snake-pipe watch`` process: the watcher, and with ``ingest`` a second thread
    that applies the journal to the store (so ingesting never blinds the watcher).

    Raises:
        WatcherAlreadyRunning: another process watches for this journal.
    """
    from ..journal.local import CONSUMER, run_ingest_loop

    journal = open_journal(settings)
    wake = threading.Event()
    consumer: list[threading.Thread] = []

    def start_consumer() -> None:  # once this process holds the one-watcher lock
        if ingest:
            other = journal.claim_consumer(CONSUMER)
            if other is not None:
                raise JournalInUse(
                    f"{other} applies the journal {journal.where}: run `snake-pipe watch` "
                    "without --ingest (the Dagster sensor launches the runs), or turn the "
                    "sensor off"
                )
            t = threading.Thread(
                target=run_ingest_loop,
                args=(settings, journal, stop_event, wake),
                name="watch-ingest",
                daemon=True,
            )
            t.start()
            consumer.append(t)

    try:
        run_watcher(
            settings, journal, stop_event, on_append=lambda _: wake.set(), on_ready=start_consumer
        )
    finally:
        stop_event.set()
        wake.set()
        for t in consumer:
            t.join()  # the run in progress finishes: its batches are committed anyway
        journal.release_consumer(CONSUMER)  # only if this process holds it
        journal.close()
