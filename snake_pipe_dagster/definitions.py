"""The one ``Definitions`` object; ``workspace.yaml`` points here."""

import dagster as dg

from .assets import ast_ingest
from .checks import ast_checks
from .jobs import full_reanalysis_job, incremental_ast_job
from .resources import SnakePipeResource
from .schedules import hourly_reconciliation_schedule, nightly_full_reanalysis_schedule
from .sensors import ast_change_sensor, repo_discovery_sensor

__all__ = ["defs"]

defs = dg.Definitions(
    assets=[ast_ingest],
    asset_checks=ast_checks,
    jobs=[incremental_ast_job, full_reanalysis_job],
    schedules=[hourly_reconciliation_schedule, nightly_full_reanalysis_schedule],
    sensors=[repo_discovery_sensor, ast_change_sensor],
    resources={"snake_pipe": SnakePipeResource()},
    # Runs launched from the UI (asset backfills) also run in process; see jobs.py.
    executor=dg.in_process_executor,
)
