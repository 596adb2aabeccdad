"""How analysis workers start: from a fork server, started as early as the caller likes.

Light on purpose (the standard library only): the command line starts the fork server before
it imports the rest of itself, so that the server's own imports (the analysis code, ~0.2 s)
run on another core meanwhile instead of after them.
"""

import multiprocessing
import multiprocessing.context
import sys
import threading

__all__ = ["mp_context", "prestart_workers"]

# What the fork server imports once, so that each worker starts in milliseconds.
WORKERS_MODULE = "snake_pipe_core.ingest.workers"


def mp_context() -> multiprocessing.context.BaseContext:
    """The start method of the analysis workers.

    forkserver: workers start from a clean, single-threaded process, never a fork of a
    process that has DuckDB or Dagster threads running. The server imports the analysis code
    once, so each worker starts in milliseconds instead of re-importing it."""
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([WORKERS_MODULE])
        return ctx
    return multiprocessing.get_context("spawn")


def prestart_workers() -> None:
    """Start the fork server in the background, so that the import of the analysis code in it
    overlaps the caller's own start-up (imports, opening the store, reading the manifest)
    instead of following it. Harmless when no pool is needed after all; a second call does
    nothing."""
    if sys.platform.startswith("linux"):
        from multiprocessing import forkserver

        mp_context()  # sets the preload list before the server starts
        threading.Thread(
            target=forkserver.ensure_running, name="snake-pipe-forkserver", daemon=True
        ).start()
