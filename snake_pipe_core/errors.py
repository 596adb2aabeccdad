"""The exceptions snake-pipe raises for its own failures.

A bad *input file* is never an exception: it becomes a quarantine verdict with a reason code.
Exceptions are for problems with the program's environment or the user's request::

    SnakePipeError                    base of everything raised here
    ├── ConfigError                   invalid configuration (terminal)
    ├── RepositoryError               a repository cannot be ingested (terminal)
    │   ├── RepositoryUnavailable     root missing, unmounted, not a directory or unreadable
    │   └── MassDeletionRefused       the run would mark most of a repository deleted
    ├── RepositoryBusy                another run of it held its turn too long (transient)
    ├── StoreError                    the store cannot be used
    │   ├── StoreBusy                 the catalog stayed busy past the retry deadline (transient)
    │   ├── StoreDamaged              its catalog or data files are damaged (terminal)
    │   ├── StoreFull                 no space left on its device (transient: free space)
    │   └── StoreSchemaError          the store was written by a newer snake-pipe (terminal)
    ├── WatcherAlreadyRunning         another process watches for this journal
    └── JournalInUse                  another consumer applies this journal

``transient`` tells an orchestrator whether a retry may help.
"""

__all__ = [
    "ConfigError",
    "JournalInUse",
    "MassDeletionRefused",
    "RepositoryBusy",
    "RepositoryError",
    "RepositoryUnavailable",
    "SnakePipeError",
    "StoreBusy",
    "StoreDamaged",
    "StoreError",
    "StoreFull",
    "StoreSchemaError",
    "WatcherAlreadyRunning",
]


class SnakePipeError(Exception):
    """Base class of snake-pipe's own errors."""

    transient: bool = False


class ConfigError(SnakePipeError):
    """The configuration is invalid; the message names the key and what is wrong."""


class RepositoryError(SnakePipeError):
    """A repository cannot be ingested; nothing was changed in the store."""


class RepositoryUnavailable(RepositoryError):
    """The repository root is missing, unmounted, not a directory or unreadable."""


class MassDeletionRefused(RepositoryError):
    """The run would mark a large share of a repository deleted, which usually means an
    empty or unmounted mount point; confirm with ``allow_mass_delete`` to proceed."""


class RepositoryBusy(SnakePipeError):
    """Another run of the repository kept its turn longer than the configured wait."""

    transient = True


class StoreError(SnakePipeError):
    """The store cannot be opened or written."""


class StoreBusy(StoreError):
    """The store's catalog stayed busy (other writers committing) past the retry deadline."""

    transient = True


class StoreDamaged(StoreError):
    """A file of the store (its catalog, a data file, the change journal, the guard's state)
    is truncated or overwritten; the message names it and says how to recover."""


class StoreFull(StoreError):
    """The store's device is full. A batch that failed to commit was rolled back, so nothing
    committed was lost; a re-run after freeing space completes the work."""

    transient = True


class StoreSchemaError(StoreError):
    """The store's schema is newer than this version of snake-pipe understands."""


class WatcherAlreadyRunning(SnakePipeError):
    """Another process holds this journal's watcher lock (``pid`` when it could be read)."""

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class JournalInUse(SnakePipeError):
    """Another consumer (the Dagster sensor, another ``watch --ingest``) applies the journal."""
