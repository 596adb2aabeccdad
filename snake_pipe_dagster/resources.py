"""Resources: snake-pipe's settings and store, and the store for downstream assets.

- ``SnakePipeResource`` (``snake_pipe``): what the ingest assets, checks, sensors and schedules
  need: the settings from the one TOML file, and the store;
- ``StoreResource`` (``snake_pipe_store``): a ``DuckDBResource`` whose connections have the
  store attached, for the transform phase's own assets. They read while ingests write.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from snake_pipe_core import RepositoryUnavailable, Settings, Store, load_settings
from snake_pipe_core.store import CATALOG_ALIAS, StoreLocation, connect_readonly

__all__ = ["PROJECT_CONFIG", "SnakePipeResource", "StoreResource"]

CONFIG_ENV = "SNAKE_PIPE_CONFIG"
# The project's default config, beside workspace.yaml; used when neither SNAKE_PIPE_CONFIG nor
# a ./snake_pipe.toml in the working directory names one (run workers may start elsewhere).
PROJECT_CONFIG = Path(__file__).resolve().parent.parent / "snake_pipe.toml"


class SnakePipeResource(dg.ConfigurableResource):
    """snake-pipe's settings and store, read from the same TOML file the CLI reads.

    The file is found as the engine finds it (``SNAKE_PIPE_CONFIG``, else ``./snake_pipe.toml``),
    falling back to the project's ``snake_pipe.toml``. It is re-read on every call, so an
    edited file takes effect at the next sensor tick or run without reloading the code.
    """

    config_file: str | None = Field(
        default=None, description="TOML config file; default $SNAKE_PIPE_CONFIG or snake_pipe.toml"
    )
    store_path: str | None = Field(
        default=None, description="Override the config's store (a folder, or ducklake:…)"
    )
    workers: int | None = Field(
        default=None, ge=0, description="Analysis worker processes per run (0: one per core)"
    )
    lock_timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Give up waiting for another run of the same repository after this long "
        "(default: wait)",
    )

    def config_path(self) -> str | None:
        """The config file this resource reads, or None for the engine's defaults."""
        if self.config_file:
            return self.config_file
        if os.environ.get(CONFIG_ENV) or Path("snake_pipe.toml").is_file():
            return None  # the engine's own lookup finds it
        return str(PROJECT_CONFIG) if PROJECT_CONFIG.is_file() else None

    def settings(self) -> Settings:
        """The effective settings; raises ``ConfigError`` naming the bad key."""
        return load_settings(self.config_path(), workers=self.workers, store=self.store_path)

    def store(self, settings: Settings | None = None) -> Store:
        """The store; it is attached once per process, on first use."""
        settings = settings or self.settings()
        return Store(settings.store_location)

    def repository_root(self, settings: Settings, repo: str) -> Path:
        """The root folder of a configured repository, by partition key.

        A repository folder that vanished from a ``repo_roots`` entry (or a whole root that
        is not mounted) is not configured any more, but the usual cause is a missing disk, not
        an edit: the error says which folder is missing, from the store's last known root.
        """
        roots = settings.repositories()
        if repo in roots:
            return roots[repo]
        source = settings.config_file or "the built-in defaults"
        missing_roots = [str(r) for r in settings.repo_roots if not r.is_dir()]
        last_root = self._last_known_root(settings, repo)
        if missing_roots:
            cause = f"repo_roots folder(s) missing (not mounted?): {', '.join(missing_roots)}"
        elif last_root is not None and not Path(last_root).is_dir():
            cause = f"its folder {last_root} is missing (moved, deleted or not mounted?)"
        elif last_root is not None:
            cause = f"it is not configured in {source} (removed from repo_roots or [[repos]]?)"
        else:
            known = ", ".join(sorted(roots)[:20]) or "none"
            raise RepositoryUnavailable(
                f"{repo!r} is not a configured repository, so there is nothing to ingest: the "
                f"partitions are the repositories configured in {source} ({known}). A partition "
                "added by hand does not create one: add the repository to repo_roots or "
                "[[repos]], or delete the partition"
            )
        raise RepositoryUnavailable(
            f"repository {repo!r} cannot be ingested: {cause}. Nothing was changed; its "
            "history stays in the store"
        )

    def _last_known_root(self, settings: Settings, repo: str) -> str | None:
        location = settings.store_location
        if location.sqlite_file is not None and not location.sqlite_file.exists():
            return None
        rows = self.store(settings).query("SELECT root FROM repos WHERE repo = ?", [repo])
        return str(rows[0][0]) if rows else None


class StoreResource(DuckDBResource):
    """The snake-pipe store for downstream assets: ``get_connection()`` yields a DuckDB
    connection with the store attached read-only as ``snake`` and in use, so
    ``SELECT … FROM extracted_files`` just works, while ingests, backfills and the watcher
    commit (readers never wait for writers). ``get_writer()`` attaches it read-write, for a
    downstream asset that keeps its results in the lake (in a schema of its own).

    ``database`` is DuckDB's own (in memory by default): the store is attached to it.
    """

    database: str = Field(default=":memory:", description="DuckDB's own database (in memory)")
    store: str | None = Field(
        default=None,
        description="The store (a folder, or ducklake:…); default: the configured one",
    )
    config_file: str | None = Field(
        default=None, description="TOML config file; default $SNAKE_PIPE_CONFIG or snake_pipe.toml"
    )

    def location(self) -> StoreLocation:
        if self.store:
            return StoreLocation.parse(self.store)
        return SnakePipeResource(config_file=self.config_file).settings().store_location

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:  # type: ignore[override]
        con = connect_readonly(self.location())
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def get_writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with the store attached read-write (commit with
        ``snake_pipe_core.store.in_transaction``, which retries a busy catalog)."""
        con = Store(self.location()).connect()
        with con as cursor:
            yield cursor

    def current_snapshot(self, con: duckdb.DuckDBPyConnection) -> int:
        row: Any = con.execute(
            f"SELECT max(snapshot_id) FROM ducklake_snapshots('{CATALOG_ALIAS}')"
        ).fetchone()
        return int(row[0] or 0)
