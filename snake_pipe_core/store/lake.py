"""DuckDB connections with the store attached, and transactions that survive contention.

Extensions come from PyPI's ``duckdb-ext-*`` packages, installed beside the pinned DuckDB:
nothing is downloaded at run time, so an air-gapped host runs exactly what CI ran.

An embedded store's SQLite catalog runs in WAL mode, so readers never wait for a writer. Two
writers still take turns on the catalog for the instant of a commit, and SQLite tells the
second one "database is locked" at once instead of waiting; DuckLake itself reports a real
conflict the same way. :func:`in_transaction` retries such a commit after a short random
back-off, bounded, and counts the retries so that runs can report what contention cost.
"""

import logging
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from ..errors import StoreBusy, StoreError
from .faults import as_store_error
from .location import CATALOG_ALIAS, StoreLocation

__all__ = [
    "RETRY_DEADLINE_S",
    "RetryStats",
    "connect_config",
    "extension_directory",
    "in_transaction",
    "is_retryable",
    "keep_catalog_open",
    "open_lake",
    "prepare_sqlite_catalog",
    "retry_stats",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long a commit keeps retrying a busy catalog before the run fails with StoreBusy.
RETRY_DEADLINE_S = 120.0
_BACKOFF_FIRST_S = 0.005
_BACKOFF_MAX_S = 0.25
_RETRYABLE = (
    "database is locked",
    "database table is locked",
    "database is busy",
    "transaction conflict",
    "could not serialize access",
    "deadlock detected",
    "conflict on tuple",
    # DuckLake's own statements inside a commit (flushing inlined rows, say) report the busy
    # catalog this way when an earlier one met it.
    "current transaction is aborted",
)


def extension_directory() -> str:
    """The folder of the extensions installed by the ``duckdb-ext-*`` packages."""
    try:
        import duckdb_ext
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise StoreError(
            "the DuckLake extension is not installed: pip install 'duckdb==1.4.4' "
            "duckdb-ext-ducklake duckdb-ext-sqlite duckdb-ext-postgres"
        ) from e
    return str(duckdb_ext.get_extension_dir())


def connect_config() -> dict[str, Any]:
    """DuckDB's configuration for every connection snake-pipe opens: the extensions of the
    ``duckdb-ext-*`` packages, never downloaded.

    DuckDB checks an extension's signature each time a process loads it, hashing the whole
    file: 0.14 s for DuckLake and SQLite (100 MB), a tenth of an ingest of 4,600 files and most
    of a ``snake-pipe sql``. These files are inside the environment, installed by pip like the
    code that loads them, so whoever could replace one could replace that code as well: the
    check adds nothing here and is skipped. ``SNAKE_PIPE_VERIFY_EXTENSIONS=1`` keeps it
    (docs/decisions.md)."""
    config: dict[str, Any] = {
        "extension_directory": extension_directory(),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    }
    if os.environ.get("SNAKE_PIPE_VERIFY_EXTENSIONS", "") not in ("1", "true", "yes"):
        config["allow_unsigned_extensions"] = True
    return config


def _connect() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(config=connect_config())


class RetryStats:
    """Commits retried because the catalog was busy or DuckLake reported a conflict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.retries = 0
        self.waited_s = 0.0

    def add(self, waited: float) -> None:
        with self._lock:
            self.retries += 1
            self.waited_s += waited

    def snapshot(self) -> tuple[int, float]:
        with self._lock:
            return self.retries, self.waited_s


retry_stats = RetryStats()  # process-wide; runs report the difference over their lifetime


def is_retryable(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, duckdb.Error) and any(s in text for s in _RETRYABLE)


def in_transaction(
    con: duckdb.DuckDBPyConnection,
    work: Callable[[duckdb.DuckDBPyConnection], T],
    *,
    what: str,
    deadline_s: float = RETRY_DEADLINE_S,
) -> T:
    """Run ``work`` in one transaction and commit it; retry the whole transaction while the
    catalog is busy or DuckLake reports a conflict (bounded by ``deadline_s``)."""
    started = time.monotonic()
    delay = _BACKOFF_FIRST_S
    while True:
        con.execute("BEGIN TRANSACTION")
        try:
            result = work(con)
            con.execute("COMMIT")
            return result
        except duckdb.Error as e:
            _rollback(con)
            waited = time.monotonic() - started
            if not is_retryable(e):
                raise
            if waited >= deadline_s:
                raise StoreBusy(
                    f"{what}: the store's catalog stayed busy for {waited:.0f} s ({e}); "
                    "retry later, or look for a stuck writer"
                ) from e
            pause = random.uniform(delay / 2, delay)
            retry_stats.add(pause)
            log.debug("%s: catalog busy (%s); retrying in %.0f ms", what, e, pause * 1000)
            time.sleep(pause)
            delay = min(delay * 2, _BACKOFF_MAX_S)
        except BaseException:
            _rollback(con)
            raise


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction left open (a failed COMMIT already ended it)


def prepare_sqlite_catalog(path: Path) -> None:
    """Create a new catalog file in WAL mode before DuckLake fills it (a catalog DuckLake
    creates itself uses a rollback journal, in which readers and writers lock each other out).

    Only ever for a file nobody uses yet: SQLite's locks are POSIX record locks, which belong
    to the process, and closing *any* descriptor of the file drops every lock the process
    holds on it, DuckDB's included."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30)
        try:
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        fault = as_store_error(e, str(path), "the store's catalog")
        raise fault or StoreError(f"cannot create the store's catalog {path}: {e}") from e
    except OSError as e:
        fault = as_store_error(e, str(path.parent), "the store's catalog")
        raise fault or StoreError(f"cannot create the store's catalog {path}: {e}") from e


def open_lake(location: StoreLocation, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A new DuckDB connection with the store attached as ``snake`` and in use.

    A writer creates an embedded store that does not exist yet; a reader is told to run an
    ingest first."""
    legacy = location.legacy_store()
    if legacy is not None:
        raise StoreError(legacy_message(location, legacy))
    catalog_file = location.sqlite_file
    if catalog_file is not None and not catalog_file.exists():
        if read_only:
            raise StoreError(
                f"no store at {location.describe()}: run `snake-pipe ingest` first, or pass --store"
            )
        if (
            location.folder is not None
            and location.folder.exists()
            and not (location.folder.is_dir())
        ):
            raise StoreError(f"the store path {location.folder} is a file, not a store folder")
        prepare_sqlite_catalog(catalog_file)
    options = []
    if read_only:
        options.append("READ_ONLY")
    if location.data_path is not None:
        options.append(f"DATA_PATH '{_quote(location.data_path)}'")
        if location.embedded:
            options.append("OVERRIDE_DATA_PATH true")  # the folder may have been moved
    attach = f"ATTACH '{_quote(location.uri)}' AS {CATALOG_ALIAS} ({', '.join(options)})"
    con = _connect()
    deadline = time.monotonic() + RETRY_DEADLINE_S
    delay = _BACKOFF_FIRST_S
    while True:
        try:
            con.execute(attach)
            break
        except duckdb.Error as e:
            # Two processes creating a new catalog at once: the loser's CREATE TABLE finds the
            # winner's (PostgreSQL: "duplicate key value violates unique constraint"); attach
            # again, and the catalog is there.
            creating = "already exists" in str(e) or "duplicate key value" in str(e)
            if (is_retryable(e) or creating) and time.monotonic() < deadline:
                time.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, _BACKOFF_MAX_S)
                continue
            con.close()
            raise _attach_failure(location, e, read_only=read_only) from e
    con.execute(f"USE {CATALOG_ALIAS}")
    if catalog_file is not None and not read_only:
        keep_catalog_open(catalog_file)
    return con


def _attach_failure(location: StoreLocation, e: duckdb.Error, *, read_only: bool) -> StoreError:
    where = location.describe()
    if read_only and "Existing DuckLake" in str(e) and "does not exist" in str(e):
        # A catalog without DuckLake's tables: a writer is creating them this very moment
        # (or one stopped before it could).
        return StoreError(
            f"the store {where} is being created (its catalog has no tables yet): try again "
            "in a moment, or run `snake-pipe ingest`, which creates it"
        )
    folder = location.sqlite_file.parent if location.sqlite_file is not None else None
    return as_store_error(e, where, "the store's catalog", folder=folder) or StoreError(
        f"cannot open the store {where}: {e}"
    )


# The catalog keeper: a tiny process that holds one idle SQLite connection to the catalog
# for as long as the process that started it lives (it reads its stdin until EOF, which
# comes when that process exits or is killed: it leaves then), and leaves when the catalog
# is removed (looked at every 5 s).
_KEEPER = """
import os, sqlite3, sys, threading
path = sys.argv[1]
db = sqlite3.connect(path, timeout=60)
db.execute("SELECT count(*) FROM sqlite_master").fetchall()
reader = threading.Thread(target=sys.stdin.buffer.read, daemon=True)
reader.start()
while reader.is_alive() and os.path.exists(path):
    reader.join(5)
"""
_MAX_KEEPERS = 4
_KEEPER_EXIT_S = 5.0
_keepers: "OrderedDict[Path, subprocess.Popen[bytes]]" = OrderedDict()
_keepers_guard = threading.Lock()


def keep_catalog_open(catalog: Path) -> None:
    """Hold the SQLite catalog open from a keeper process while this process writes.

    DuckDB's SQLite opens the catalog for each transaction and closes it after. Whoever
    closes it last checkpoints the WAL and resets it under an exclusive lock, and anyone who
    opens the catalog meanwhile is told "busy", on which DuckDB's SQLite sleeps in one-second
    steps: readers and writers stalled for 0.5-1 s every few commits (measured with one writer
    and one plain reader; docs/decisions.md). While another process holds a connection, nobody
    closes it last: the WAL is checkpointed as it grows, without stopping anyone."""
    with _keepers_guard:
        proc = _keepers.get(catalog)
        if proc is not None and proc.poll() is None:
            _keepers.move_to_end(catalog)
            return
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _KEEPER, str(catalog)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
        except OSError as e:  # the store works without it, only slower under contention
            log.warning("could not start the catalog keeper for %s: %s", catalog, e)
            return
        threading.Thread(target=proc.wait, name="catalog-keeper-reaper", daemon=True).start()
        _keepers[catalog] = proc
        evicted = []
        while len(_keepers) > _MAX_KEEPERS:
            evicted.append(_keepers.popitem(last=False)[1])
    for oldest in evicted:  # outside the lock: each is waited for
        _stop_keeper(oldest)


def release_catalog(catalog: Path) -> None:
    """Stop this process's keeper of ``catalog`` (if any)."""
    with _keepers_guard:
        proc = _keepers.pop(catalog, None)
    if proc is not None:
        _stop_keeper(proc)


def release_all_catalogs() -> None:
    """Stop every keeper of this process. Each has closed its catalog when this returns: the
    store's files are at rest (a copy or a removal of the folder meets no SQLite closing a
    catalog, checkpointing its WAL and deleting it)."""
    with _keepers_guard:
        procs = list(_keepers.values())
        _keepers.clear()
    for proc in procs:
        _stop_keeper(proc)


def _stop_keeper(proc: "subprocess.Popen[bytes]") -> None:
    if proc.stdin is not None:
        try:
            proc.stdin.close()  # EOF: the keeper leaves
        except OSError:
            pass
    try:
        proc.wait(_KEEPER_EXIT_S)
    except subprocess.TimeoutExpired:  # a catalog on a stalled disk: do not hang on it
        log.warning("the catalog keeper %d did not leave within %g s", proc.pid, _KEEPER_EXIT_S)


def legacy_message(location: StoreLocation, legacy: Path) -> str:
    same = legacy == location.folder
    return (
        f"{legacy} is a store of snake-pipe 0.1 (one DuckDB file); stores are DuckLake folders "
        f"now. Run `snake-pipe store migrate{'' if same else f' --from {legacy}'}` to import "
        f"it into {location.describe()}"
        + (f" (the file is kept as {legacy}.v1-backup)" if same else "")
    )


def _quote(text: str) -> str:
    return text.replace("'", "''")
