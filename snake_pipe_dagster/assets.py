"""The three assets of a repository, materialized together by one pass of the engine.

``ast_manifest`` (discovery) → ``validated_ast_files`` (validation) → ``ast_metadata``
(extraction) read as three steps in the asset graph, but the engine reads, hashes, parses,
validates and measures every file once and commits a file's manifest row together with its
metadata or quarantine row in one transaction. So one ``multi_asset`` step runs
``ingest_repository`` and reports each asset from that one pass; it cannot be subset, because
the store cannot hold a manifest without verdicts nor verdicts without a manifest
(docs/decisions.md explains the choice).
"""

import os
import time
from collections.abc import Iterator
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from snake_pipe_core import IngestSummary, Progress, ingest_repository
from snake_pipe_core.processes import host_name

from .errors import ENGINE_RETRY_POLICY, engine_errors
from .partitions import repo_partitions
from .reporting import markdown_table
from .resources import SnakePipeResource
from .standing import Standing, quarantine_section, read_standing, this_run

__all__ = [
    "AST_ASSET_KEYS",
    "AST_MANIFEST",
    "AST_METADATA",
    "GROUP_NAME",
    "INGEST_STEP",
    "VALIDATED_AST_FILES",
    "IngestConfig",
    "ast_ingest",
]

GROUP_NAME = "ast_extract"
INGEST_STEP = "ast_ingest"
AST_MANIFEST = dg.AssetKey("ast_manifest")
VALIDATED_AST_FILES = dg.AssetKey("validated_ast_files")
AST_METADATA = dg.AssetKey("ast_metadata")
AST_ASSET_KEYS = (AST_MANIFEST, VALIDATED_AST_FILES, AST_METADATA)
_KINDS = {"duckdb", "python"}
_PROGRESS_EVERY_S = 5.0


class IngestConfig(dg.Config):
    """How to ingest one repository. Every field has a default, so UI backfills just work."""

    mode: Literal["incremental", "full"] = Field(
        default="incremental",
        description="incremental: read only new and changed files; full: re-read, re-hash and "
        "re-parse every file",
    )
    paths: list[str] | None = Field(
        default=None,
        description="Only look at these files or folders (relative to the repository root)",
    )
    allow_mass_delete: bool = Field(
        default=False,
        description="Confirm a run that marks most of the repository deleted (an unmounted "
        "disk looks like that)",
    )
    workers: int = Field(
        default=0, ge=0, description="Analysis worker processes (0: from the settings)"
    )


_MANIFEST_DOC = """Every AST file snake-pipe has found in the repository, with its one state
(extracted, quarantined, excluded or deleted), size, modification time and content hash.
It is discovery's result and the pipeline's checkpoint: the next run reads only the files
whose size or modification time differ from it. Deleted files keep their history.
SQL: `SELECT * FROM ast_files WHERE repo = '<partition>'`."""

_VALIDATED_DOC = """The verdict on every live file: valid AST JSON in a known format
(extracted), or quarantined with a reason code (invalid_json, unknown_format, too_deep, …)
and a human detail such as the line and column of a JSON error. A bad file is data to look
at, not a failed run. SQL: `SELECT * FROM quarantined_files WHERE repo = '<partition>'`."""

_METADATA_DOC = """What each valid file contains: format, language, parser, node count,
depth, functions, classes, imports and branches (a cyclomatic estimate), shared by identical
contents across paths and repositories. The input of the transform phase.
SQL: `SELECT * FROM extracted_files WHERE repo = '<partition>'`."""


def _spec(key: dg.AssetKey, doc: str, deps: list[dg.AssetKey]) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        description=doc,
        deps=deps,
        group_name=GROUP_NAME,
        kinds=_KINDS,
        partitions_def=repo_partitions,
    )


class _ProgressLog:
    """Logs the engine's progress at most every few seconds."""

    def __init__(self, context: dg.AssetExecutionContext) -> None:
        self.context = context
        self.last = time.monotonic()

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self.last >= _PROGRESS_EVERY_S:
            self.last = now
            planned = f"{p.planned}" if p.walk_complete else f"{p.planned}+"
            self.context.log.info(
                f"{p.repo}: {p.done}/{planned} files analysed, {p.bytes_done / 1e6:.1f} MB, "
                f"{p.discovered} discovered, {p.elapsed:.0f} s"
            )


@dg.multi_asset(
    name=INGEST_STEP,
    specs=[
        _spec(AST_MANIFEST, _MANIFEST_DOC, []),
        _spec(VALIDATED_AST_FILES, _VALIDATED_DOC, [AST_MANIFEST]),
        _spec(AST_METADATA, _METADATA_DOC, [VALIDATED_AST_FILES]),
    ],
    partitions_def=repo_partitions,
    can_subset=False,
    retry_policy=ENGINE_RETRY_POLICY,
    description="One pass of the engine over one repository: discovery, validation and "
    "extraction, committed together batch by batch.",
)
def ast_ingest(
    context: dg.AssetExecutionContext, config: IngestConfig, snake_pipe: SnakePipeResource
) -> Iterator[dg.MaterializeResult]:
    """Bring the store up to date with one repository (the partition)."""
    repo = context.partition_key
    with engine_errors(repo=repo, mode=config.mode):
        settings = snake_pipe.settings()
        root = snake_pipe.repository_root(settings, repo)  # an unknown partition stops here
        store = snake_pipe.store(settings)
        context.log.info(f"ingesting {repo} from {root} ({config.mode}) into {store.describe()}")
        summary = ingest_repository(
            root,
            store=store,
            settings=settings,
            repo=repo,
            mode=config.mode,
            paths=config.paths,
            allow_mass_delete=config.allow_mass_delete,
            trigger=f"dagster:{context.run.run_id}",
            # A retry of a run whose worker died: that run is over, whatever the store says.
            supersedes=[f"dagster:{parent}"] if (parent := context.run.parent_run_id) else [],
            progress=_ProgressLog(context),
            workers=config.workers or None,
            lock_timeout=snake_pipe.lock_timeout_seconds,
        )
        standing = read_standing(store, repo)
    context.log.info(
        f"{repo}: {summary.discovered} files, {summary.new} new, {summary.changed} changed, "
        f"{summary.deleted} deleted; {summary.extracted} extracted, {summary.quarantined} "
        f"quarantined in {summary.seconds:.1f} s"
    )
    about: dict[str, Any] = {
        "repo": repo,
        "store": store.describe(),
        "engine_run_id": summary.run_id,
        "mode": config.mode,
        "host": host_name(),
        "pid": os.getpid(),
    }
    # The page reads top-down: the totals now, this run, the quarantine, then provenance.
    run = _run_meta(summary)
    reasons = {"quarantine_reasons": quarantine_section(summary, standing)}
    yield dg.MaterializeResult(
        asset_key=AST_MANIFEST, metadata=_manifest_meta(standing) | run | about
    )
    yield dg.MaterializeResult(
        asset_key=VALIDATED_AST_FILES, metadata=_validated_meta(standing) | run | reasons | about
    )
    yield dg.MaterializeResult(
        asset_key=AST_METADATA, metadata=_metadata_meta(summary, standing) | run | reasons | about
    )


def _run_meta(s: IngestSummary) -> dict[str, Any]:
    """What this run changed: a JSON entry, its duration, and its rate when it read files."""
    meta: dict[str, Any] = {
        "this_run": dg.MetadataValue.json(this_run(s)),
        "seconds": round(s.seconds, 3),
    }
    if s.analysed:  # a no-op run has no rate; a 0 would pull the plot down
        meta["files_per_second"] = round(s.files_per_second, 1)
    return meta


def _manifest_meta(standing: Standing) -> dict[str, Any]:
    return {
        **standing.file_totals(),
        "files_by_state": dg.MetadataValue.md(
            markdown_table(("state", "files"), list(standing.files.items()))
        ),
    }


def _validated_meta(standing: Standing) -> dict[str, Any]:
    return {
        "files_extracted": standing.files["extracted"],
        "files_quarantined": standing.files["quarantined"],
        "quarantine_rate": standing.quarantine_rate,
    }


def _metadata_meta(s: IngestSummary, standing: Standing) -> dict[str, Any]:
    return {
        **standing.file_totals(),
        **standing.code_totals(),
        "languages": dg.MetadataValue.md(standing.languages_table(s.languages)),
        "quarantine_rate": standing.quarantine_rate,
    }
