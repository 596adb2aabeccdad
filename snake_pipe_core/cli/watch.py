"""``snake-pipe watch``: the file watcher, its status, its stop, and confirmed deletions."""

import faulthandler
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

import click
import orjson

from ..config import Settings
from ..guard import GuardState
from ..processes import host_name
from ..store import Store
from .app import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WATCHER_RUNNING,
    json_option,
    settings_of,
    store_options,
)
from .output import echo_json, error, safe
from .status import describe_refusal, refusals

__all__ = ["watch"]


def _status_info(settings: Settings) -> tuple[dict[str, Any], Any]:
    from ..journal import open_journal
    from ..journal.consumer import STATUS_VALUE

    now = time.time()
    with open_journal(settings) as journal:
        status = journal.watcher_status()
        lease = journal.consumer_lease()
        consumer = journal.load_value(STATUS_VALUE)
        info: dict[str, Any] = {
            "journal": journal.where,
            "pending_records": journal.pending(),
            "last_seq": journal.last_seq(),
            "watcher": None,
            "consumer": None,
            "refusals": [r.as_dict() for r in refusals(settings)],
        }
        if status is not None:
            info["watcher"] = {"pid": status.pid, "host": status.host,
                               "heartbeat_age_s": round(status.age(), 1),
                               "stale": status.is_stale(settings.watch.stale_after_s)}  # fmt: skip
        if lease is not None:
            info["consumer"] = {"name": lease[0], "pid": lease[1], "host": lease[2],
                                "lease_age_s": round(now - lease[3], 1),
                                **(orjson.loads(consumer) if consumer else {})}  # fmt: skip
    return info, status


def _stop(status: Any) -> int:
    if status is None or status.host != host_name():
        error("no watcher of this journal runs on this host")
        return EXIT_FAILED
    try:
        os.kill(status.pid, signal.SIGTERM)
    except ProcessLookupError:
        error(f"watcher {status.pid} is already gone")
        return EXIT_FAILED
    click.echo(f"stopping watcher {status.pid} (SIGTERM)")
    return EXIT_OK


def _print_status(settings: Settings, info: dict[str, Any]) -> None:
    w = info["watcher"]
    if w is None:
        click.echo(f"no watcher runs; journal {info['journal']} holds {info['pending_records']} "
                   "record(s)")  # fmt: skip
    else:
        click.echo(f"watcher pid {w['pid']} on {w['host']}, last heartbeat "
                   f"{w['heartbeat_age_s']} s ago{' (stale)' if w['stale'] else ''}; journal "
                   f"{info['journal']}: {info['pending_records']} record(s) pending, last "
                   f"#{info['last_seq']}")  # fmt: skip
    c = info["consumer"]
    if c is not None:
        click.echo(f"consumer {c['name']} (pid {c['pid']} on {c['host']}), applied up to "
                   f"#{c.get('mark', '?')}")  # fmt: skip
        for repo, r in sorted(c.get("repos", {}).items()):
            doing = f"run {r['in_flight']} in flight" if r["in_flight"] else ""
            if r["tries_failed"]:
                doing += (f"{'; ' if doing else ''}{r['tries_failed']} failed tr"
                          f"{'y' if r['tries_failed'] == 1 else 'ies'}, next in "
                          f"{r['retry_in_s']} s: {safe(r['error'])}")  # fmt: skip
            click.echo(f"  {safe(repo)}: {doing or 'owes a whole-repository diff'}")
    now = time.time()
    for r in refusals(settings):
        click.echo("REFUSED " + describe_refusal(r, now))


def _confirm_deletions(settings: Settings, repos: Sequence[str]) -> int:
    state = GuardState(Store(settings.store_location).path)
    failed = False
    for repo in repos:
        refusal = state.confirm(repo)
        if refusal is None:
            error(f"no refusal stands for {repo!r}")
            failed = True
        else:
            click.echo(f"{safe(repo)}: deletions confirmed ({refusal.kind}: "
                       f"{safe(refusal.detail)}); the journal's consumer applies them at its "
                       "next try")  # fmt: skip
    return EXIT_FAILED if failed else EXIT_OK


@click.command(short_help="the file watcher; --status, --stop")
@store_options
@click.option("--ingest", is_flag=True, help="also apply the changes to the store (the "
              "developer's fast path without Dagster)")  # fmt: skip
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="show the running watcher, the journal and the consumer, then exit",
)
@click.option("--stop", is_flag=True, help="stop the watcher running on this host (e.g. the "
              "one ast_change_sensor started)")  # fmt: skip
@click.option(
    "--confirm-deletions",
    metavar="REPO",
    multiple=True,
    help="confirm that the "
    "files the mass-delete guard refused to mark deleted really are gone (repeatable)",
)
@json_option
@click.pass_context
def watch(
    ctx: click.Context,
    ingest: bool,
    show_status: bool,
    stop: bool,
    confirm_deletions: tuple[str, ...],
    as_json: bool,
) -> int:
    """Watch the repositories and record their changes in the journal until stopped
    (SIGINT/SIGTERM); exit 4 if another watcher already runs for the journal. SIGUSR1 writes
    every thread's stack to stderr."""
    # Imported here: the watcher needs inotify (Linux); every other command works anywhere.
    from ..errors import JournalInUse, WatcherAlreadyRunning
    from ..watch.service import serve

    settings = settings_of(ctx)
    if confirm_deletions:
        return _confirm_deletions(settings, confirm_deletions)
    if show_status or stop:
        info, status = _status_info(settings)
        if stop:
            return _stop(status)
        if as_json:
            echo_json(info)
        else:
            _print_status(settings, info)
        return EXIT_OK
    repos = settings.repositories()
    if not repos:
        error("no repository to watch: set `repo_roots` or [[repos]] in the configuration")
        return EXIT_USAGE
    if not (ctx.find_object(dict) or {}).get("verbose"):  # a foreground watcher says what it does
        logging.getLogger("snake_pipe_core").setLevel(logging.INFO)
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stopping.is_set():
            raise KeyboardInterrupt  # a second signal: do not wait for the run in progress
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    # `kill -USR1 <pid>` writes every thread's stack to stderr (the watcher's log): what a
    # watcher that seems stuck is doing, without stopping it.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    what = f"; applying changes to {settings.store_location.describe()}" if ingest else ""
    from ..journal.postgres import redact_dsn

    journal = redact_dsn(settings.journal_dsn) if settings.journal_dsn else settings.journal_path
    click.echo(f"snake-pipe: watching {len(repos)} repositories; journal "
               f"{journal}{what} (Ctrl-C stops)", err=True)  # fmt: skip
    try:
        serve(settings, stopping, ingest=ingest)
    except (WatcherAlreadyRunning, JournalInUse) as e:
        error(str(e))
        return EXIT_WATCHER_RUNNING
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        faulthandler.unregister(signal.SIGUSR1)
    return EXIT_OK
