"""The one ``Definitions`` object; ``workspace.yaml`` points here."""

import dagster as dg

from .assets import ast_ingest
from .checks import ast_checks
from .handoff import language_totals
from .jobs import full_reanalysis_job, incremental_ast_job, store_maintenance_job
from .resources import SnakePipeResource, StoreResource
from .schedules import (
    hourly_reconciliation_schedule,
    nightly_full_reanalysis_schedule,
    nightly_store_maintenance_schedule,
)
from .sensors import ast_change_sensor, repo_discovery_sensor

__all__ = ["defs"]

defs = dg.Definitions(
    assets=[ast_ingest, language_totals],
    asset_checks=ast_checks,
    jobs=[incremental_ast_job, full_reanalysis_job, store_maintenance_job],
    schedules=[
        hourly_reconciliation_schedule,
        nightly_full_reanalysis_schedule,
        nightly_store_maintenance_schedule,
    ],
    sensors=[repo_discovery_sensor, ast_change_sensor],
    resources={"snake_pipe": SnakePipeResource(), "snake_pipe_store": StoreResource()},
    # Runs launched from the UI (asset backfills) also run in process; see jobs.py.
    executor=dg.in_process_executor,
)
