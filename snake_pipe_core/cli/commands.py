"""The ``snake-pipe`` command group and its commands (see the package's docstring)."""

import logging

import click

from .app import SnakePipeGroup, store_options
from .config import config
from .ingest import ingest
from .quarantine import quarantine
from .status import status
from .store import sql, store
from .watch import watch

__all__ = ["cli"]


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
