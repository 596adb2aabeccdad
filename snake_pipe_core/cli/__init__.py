"""The ``snake-pipe`` command: ingest, status, sql, quarantine, store, config and watch.

Built on click (typed options, accepted in any order, help on each) and rich (the progress
bar and tables on a terminal; plain text or ``--json`` when piped).

Exit codes: 0 the work completed (quarantined files included), 1 a repository failed,
2 a usage or configuration error, 3 the store cannot be used, 4 (``watch``) another watcher
already runs for this journal, or (``watch --ingest``) another consumer applies it.
"""

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .commands import cli

__all__ = ["cli", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run the command line, return its exit code.

    An ingest starts its workers' fork server first, before the command line imports the
    rest of itself (click, rich, pydantic, DuckDB, Arrow: ~0.3 s), so that the server's own
    imports run on another core meanwhile. Only the command's name is looked for here: a
    server started for nothing costs an idle process, never a wrong result."""
    args = sys.argv[1:] if argv is None else list(argv)
    if "ingest" in args and not {"-h", "--help"} & set(args):
        from ..ingest.spawn import prestart_workers

        prestart_workers()
    from .app import run
    from .commands import cli

    return run(cli, args)


def __getattr__(name: str) -> Any:
    # ``cli`` (the click group) loads on first use, so that ``main`` can start work first.
    if name == "cli":
        from .commands import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
