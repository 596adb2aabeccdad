"""Reading the store from anywhere: a plain DuckDB connection, now or as of a past run.

:func:`connect_readonly` is what notebooks, pandas and polars, BI tools and the transform
phase use: a plain :class:`duckdb.DuckDBPyConnection` with the store attached read-only as
``snake`` and in use, so ``SELECT * FROM extracted_files`` works as is. It never waits for a
writer and never makes one fail.
"""

import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from ..errors import StoreError
from .lake import open_lake
from .location import StoreLocation
from .schema import SNAPSHOT_VARIABLE
from .store import Store, _check_schema

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["connect_readonly", "run_snapshot", "time_travel"]


def _location(store: "str | os.PathLike[str] | Store | StoreLocation | None") -> StoreLocation:
    if isinstance(store, Store):
        return store.location
    if isinstance(store, StoreLocation):
        return store
    if store is None:
        from ..config import load_settings

        settings: Settings = load_settings()
        return settings.store_location
    return StoreLocation.parse(store)


def connect_readonly(
    store: "str | os.PathLike[str] | Store | StoreLocation | None" = None,
    *,
    at_run: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A new DuckDB connection with the store attached read-only and its views in scope.

    Args:
        store: the store, as the ``store`` setting takes it (a folder, or a
            ``ducklake:…`` catalog); default: the configured one (``SNAKE_PIPE_STORE``,
            ``SNAKE_PIPE_CONFIG`` or ``./snake_pipe.toml``, else ``.snake_pipe/store``).
        at_run: answer as the store stood when this run finished (see :func:`time_travel`).

    Raises:
        StoreError: there is no store there yet, or it cannot be opened.
    """
    location = _location(store)
    try:
        con = open_lake(location, read_only=True)
    except StoreError:
        if not _on_read_only_media(location):
            raise
        con = open_lake(_catalog_copy(location), read_only=True)
    try:
        _check_schema(con, location)
        if at_run is not None:
            time_travel(con, run_snapshot(con, at_run))
    except BaseException:
        con.close()
        raise
    return con


def _on_read_only_media(location: StoreLocation) -> bool:
    """An embedded store whose folder cannot be written (a read-only mount, a CD, a snapshot):
    SQLite cannot open its WAL-mode catalog there unless the ``-shm`` file already exists, and
    its ``immutable`` mode, which needs none, would skip the commits still in the WAL."""
    catalog = location.sqlite_file
    if catalog is None or location.folder is None or not catalog.is_file():
        return False
    try:
        probe = tempfile.NamedTemporaryFile(dir=location.folder)
    except OSError as e:
        return e.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
    probe.close()
    return False


def _catalog_copy(location: StoreLocation) -> StoreLocation:
    """The store with its catalog (and its write-ahead log, which may hold the last commits)
    copied to this host's temporary folder: the catalog is small, the Parquet data is read
    where it is. Copies are reused while the catalog is unchanged."""
    assert location.sqlite_file is not None and location.folder is not None
    files = [location.sqlite_file, location.sqlite_file.with_name("catalog.sqlite-wal")]
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.exists()]
    key = f"{location.sqlite_file.resolve()}:{stats}".encode()
    copy = Path(tempfile.gettempdir()) / f"snake-pipe-ro-{hashlib.sha256(key).hexdigest()[:16]}"
    if not (copy / "catalog.sqlite").is_file():
        partial = copy.with_name(f"{copy.name}.{os.getpid()}")
        try:
            partial.mkdir(mode=0o700, exist_ok=True)
            for f in files:
                if f.exists():
                    shutil.copyfile(f, partial / f.name)
            partial.rename(copy)
        except OSError as e:
            shutil.rmtree(partial, ignore_errors=True)
            if not (copy / "catalog.sqlite").is_file():
                where = location.describe()
                raise StoreError(
                    f"cannot copy the read-only store's catalog at {where}: {e}"
                ) from e
    # Embedded, so that the original data path overrides the one the catalog recorded.
    data = location.data_path or f"{location.folder}{os.sep}data{os.sep}"
    return StoreLocation(f"sqlite:{copy / 'catalog.sqlite'}", data, copy)


def run_snapshot(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    """The snapshot of a run's last commit: the store as it stood when the run finished."""
    time_travel(con, None)
    rows = con.execute(
        "SELECT snapshot, status FROM runs WHERE run_id = ? OR run_id LIKE ? || '%' "
        "ORDER BY run_id",
        [run_id, run_id],
    ).fetchall()
    if not rows:
        listing = "SELECT run_id, repo, finished_at FROM runs ORDER BY started_at DESC"
        raise StoreError(f'no run {run_id!r} in the store: `snake-pipe sql "{listing}"` lists them')
    if len(rows) > 1:
        raise StoreError(f"{len(rows)} runs start with {run_id!r}: give more of the run id")
    snapshot, status = rows[0]
    if snapshot is None:
        raise StoreError(f"run {run_id!r} has not finished ({status}): nothing to travel to yet")
    return int(snapshot)


def time_travel(con: duckdb.DuckDBPyConnection, snapshot: int | None) -> None:
    """Make the store's views on ``con`` answer as of ``snapshot`` (None: now again)."""
    if snapshot is None:
        con.execute(f"RESET VARIABLE {SNAPSHOT_VARIABLE}")
    else:
        con.execute(f"SET VARIABLE {SNAPSHOT_VARIABLE} = ?::BIGINT", [snapshot])
