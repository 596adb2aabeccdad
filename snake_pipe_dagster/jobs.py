"""Jobs: the incremental ingest (the everyday, low-latency path) and the full re-analysis.

Both run the one ingest step and its checks for one repository partition, in process: the
parallelism that matters is the engine's own worker pool inside the step, so a process per
Dagster step would only add start-up time. Every config field has a default, so a backfill
launched from the UI needs no config.
"""

import dagster as dg

from .assets import AST_ASSET_KEYS, INGEST_STEP, IngestConfig

__all__ = [
    "FULL_PRIORITY",
    "INCREMENTAL_PRIORITY",
    "MODE_TAG",
    "PRIORITY_TAG",
    "RECONCILIATION_PRIORITY",
    "ast_assets_selection",
    "full_reanalysis_job",
    "incremental_ast_job",
]

PRIORITY_TAG = "dagster/priority"
MODE_TAG = "snake_pipe/mode"
# The run queue starts higher priorities first; UI backfills run at the default, 0.
# Incremental runs (ast_change_sensor's) first; then the hourly reconciliation, short stat-only
# diffs that restore what nothing watched; the nightly full re-analysis last.
INCREMENTAL_PRIORITY = 10
RECONCILIATION_PRIORITY = 5
FULL_PRIORITY = -10

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
