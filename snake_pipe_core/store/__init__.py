"""The store: DuckLake tables and views, the batch write path, readers and maintenance."""

from .lake import in_transaction, retry_stats
from .location import CATALOG_ALIAS, StoreLocation
from .lock import repo_lock
from .maintenance import MaintenanceReport, maintain
from .readers import connect_readonly, run_snapshot, time_travel
from .schema import SCHEMA_VERSION, SNAPSHOT_VARIABLE
from .store import ManifestRow, QuarantineHistory, RunStart, Store, close_all, utcnow

__all__ = [
    "CATALOG_ALIAS",
    "SCHEMA_VERSION",
    "SNAPSHOT_VARIABLE",
    "MaintenanceReport",
    "ManifestRow",
    "QuarantineHistory",
    "RunStart",
    "Store",
    "StoreLocation",
    "close_all",
    "connect_readonly",
    "in_transaction",
    "maintain",
    "repo_lock",
    "retry_stats",
    "run_snapshot",
    "time_travel",
    "utcnow",
]
