"""snake-pipe's engine: AST JSON trees on disk into a trustworthy DuckLake store.

The public API; nothing here imports Dagster. The file watcher itself needs inotify (Linux)
and lives in ``snake_pipe_core.watcher`` / ``snake_pipe_core.watch_service``; its journal,
which readers such as the Dagster sensor use, is exported here and works everywhere.
"""

from .analysis import AnalysisSettings, Analyzer, WorkItem
from .changes import Change, FileChange, JournalRecord, RepoChanges, group_changes
from .config import Settings, load_settings, slugify
from .errors import (
    ConfigError,
    MassDeletionRefused,
    RepositoryBusy,
    RepositoryError,
    RepositoryUnavailable,
    SnakePipeError,
    StoreBusy,
    StoreError,
    StoreSchemaError,
)
from .formats import AstFormat, FormatRegistry, GenericFormat
from .ingest import Progress, ingest_repository
from .journal import ChangeJournal, WatcherStatus
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
    "StoreError",
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
