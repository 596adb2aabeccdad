"""The DuckDB store: schema, migrations, locking and the batch write path."""

from .lock import repo_lock, store_lock
from .schema import SCHEMA_VERSION
from .store import ManifestRow, RunStart, Store, utcnow

__all__ = [
    "SCHEMA_VERSION",
    "ManifestRow",
    "RunStart",
    "Store",
    "repo_lock",
    "store_lock",
    "utcnow",
]
