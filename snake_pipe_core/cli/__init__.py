"""The ``snake-pipe`` command: ingest, status, sql, quarantine, store, config and watch.

Built on click (typed options, accepted in any order, help on each) and rich (the progress
bar and tables on a terminal; plain text or ``--json`` when piped).

Exit codes: 0 the work completed (quarantined files included), 1 a repository failed,
2 a usage or configuration error, 3 the store cannot be used, 4 (``watch``) another watcher
already runs for this journal, or (``watch --ingest``) another consumer applies it.
"""

import logging
from collections.abc import Sequence

import click

from .app import SnakePipeGroup, run, store_options
from .config import config
from .ingest import ingest
from .quarantine import quarantine
from .status import status
from .store import sql, store
from .watch import watch

__all__ = ["cli", "main"]


@click.group(cls=SnakePipeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@store_options
@click.option("-v", "--verbose", count=True, help="more log lines (-vv: debug)")
@click.version_option(package_name="snake-pipe", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Discover, validate and extract AST JSON trees into a DuckLake store.

    --config, --store and --store-data go before or after the command."""
    ctx.ensure_object(dict)["verbose"] = verbose
    # A watcher runs for days: its log lines say when.
    stamp = "%(asctime)s " if ctx.invoked_subcommand == "watch" else ""
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2),
        format=stamp + "%(levelname)s %(name)s: %(message)s",
    )


for command in (ingest, status, sql, quarantine, store, config, watch):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run the command line, return its exit code."""
    return run(cli, argv)
