"""``snake-pipe config show|check``."""

import click

from .app import EXIT_FAILED, EXIT_OK, SnakePipeGroup, json_option, settings_of, store_options
from .output import echo_json, safe

__all__ = ["config"]


@click.group(cls=SnakePipeGroup, short_help="the configuration: show, check")
def config() -> None:
    """The effective configuration (show), or whether everything it names is there (check)."""


@config.command()
@store_options
@click.option("--json", "as_json", is_flag=True, hidden=True, help="JSON (always)")
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> int:
    """Print the effective configuration, every default included, as JSON."""
    echo_json(settings_of(ctx).effective())
    return EXIT_OK


@config.command()
@store_options
@json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> int:
    """Is everything the configuration names there and reachable (store, roots, catalog)?"""
    from ..checkup import check_deployment

    checks = check_deployment(settings_of(ctx))
    if as_json:
        echo_json([c.as_dict() for c in checks])
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            click.echo(f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<{width}}  {safe(c.detail)}")
    return EXIT_OK if all(c.ok for c in checks) else EXIT_FAILED
