"""``snake-pipe quarantine list|show|retry|release``: the files that failed validation."""

import os
from pathlib import Path
from typing import Any

import click

from ..config import Settings
from ..ingest import ingest_repository
from ..store import Store
from .app import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    REASON,
    SnakePipeGroup,
    json_option,
    settings_of,
    store_options,
)
from .output import echo_json, error, safe, table
from .status import query_rows

__all__ = ["quarantine"]

_REPO = click.option("--repo", metavar="REPO", help="only this repository (its slug)")
_REASON = click.option("--reason", type=REASON, help="only this reason code (e.g. invalid_json)")


@click.group(cls=SnakePipeGroup)
def quarantine() -> None:
    """List, show, retry or release quarantined files."""


@quarantine.command("list")
@_REPO
@_REASON
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True,
              help="at most this many files")  # fmt: skip
@store_options
@json_option
@click.pass_context
def list_(
    ctx: click.Context, repo: str | None, reason: str | None, limit: int, as_json: bool
) -> int:
    """The quarantined files, by repository and reason."""
    rows = query_rows(
        settings_of(ctx),
        "SELECT repo, path, reason, attempts, detail FROM quarantined_files "
        "WHERE (? IS NULL OR repo = ?) AND (? IS NULL OR reason = ?) "
        "ORDER BY repo, reason, path LIMIT ?",
        [repo, repo, reason, reason, limit],
    )
    if as_json:
        echo_json(rows)
    else:
        table(rows, ["repo", "path", "reason", "attempts", "detail"], empty="nothing in quarantine")
    return EXIT_OK


def _as_stored(settings: Settings, path: str, repo: str | None) -> list[tuple[str, str]]:
    """(repo, repository-relative path) candidates for a path as the user typed it: relative
    to a repository's root, or a file on disk (absolute, or relative to the current folder)."""
    candidates = [(repo or "", path.replace(os.sep, "/"))]
    on_disk = Path(path).absolute()
    if on_disk.exists() or on_disk.is_symlink():
        for row in query_rows(settings, "SELECT repo, root FROM repos", []):
            name, root = row["repo"], row["root"]
            if repo and name != repo:
                continue
            try:
                rel = on_disk.relative_to(Path(root).absolute())
            except ValueError:
                try:
                    rel = on_disk.resolve().relative_to(Path(root).resolve())
                except ValueError:
                    continue
            candidates.append((name, rel.as_posix()))
    return candidates


def _lookup(
    settings: Settings, paths: tuple[str, ...], repo: str | None
) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for typed in paths:
        rows = []
        for name, rel in _as_stored(settings, typed, repo):
            rows += query_rows(
                settings,
                "SELECT * FROM quarantined_files WHERE path = ? AND (? = '' OR repo = ?)",
                [rel, name, name],
            )
        found[typed] = rows
    return found


@quarantine.command()
@click.argument("path")
@_REPO
@store_options
@json_option
@click.pass_context
def show(ctx: click.Context, path: str, repo: str | None, as_json: bool) -> int:
    """Everything known about one quarantined file: PATH relative to its repository's root,
    or the file on disk."""
    rows = _lookup(settings_of(ctx), (path,), repo)[path]
    if not rows:
        error(f"{path} is not in quarantine (`snake-pipe quarantine list` shows what is)")
        return EXIT_FAILED
    if as_json:
        echo_json(rows)
        return EXIT_OK
    for row in rows:
        for key, value in row.items():
            click.echo(f"{key:>12}: {safe(value) if value is not None else ''}")
    return EXIT_OK


def _targets(
    ctx: click.Context, paths: tuple[str, ...], repo: str | None, reason: str | None
) -> tuple[Settings, dict[str, list[str]]] | int:
    """Repository → repository-relative paths to act on; an exit code when there are none."""
    settings = settings_of(ctx)
    if not paths:
        rows = query_rows(
            settings,
            "SELECT repo, path FROM quarantined_files WHERE (? IS NULL OR repo = ?) "
            "AND (? IS NULL OR reason = ?)",
            [repo, repo, reason, reason],
        )
        if not rows:
            click.echo("nothing in quarantine" + (f" for {safe(repo)}" if repo else ""))
            return EXIT_OK
        if repo is None and len({r["repo"] for r in rows}) > 1:
            error("several repositories have quarantined files: pass --repo, or PATH...")
            return EXIT_USAGE
    else:
        found = _lookup(settings, paths, repo)
        unknown = [p for p, rows in found.items() if not rows]
        if unknown:
            error("not in quarantine: " + ", ".join(unknown)
                  + " (`snake-pipe quarantine list` shows what is)")  # fmt: skip
            return EXIT_FAILED
        rows = [r for rs in found.values() for r in rs]
    by_repo: dict[str, list[str]] = {}
    for r in rows:
        by_repo.setdefault(r["repo"], []).append(r["path"])
    return settings, by_repo


@quarantine.command()
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@_REPO
@_REASON
@store_options
@click.pass_context
def retry(ctx: click.Context, paths: tuple[str, ...], repo: str | None, reason: str | None) -> int:
    """Analyse quarantined files again (after a parser fix, say): PATH... or all of them."""
    targets = _targets(ctx, paths, repo, reason)
    if isinstance(targets, int):
        return targets
    settings, by_repo = targets
    store = Store(settings.store_location)
    for name, rels in sorted(by_repo.items()):
        roots = store.query("SELECT root FROM repos WHERE repo = ?", [name])
        if not roots:
            error(f"unknown repository {name!r}")
            return EXIT_USAGE
        summary = ingest_repository(
            roots[0][0], store=store, settings=settings, repo=name, paths=rels, retry=rels,
            trigger="cli-retry",
        )  # fmt: skip
        click.echo(f"retried {summary.analysed} file(s) of {safe(name)}: {summary.extracted} "
                   f"extracted, {summary.quarantined} still quarantined")  # fmt: skip
    return EXIT_OK


@quarantine.command()
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@_REPO
@_REASON
@store_options
@click.pass_context
def release(
    ctx: click.Context, paths: tuple[str, ...], repo: str | None, reason: str | None
) -> int:
    """Accept quarantined files as they are: excluded until their content changes."""
    targets = _targets(ctx, paths, repo, reason)
    if isinstance(targets, int):
        return targets
    settings, by_repo = targets
    store = Store(settings.store_location)
    for name, rels in sorted(by_repo.items()):
        n = store.release(name, rels)
        click.echo(f"released {n} file(s) of {safe(name)}: they stay excluded until their "
                   "content changes")  # fmt: skip
    return EXIT_OK
