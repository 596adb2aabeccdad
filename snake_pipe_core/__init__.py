"""snake-pipe's engine: AST JSON trees on disk into a trustworthy DuckLake store.

The public API; nothing here imports Dagster. The file watcher itself needs inotify (Linux)
and lives in ``snake_pipe_core.watch`` (never imported from here); its journal and the one
consumer of it (``snake_pipe_core.journal``), which the Dagster sensor uses too, work
everywhere.
"""

from .analysis import AnalysisSettings, Analyzer, WorkItem
from .config import Settings, load_settings, slugify
from .errors import (
    ConfigError,
    MassDeletionRefused,
    RepositoryBusy,
    RepositoryError,
    RepositoryUnavailable,
    SnakePipeError,
    StoreBusy,
    StoreDamaged,
    StoreError,
    StoreFull,
    StoreSchemaError,
)
from .formats import AstFormat, FormatRegistry, GenericFormat
from .ingest import Progress, ingest_repository
from .journal import (
    Change,
    ChangeJournal,
    FileChange,
    JournalRecord,
    RepoChanges,
    WatcherStatus,
    group_changes,
)
from .models import AstMetadata, FileState, FileVerdict, IngestSummary, Reason, ScanEntry
from .store import Store, StoreLocation, connect_readonly, maintain

__all__ = [
    "AnalysisSettings",
    "Analyzer",
    "AstFormat",
    "AstMetadata",
    "Change",
    "ChangeJournal",
    "ConfigError",
    "FileChange",
    "FileState",
    "FileVerdict",
    "FormatRegistry",
    "GenericFormat",
    "IngestSummary",
    "JournalRecord",
    "MassDeletionRefused",
    "Progress",
    "Reason",
    "RepoChanges",
    "RepositoryBusy",
    "RepositoryError",
    "RepositoryUnavailable",
    "ScanEntry",
    "Settings",
    "SnakePipeError",
    "Store",
    "StoreBusy",
    "StoreDamaged",
    "StoreError",
    "StoreFull",
    "StoreLocation",
    "StoreSchemaError",
    "WatcherStatus",
    "WorkItem",
    "connect_readonly",
    "group_changes",
    "ingest_repository",
    "load_settings",
    "maintain",
    "slugify",
]
__version__ = "0.1.0"
