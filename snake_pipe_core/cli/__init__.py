"""The ``snake-pipe`` command: ingest, status, sql, quarantine, store, config and watch.

Built on click (typed options, accepted in any order, help on each) and rich (the progress
bar and tables on a terminal; plain text or ``--json`` when piped).

Exit codes: 0 the work completed (quarantined files included), 1 a repository failed,
2 a usage or configuration error, 3 the store cannot be used, 4 (``watch``) another watcher
already runs for this journal, or (``watch --ingest``) another consumer applies it.
"""

import atexit
import importlib.util
import os
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from .commands import cli

__all__ = ["cli", "console", "leave", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run the command line, return its exit code.

    An ingest starts its workers' fork server first, before the command line imports the
    rest of itself (click, pydantic, DuckDB, Arrow: ~0.3 s), so that the server's own
    imports run on another core meanwhile. Only the command's name is looked for here: a
    server started for nothing costs an idle process, never a wrong result."""
    args = sys.argv[1:] if argv is None else list(argv)
    if "ingest" in args and not {"-h", "--help"} & set(args):
        from ..ingest.spawn import prestart_workers

        prestart_workers()
    _pandas_absent()
    from .app import run
    from .commands import cli

    return run(cli, args)


def _pandas_absent() -> None:
    """Where pandas is not installed, say so once to the import system of this process.

    DuckDB's Python client (1.4) looks for pandas at each parameter it binds, and a failed
    import is not remembered: each look searches ``sys.path`` again. A statement with three
    parameters took 0.86 ms instead of 0.44; a 100,000-file ingest made 196 such searches,
    ~28 ms, on the threads that commit. With ``None`` in ``sys.modules`` every later look
    fails at once, as it would anyway. Only in the command's own process: a library does not
    decide this for the programs that import it."""
    if "pandas" not in sys.modules and importlib.util.find_spec("pandas") is None:
        sys.modules["pandas"] = None  # type: ignore[assignment]


def console() -> NoReturn:
    """The console script and ``python -m snake_pipe_core.cli``: :func:`main`, then
    :func:`leave` with its exit code."""
    leave(main())


def leave(code: int) -> NoReturn:
    """Exit with ``code`` once the work is done, without the interpreter's teardown.

    A command has written everything by now; what the teardown would still do is free, one
    by one, the objects of every module it loaded (DuckDB, Arrow, pydantic, click, rich).
    After a 100,000-file ingest had printed its summary its process took 115 ms more to end,
    35 ms this way (medians of 5); a 50-file ingest 0.93 -> 0.85 s (medians of 15). (Waiting
    for the catalog keeper to leave, which ``close_all`` does since, adds ~17 ms.)
    So the stores are closed (a PostgreSQL catalog sees its connections end properly), the
    output flushed, the ``atexit`` handlers run (logging's flush, multiprocessing's
    clean-up), and the process ends. While a thread that is not a daemon still runs, the
    interpreter's own orderly exit waits for it instead."""
    store = sys.modules.get("snake_pipe_core.store.store")
    if store is not None:
        store.close_all()
    _flush()
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    _flush()
    os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or a closed stream
            pass


def __getattr__(name: str) -> Any:
    # ``cli`` (the click group) loads on first use, so that ``main`` can start work first.
    if name == "cli":
        from .commands import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
