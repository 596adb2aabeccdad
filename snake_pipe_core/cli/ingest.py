"""``snake-pipe ingest``: bring the store up to date with repositories."""

from pathlib import Path
from typing import Any

import click

from ..config import slugify
from ..errors import RepositoryError
from ..ingest import ingest_repository
from ..models import IngestSummary
from ..store import Store
from .app import EXIT_FAILED, EXIT_OK, EXIT_USAGE, json_option, settings_of, store_options
from .output import ProgressBar, echo_json, error, safe

__all__ = ["ingest"]

_TOTALS = ("discovered", "new", "changed", "unchanged", "deleted", "extracted", "quarantined",
           "excluded", "reused", "bytes_read")  # fmt: skip


def _summary_line(s: IngestSummary) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.reasons.items()))
    # A no-op run analysed nothing: a rate of 0 files/s would read as a stall.
    rate = f" ({s.files_per_second:.0f} files/s)" if s.analysed else ""
    return (
        f"{safe(s.repo)}: {s.discovered} files ({s.new} new, {s.changed} changed, "
        f"{s.unchanged} unchanged, {s.deleted} deleted) → {s.extracted} extracted, "
        f"{s.quarantined} quarantined{f' ({reasons})' if reasons else ''}, "
        f"{s.excluded} excluded in {s.seconds:.2f} s{rate}"
    )


def _aggregate(summaries: list[dict[str, Any]], failures: list[dict[str, str]]) -> dict[str, Any]:
    total: dict[str, Any] = {k: sum(s[k] for s in summaries) for k in _TOTALS}
    reasons: dict[str, int] = {}
    for s in summaries:
        for k, v in s["reasons"].items():
            reasons[k] = reasons.get(k, 0) + v
    total["reasons"] = dict(sorted(reasons.items()))
    total["status"] = "failed" if failures else "succeeded"
    total["repos"] = summaries
    total["failures"] = failures
    return total


@click.command(short_help="ingest repositories (each PATH is one)")
@click.argument("paths", nargs=-1, metavar="[PATH]...",
                type=click.Path(file_okay=False, path_type=Path))  # fmt: skip
@store_options
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    metavar="N",
    help="analysis processes (default: the configuration's `workers`; 0: one per core)",
)
@click.option("--full", is_flag=True, help="re-read, re-hash and re-parse every file")
@click.option("--allow-mass-delete", is_flag=True,
              help="confirm a run that would mark most of a repository deleted")  # fmt: skip
@json_option
@click.pass_context
def ingest(
    ctx: click.Context,
    paths: tuple[Path, ...],
    workers: int | None,
    full: bool,
    allow_mass_delete: bool,
    as_json: bool,
) -> int:
    """Ingest repositories: each PATH is one repository's root folder; without PATH, every
    configured repository. Quarantined files do not fail a run."""
    settings = settings_of(ctx, workers=workers)
    targets: list[tuple[str, Path]] = []
    for path in paths:
        if not path.is_dir():
            what = "does not exist" if not path.exists() else "is not a folder"
            error(f"PATH {path} {what}; pass a repository's root folder")
            return EXIT_USAGE
        targets.append((slugify(path.resolve().name), path))
    if not paths:
        targets = sorted(settings.repositories().items())
        if not targets:
            error("no repository to ingest: pass PATH..., or set `repo_roots` or [[repos]] in "
                  "the configuration (see `snake-pipe config show`)")  # fmt: skip
            return EXIT_USAGE
    store = Store(settings.store_location)
    bar = ProgressBar()
    summaries: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for repo, root in targets:
        try:
            summary = ingest_repository(
                root, store=store, settings=settings, repo=repo,
                mode="full" if full else "incremental", allow_mass_delete=allow_mass_delete,
                trigger="cli", progress=bar, workers=workers,
            )  # fmt: skip
        except RepositoryError as e:
            bar.close()
            error(f"{repo}: {e}")
            failures.append({"repo": repo, "error": str(e)})
            continue
        bar.close()
        summaries.append(summary.as_dict())
        if not as_json:
            click.echo(_summary_line(summary))
    if as_json:
        echo_json(_aggregate(summaries, failures))
    elif len(summaries) > 1:
        agg = _aggregate(summaries, failures)
        click.echo(
            f"total: {agg['discovered']} files in {len(summaries)} repositories → "
            f"{agg['extracted']} extracted, {agg['quarantined']} quarantined, "
            f"{agg['excluded']} excluded, {agg['deleted']} deleted; store {store.describe()}"
        )
    return EXIT_FAILED if failures else EXIT_OK
