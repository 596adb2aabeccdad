"""snake-pipe's engine: AST JSON trees on disk into a trustworthy DuckDB store.

The public API; nothing here imports Dagster.
"""

from .analysis import AnalysisSettings, Analyzer, WorkItem
from .config import Settings, load_settings, slugify
from .errors import (
    ConfigError,
    MassDeletionRefused,
    RepositoryError,
    RepositoryUnavailable,
    SnakePipeError,
    StoreError,
    StoreLockTimeout,
    StoreSchemaError,
)
from .formats import AstFormat, FormatRegistry, GenericFormat
from .ingest import Progress, ingest_repository
from .models import AstMetadata, FileState, FileVerdict, IngestSummary, Reason, ScanEntry
from .store import Store

__all__ = [
    "AnalysisSettings",
    "Analyzer",
    "AstFormat",
    "AstMetadata",
    "ConfigError",
    "FileState",
    "FileVerdict",
    "FormatRegistry",
    "GenericFormat",
    "IngestSummary",
    "MassDeletionRefused",
    "Progress",
    "Reason",
    "RepositoryError",
    "RepositoryUnavailable",
    "ScanEntry",
    "Settings",
    "SnakePipeError",
    "Store",
    "StoreError",
    "StoreLockTimeout",
    "StoreSchemaError",
    "WorkItem",
    "ingest_repository",
    "load_settings",
    "slugify",
]
__version__ = "0.1.0"
