"""The command group, the options every command shares, and the one place errors become
exit codes and messages in snake-pipe's own words."""

import difflib
import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from ..config import Settings, load_settings
from ..errors import ConfigError, SnakePipeError, StoreError
from ..models import Reason
from .output import error

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_STORE",
    "EXIT_USAGE",
    "EXIT_WATCHER_RUNNING",
    "REASON",
    "SnakePipeGroup",
    "json_option",
    "our_words",
    "run",
    "settings_of",
    "store_options",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORE, EXIT_WATCHER_RUNNING = 0, 1, 2, 3, 4
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


class SnakePipeGroup(click.Group):
    """A group that answers a typo'd command with the closest one."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            commands = self.list_commands(ctx)
            raise click.UsageError(
                f"no command {name!r}{did_you_mean(name, commands)} "
                f"(commands: {', '.join(commands)})",
                ctx,
            )
        return super().resolve_command(ctx, args)


class ReasonType(click.ParamType[str]):
    """A quarantine reason code; anything else is refused with the valid list."""

    name = "REASON"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        codes = [r.value for r in Reason]
        if value in codes:
            return str(value)
        self.fail(
            f"unknown reason {value!r}{did_you_mean(str(value), codes)} "
            f"(reasons: {', '.join(codes)})",
            param,
            ctx,
        )


REASON = ReasonType()


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and param.name is not None:
        ctx.ensure_object(dict)[param.name] = value
    return value


_CONFIG_HELP = "the TOML configuration (default: $SNAKE_PIPE_CONFIG, else ./snake_pipe.toml)"
_STORE_OPTIONS = (
    click.option(
        "--config", metavar="FILE", help=_CONFIG_HELP, expose_value=False, callback=_remember
    ),
    click.option(
        "--store",
        metavar="STORE",
        help="the store: a folder, or a DuckLake catalog (ducklake:postgres:…); default "
        "$SNAKE_PIPE_STORE, the configuration's `store`, or .snake_pipe/store",
        expose_value=False,
        callback=_remember,
    ),
    click.option(
        "--store-data",
        metavar="PATH",
        help="where a new catalog's Parquet files go (default $SNAKE_PIPE_STORE_DATA or the "
        "configuration's `store_data`)",
        expose_value=False,
        callback=_remember,
    ),
)


def store_options(f: F) -> F:
    """--config, --store and --store-data, accepted anywhere on the command's line."""
    for option in reversed(_STORE_OPTIONS):
        f = option(f)
    return f


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="print JSON (for scripts)")(f)


def settings_of(ctx: click.Context, *, workers: int | None = None) -> Settings:
    """The effective settings for this command line (flags win over the environment and
    the configuration file)."""
    given: dict[str, Any] = ctx.find_object(dict) or {}
    return load_settings(
        given.get("config"),
        store=given.get("store"),
        store_data=given.get("store_data"),
        workers=workers,
        override_labels={"store": "--store", "store_data": "--store-data", "workers": "--workers"},
    )


# DuckDB's advice names flags of its own CLI, which snake-pipe does not have.
_FOREIGN_ADVICE = re.compile(
    r"\s*See also https?://\S+"
    r"|\s*However, you would be able to open this database in read-only mode[^\n]*?"
    r"-readonly parameter in the CLI\.?"
)


def our_words(e: BaseException) -> str:
    """An error's text without advice about tools snake-pipe does not have."""
    text = _FOREIGN_ADVICE.sub("", str(e)).strip()
    if "Conflicting lock" in text:
        text += (
            " (another process has this DuckDB file open for writing; snake-pipe's own "
            "store is read beside its writers with `snake-pipe sql` or connect_readonly())"
        )
    return text


def run(group: click.Group, argv: Sequence[str] | None) -> int:
    """Run the command line; every outcome is an exit code (see the README). With ``--json``
    an error is also a JSON document on stdout, ``{"error": …, "kind": …, "exit_code": …}``,
    so that a script reading stdout learns what happened."""
    args = list(sys.argv[1:] if argv is None else argv)

    def failed(e: BaseException, kind: str, code: int) -> int:
        message = our_words(e)
        error(message)
        if "--json" in args:
            click.echo(json.dumps({"error": message, "kind": kind, "exit_code": code}))
        return code

    try:
        result = group.main(args=args, prog_name="snake-pipe", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx else str(e), err=True)
        return EXIT_USAGE
    except click.UsageError as e:
        command = e.ctx.command_path if e.ctx else "snake-pipe"
        error(f"{e.format_message()}\n(`{command} --help` lists the options)")
        return EXIT_USAGE
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.Abort:
        error("interrupted")
        return 130
    except ConfigError as e:
        return failed(e, "config", EXIT_USAGE)
    except StoreError as e:
        return failed(e, "store", EXIT_STORE)
    except SnakePipeError as e:
        return failed(e, "failed", EXIT_FAILED)
    except KeyboardInterrupt:
        error("interrupted; committed batches are kept, run again to resume")
        return 130
    return int(result or 0)
