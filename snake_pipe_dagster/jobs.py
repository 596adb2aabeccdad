"""Jobs: the incremental ingest (the everyday, low-latency path), the full re-analysis, and
the store's maintenance.

Both run the one ingest step and its checks for one repository partition, in process: the
parallelism that matters is the engine's own worker pool inside the step, so a process per
Dagster step would only add start-up time. Every config field has a default, so a backfill
launched from the UI needs no config.
"""

import dagster as dg

from snake_pipe_core import maintain

from .assets import AST_ASSET_KEYS, INGEST_STEP, IngestConfig
from .errors import ENGINE_RETRY_POLICY, engine_errors
from .resources import SnakePipeResource

__all__ = [
    "FULL_PRIORITY",
    "INCREMENTAL_PRIORITY",
    "MAINTENANCE_PRIORITY",
    "MODE_TAG",
    "PRIORITY_TAG",
    "RECONCILIATION_PRIORITY",
    "ast_assets_selection",
    "full_reanalysis_job",
    "incremental_ast_job",
    "store_maintenance",
    "store_maintenance_job",
]

PRIORITY_TAG = "dagster/priority"
MODE_TAG = "snake_pipe/mode"
# The run queue starts higher priorities first; UI backfills run at the default, 0.
# Incremental runs (ast_change_sensor's) first; then the hourly reconciliation, short stat-only
# diffs that restore what nothing watched; the nightly full re-analysis last.
INCREMENTAL_PRIORITY = 10
RECONCILIATION_PRIORITY = 5
FULL_PRIORITY = -10
MAINTENANCE_PRIORITY = -20  # after the night's full re-analysis

# The assets and (by default) their checks.
ast_assets_selection = dg.AssetSelection.assets(*AST_ASSET_KEYS)

incremental_ast_job = dg.define_asset_job(
    name="incremental_ast_job",
    selection=ast_assets_selection,
    executor_def=dg.in_process_executor,
    config=dg.RunConfig(ops={INGEST_STEP: IngestConfig(mode="incremental")}),
    tags={PRIORITY_TAG: str(INCREMENTAL_PRIORITY), MODE_TAG: "incremental"},
    description="Read only the new and changed files of one repository and check the store.",
)

full_reanalysis_job = dg.define_asset_job(
    name="full_reanalysis_job",
    selection=ast_assets_selection,
    executor_def=dg.in_process_executor,
    config=dg.RunConfig(ops={INGEST_STEP: IngestConfig(mode="full")}),
    tags={PRIORITY_TAG: str(FULL_PRIORITY), MODE_TAG: "full"},
    description="Re-read, re-hash and re-parse every file of one repository (after a parser or "
    "snake-pipe upgrade, or to catch anything incremental runs trusted wrongly).",
)


@dg.op(
    description="Compact the store: small files merged, old snapshots expired, "
    "unreferenced files deleted. Writers and readers go on meanwhile.",
    out=dg.Out(dg.Nothing),
    retry_policy=ENGINE_RETRY_POLICY,
)
def store_maintenance(
    context: dg.OpExecutionContext, snake_pipe: SnakePipeResource
) -> dg.Output[None]:
    """Run :func:`snake_pipe_core.maintain` and show what it did."""
    with engine_errors():
        settings = snake_pipe.settings()
        report = maintain(
            snake_pipe.store(settings),
            keep_snapshots_days=settings.maintenance.keep_snapshots_days,
        )
    d = report.as_dict()
    context.log.info(
        f"store maintenance: {d['files_before']} → {d['files_after']} data files, "
        f"{d['deleted_files']} files deleted in {d['seconds']:.1f} s"
    )
    return dg.Output(
        None,
        metadata={
            **{k: v for k, v in d.items() if k != "tables"},
            "tables": dg.MetadataValue.json(d["tables"]),
        },
    )


@dg.job(
    name="store_maintenance_job",
    executor_def=dg.in_process_executor,
    tags={PRIORITY_TAG: str(MAINTENANCE_PRIORITY)},
    description="Maintain the store (merge small files, expire old snapshots, delete "
    "unreferenced files); part of the nightly schedule, or launch it any time.",
)
def store_maintenance_job() -> None:
    store_maintenance()
