"""snake-pipe's engine: AST JSON trees on disk into a trustworthy DuckLake store.

The public API; nothing here imports Dagster. The file watcher itself needs inotify (Linux)
and lives in ``snake_pipe_core.watch`` (never imported from here); its journal and the one
consumer of it (``snake_pipe_core.journal``), which the Dagster sensor uses too, work
everywhere.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, for type checkers; at run time they load on first use
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

# Each name is imported from its module on first use (PEP 562), so that a process that needs
# one part of the engine (an analysis worker: no DuckDB, no Arrow, no journal) does not pay
# for loading all of it.
_WHERE = {
    "AnalysisSettings": ".analysis",
    "Analyzer": ".analysis",
    "AstFormat": ".formats",
    "AstMetadata": ".models",
    "Change": ".journal",
    "ChangeJournal": ".journal",
    "ConfigError": ".errors",
    "FileChange": ".journal",
    "FileState": ".models",
    "FileVerdict": ".models",
    "FormatRegistry": ".formats",
    "GenericFormat": ".formats",
    "IngestSummary": ".models",
    "JournalRecord": ".journal",
    "MassDeletionRefused": ".errors",
    "Progress": ".ingest",
    "Reason": ".models",
    "RepoChanges": ".journal",
    "RepositoryBusy": ".errors",
    "RepositoryError": ".errors",
    "RepositoryUnavailable": ".errors",
    "ScanEntry": ".models",
    "Settings": ".config",
    "SnakePipeError": ".errors",
    "Store": ".store",
    "StoreBusy": ".errors",
    "StoreDamaged": ".errors",
    "StoreError": ".errors",
    "StoreFull": ".errors",
    "StoreLocation": ".store",
    "StoreSchemaError": ".errors",
    "WatcherStatus": ".journal",
    "WorkItem": ".analysis",
    "connect_readonly": ".store",
    "group_changes": ".journal",
    "ingest_repository": ".ingest",
    "load_settings": ".config",
    "maintain": ".store",
    "slugify": ".config",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


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
