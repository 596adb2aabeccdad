"""The store: a DuckLake of append-only tables, written in one transaction per batch.

A batch of verdicts is committed in one transaction that appends the files' new versions,
the metadata of contents analysed for the first time and the run's checkpoint. After a crash
at any instant, the next run's diff finds exactly the files whose transaction never
committed: nothing is lost, nothing is done twice.

No snake-pipe lock stands between readers and writers: DuckLake gives every transaction a
consistent snapshot, readers of the WAL-mode catalog never wait, and a writer whose commit
meets a busy catalog retries (:func:`~snake_pipe_core.store.lake.in_transaction`). Runs of
one repository still take turns (:func:`~snake_pipe_core.store.lock.repo_lock`).
"""

import logging
import os
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import orjson
import pyarrow as pa

from ..errors import StoreError, StoreSchemaError
from ..hashes import CONTENT_HASHES, KnownHashes
from ..ingest.results import MANIFEST_COLUMNS, METADATA_COLUMNS, Results
from ..models import IngestSummary
from ..processes import available_cores, collector_paused, host_name, pid_alive
from .faults import as_store_error, is_full
from .lake import in_transaction, open_lake, release_all_catalogs, release_catalog, retry_stats
from .location import CATALOG_ALIAS, METADATA_ALIAS, StoreLocation
from .lock import setup_lock
from .schema import (
    DATA_INLINING_ROW_LIMIT,
    FILE_LANGUAGE,
    MIGRATIONS,
    ROW_SNAPSHOT,
    SCHEMA_VERSION,
    VIEWS,
)

__all__ = ["ManifestRow", "QuarantineHistory", "RunStart", "Store", "close_all", "utcnow"]

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ManifestRow(NamedTuple):
    """What the manifest knows of a live file; the diff compares it with the walk.

    Not its content hash: a file whose stat changed is read, and its content is reused when
    its hash is among the store's analysed contents (``known_hashes``), its own previous one
    included. One fewer string a file: 110 MB on a 1,000,000-file repository."""

    size: int
    mtime_ns: int
    state: str
    reason: str | None
    attempts: int | None = None
    quarantined_since: datetime | None = None


class QuarantineHistory(NamedTuple):
    """How long a file has waited in quarantine, carried into its next version."""

    attempts: int
    since: datetime


class RunStart(NamedTuple):
    """A registered run, the manifest its diff starts from, and the store's content hash."""

    run_id: str
    manifest: dict[str, ManifestRow]
    content_hash: str


_BATCH_SCHEMA = pa.schema(
    list(
        zip(
            MANIFEST_COLUMNS, [pa.string(), pa.int64(), pa.int64(), *[pa.string()] * 6], strict=True
        )
    )
)
_META_TYPES = [*[pa.string()] * 6, *[pa.int64()] * 6, pa.string(), *[pa.int64()] * 2, pa.string()]
_META_SCHEMA = pa.schema(list(zip(METADATA_COLUMNS, _META_TYPES, strict=True)))
_HISTORY_SCHEMA = pa.schema([("path", pa.string()), ("attempts", pa.int64()),
                             ("since", pa.timestamp("us"))])  # fmt: skip
_PATHS_SCHEMA = pa.schema([("path", pa.string())])
_PREFIX_SCHEMA = pa.schema([("p", pa.string())])
_META_COLUMN_LIST = ", ".join(METADATA_COLUMNS)


class _Instance:
    """One DuckDB database per process and store, with the lake attached; every use gets a
    cursor of its own (DuckDB connections are per thread). Attaching loads two extensions
    and reads the catalog, ~0.15 s: paid once, not per query."""

    def __init__(self, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.con = con
        self.read_only = read_only


_instances: dict[tuple[StoreLocation, bool], _Instance] = {}
_instances_guard = threading.Lock()
_pid = os.getpid()


def close_all() -> None:
    """Close every store this process has open (each reopens on next use): what a process
    about to exit does, so that a PostgreSQL catalog sees its connections end properly and
    a SQLite catalog is at rest when the process ends (its keepers have left)."""
    with _instances_guard:
        instances = list(_instances.values())
        _instances.clear()
    for instance in instances:
        instance.con.close()
    release_all_catalogs()


class Store:
    """A snake-pipe store: an embedded folder, or a DuckLake catalog shared by many hosts."""

    def __init__(
        self, store: "str | os.PathLike[str] | StoreLocation", *, data_path: str | None = None
    ) -> None:
        self.location = (
            store if isinstance(store, StoreLocation) else StoreLocation.parse(store, data_path)
        )

    @property
    def path(self) -> Path:
        """The embedded store's folder, or this host's state folder for an external one."""
        return self.location.folder or self.location.local_state()

    def __repr__(self) -> str:
        return f"Store({self.location.describe()!r})"

    def describe(self) -> str:
        return self.location.describe()

    # -- connections ---------------------------------------------------------------------

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection (a cursor of this process's database) with the store in use."""
        cursor = self._instance(read_only).con.cursor()
        try:
            cursor.execute(f"USE {CATALOG_ALIAS}")
            yield cursor
        except duckdb.Error as e:  # a damaged or full store says so; anything else is raised
            raise self._fault(e) from e
        finally:
            cursor.close()

    def _fault(self, e: BaseException) -> BaseException:
        """``e`` as the :class:`StoreError` that says what it means, or ``e`` itself."""
        where, folder = self.location.describe(), self.location.folder
        if is_full(e, folder) and self.location.data_path is not None:
            where = self.location.data_path
        return as_store_error(e, where, folder=folder) or e

    def _instance(self, read_only: bool) -> _Instance:
        global _pid
        with _instances_guard:
            if os.getpid() != _pid:  # a forked child must not share its parent's database
                _instances.clear()
                _pid = os.getpid()
            writer = _instances.get((self.location, False))
            if writer is not None:
                return writer
            if read_only and (found := _instances.get((self.location, True))) is not None:
                return found
            if read_only:
                con = self._set_up(read_only=True)
            else:
                with setup_lock(self.location.local_state()):
                    con = self._set_up(read_only=False)
            instance = _Instance(con, read_only)
            _instances[(self.location, read_only)] = instance
            return instance

    def _set_up(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        con = open_lake(self.location, read_only=read_only)
        try:
            if read_only:
                _check_schema(con, self.location)
            else:
                _migrate(con, self.location)
        except duckdb.Error as e:
            con.close()
            raise self._fault(e) from e
        except BaseException:
            con.close()
            raise
        return con

    def open(self, *, read_only: bool = False) -> "Store":
        """Open (a writer: create or upgrade) the store now, so that a store that cannot be
        used says so before any work starts."""
        self._instance(read_only)
        return self

    @contextmanager
    def sharing_cores(self, busy: int) -> Iterator[None]:
        """While the block runs, this process's DuckDB for the store works on the cores that
        ``busy`` other processes (a run's analysis workers) leave it, at least one.

        DuckDB starts a thread per core. A run's commits are bursts of short statements, and
        with the default its threads competed for every core with the analysis workers, which
        had them all: one 20,000-row commit took 109-114 ms of CPU with 2 threads and 91-96
        ms with one, in the same time; a 100,000-file ingest on 2 cores 5.51 -> 5.13 s of CPU
        in all its processes and 3.09 -> 2.90 s (paired 1.08, 9 rounds, alternating). The
        setting is the whole database's (DuckDB has no thread count per query): this
        process's other queries of the store meanwhile run on the cores left too. It is put
        back when the block ends; a store that fails meanwhile says so at its next statement,
        not here."""
        if busy <= 0:
            yield
            return
        left = max(1, available_cores() - busy)
        with self._instance(False).con.cursor() as cursor:
            try:
                row = cursor.execute("SELECT current_setting('threads')").fetchone()
                before = int(row[0]) if row else left
                if left < before:
                    cursor.execute(f"SET threads = {left}")
            except duckdb.Error as e:
                log.debug("DuckDB's threads stay as they are: %s", e)
                before = left
            try:
                yield
            finally:
                if left < before:
                    try:
                        cursor.execute(f"SET threads = {before}")
                    except duckdb.Error as e:
                        log.debug("DuckDB's threads not put back: %s", e)

    def close(self) -> None:
        """Close this process's connections to the store (they reopen on next use)."""
        with _instances_guard:
            for read_only in (False, True):
                instance = _instances.pop((self.location, read_only), None)
                if instance is not None:
                    instance.con.close()
        if self.location.sqlite_file is not None:
            release_catalog(self.location.sqlite_file)

    def current_snapshot(self) -> int:
        """The id of the store's newest snapshot."""
        with self.connect(read_only=True) as con:
            row = con.execute(
                f"SELECT max(snapshot_id) FROM ducklake_snapshots('{CATALOG_ALIAS}')"
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # -- reads for the engine ----------------------------------------------------------------

    def load_manifest(
        self, repo: str, *, prefixes: Sequence[str] | None = None
    ) -> dict[str, ManifestRow]:
        """Every live (not deleted) file of a repository by stored path; with ``prefixes``,
        only the files at or under those relative paths (in stored form)."""
        with self.connect(read_only=True) as con:
            return _load_manifest(con, repo, prefixes)

    def content_hash(self) -> str:
        """The hash of the store's ``content_hash`` values (a name in
        ``hashes.CONTENT_HASHES``): ``blake3``, or ``sha256`` for a store that held sha256
        hashes before BLAKE3 came."""
        with self.connect(read_only=True) as con:
            return _content_hash(con, self.location)

    def known_hashes(self, among: Collection[str] | None = None) -> KnownHashes:
        """Content hashes that already have metadata (any path, any repository): all of them,
        or only those ``among`` the given hex digests."""
        sql = "SELECT DISTINCT unhex(content_hash) FROM analyses WHERE length(content_hash) = 64"
        with self.connect(read_only=True) as con:
            if among is None:
                t = _arrow(con, sql + " ORDER BY 1", [])
            else:
                t = _arrow(
                    con, sql + " AND content_hash IN (SELECT unnest(?)) ORDER BY 1", [list(among)]
                )
        return KnownHashes.from_sorted_arrow(t.column(0))

    # -- runs and checkpoints ------------------------------------------------------------------

    def begin_run(
        self,
        repo: str,
        root: str,
        *,
        mode: str,
        trigger: str | None,
        prefixes: Sequence[str] | None = None,
        supersedes: Sequence[str] = (),
    ) -> RunStart:
        """Register a run of ``repo`` and read the manifest its diff starts from (files at or
        under ``prefixes`` only, when given). Runs of ``repo`` still marked running whose
        trigger is in ``supersedes`` (a Dagster run this one retries, on whatever host) are
        recorded as interrupted."""
        run_id = f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        host = host_name()

        def register(con: duckdb.DuckDBPyConnection) -> None:
            now = utcnow()
            # Runs of this host whose process is gone were killed, and so were the runs this
            # one retries: say so in the audit trail.
            running = con.execute(
                "SELECT run_id, pid, host, trigger FROM runs WHERE repo = ? AND status = 'running'",
                [repo],
            ).fetchall()
            for dead, pid, on_host, by in running:
                if on_host == host and not pid_alive(pid):
                    why = "the process ended before the run finished"
                elif by is not None and by in supersedes:
                    why = f"its orchestrator gave up on it and retried it ({trigger})"
                else:
                    continue
                con.execute(
                    "INSERT INTO run_ends VALUES (?, ?, ?, 'interrupted', ?, NULL)",
                    [dead, repo, now, f"{why}; its committed batches are kept"],
                )
            con.execute(
                "INSERT INTO run_starts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, repo, root, mode, trigger, now, host, os.getpid()],
            )

        with self.connect() as con:
            in_transaction(con, register, what=f"starting a run of {repo}")
            manifest = _load_manifest(con, repo, prefixes)
            algorithm = _content_hash(con, self.location)
        return RunStart(run_id, manifest, algorithm)

    def finish_run(
        self,
        summary: IngestSummary,
        *,
        status: str,
        error: str | None = None,
        deleted: Sequence[str] = (),
        languages: Mapping[str, int] | None = None,
        unresolved: Sequence[str] = (),
    ) -> None:
        """End a run in one transaction: append a ``deleted`` version of each path in
        ``deleted`` (files gone from disk; their history stays), fill the summary's
        ``languages`` (files this run extracted) and ``totals`` (the repository's files by
        state now), and record it.

        ``languages`` is what the run counted itself (extracted files by language), and
        ``unresolved`` the stored paths of the extracted files it could not count (contents
        analysed before), whose language is read here."""
        repo, run_id = summary.repo, summary.run_id

        def finish(con: duckdb.DuckDBPyConnection) -> None:
            now = utcnow()
            if deleted:
                _read_once(con, "gone_v", _table([list(deleted)], _PATHS_SCHEMA))
                con.execute(
                    "INSERT INTO file_versions SELECT repo, path, size_bytes, mtime_ns, "
                    "content_hash, format, name_language, 'deleted', NULL, NULL, NULL, NULL, "
                    "?, ? FROM manifest WHERE repo = ? AND state <> 'deleted' "
                    "AND path IN (SELECT path FROM gone_v)",
                    [now, run_id, repo],
                )
            if status == "succeeded" and (summary.extracted or summary.reused):
                summary.languages = _run_languages(con, repo, run_id, languages, unresolved)
            if status == "succeeded":
                rows = con.execute(_TOTALS, [repo]).fetchall()
                summary.totals = {state: n for state, n in rows}
            con.execute(
                "INSERT INTO run_ends VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, repo, now, status, error, orjson.dumps(summary.as_dict()).decode()],
            )

        with self.connect() as con:
            in_transaction(con, finish, what=f"finishing run {run_id} of {repo}")
            if deleted:
                con.unregister("gone_v")

    # -- the write path ------------------------------------------------------------------------

    def commit_batch(
        self,
        repo: str,
        run_id: str,
        batch: Results,
        *,
        batch_no: int,
        planned: int,
        done: int,
        quarantined_before: Mapping[str, QuarantineHistory] | None = None,
    ) -> None:
        """Commit one batch — the files' new versions, the metadata of contents analysed for
        the first time, and the run's checkpoint — in one transaction.

        ``quarantined_before`` holds the files that were already in quarantine when the run
        began, so that a file quarantined again keeps its count of attempts and the date it
        entered quarantine."""
        rows = _table(_columns(batch.rows, len(MANIFEST_COLUMNS)), _BATCH_SCHEMA)
        meta_table = (
            _table(_columns(batch.metas, len(METADATA_COLUMNS)), _META_SCHEMA)
            if batch.metas
            else None
        )
        history = None
        if batch.quarantined and quarantined_before:
            paths = list(quarantined_before)
            history = _table(
                [
                    paths,
                    [quarantined_before[p].attempts for p in paths],
                    [quarantined_before[p].since for p in paths],
                ],
                _HISTORY_SCHEMA,
            )

        def commit(con: duckdb.DuckDBPyConnection) -> None:
            now = utcnow()
            if meta_table is not None:
                _read_once(con, "meta_v", meta_table)
                con.execute(
                    f"INSERT INTO analyses SELECT {_META_COLUMN_LIST}, ?::TIMESTAMP FROM meta_v",
                    [now],
                )
            _read_once(con, "batch_v", rows)
            if history is not None:
                _read_once(con, "history_v", history)
            con.execute(_INSERT_VERSIONS if history is not None else _INSERT_VERSIONS_NO_HISTORY,
                        [repo, now, now, run_id])  # fmt: skip
            con.execute(
                "INSERT INTO run_progress VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, repo, batch_no, planned, done, now],
            )

        with self.connect() as con:
            in_transaction(con, commit, what=f"committing batch {batch_no} of {repo}")

    def release(self, repo: str, paths: Sequence[str]) -> int:
        """Accept quarantined files as they are: they become ``excluded`` (rule ``released``)
        until their content changes."""
        table = _table([list(paths)], _PATHS_SCHEMA)

        def release(con: duckdb.DuckDBPyConnection) -> int:
            now = utcnow()
            _read_once(con, "rel_v", table)
            released = con.execute(
                "SELECT count(*) FROM manifest WHERE repo = ? AND state = 'quarantined' "
                "AND path IN (SELECT path FROM rel_v)",
                [repo],
            ).fetchall()[0][0]
            _read_once(con, "rel_v", table)
            con.execute(
                "INSERT INTO file_versions SELECT repo, path, size_bytes, mtime_ns, "
                "content_hash, format, name_language, 'excluded', 'released', NULL, NULL, NULL, "
                "?, 'release' FROM manifest WHERE repo = ? AND state = 'quarantined' "
                "AND path IN (SELECT path FROM rel_v)",
                [now, repo],
            )
            return int(released)

        with self.connect() as con:
            return in_transaction(con, release, what=f"releasing files of {repo}")

    # -- queries for people ------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query and fetch all rows."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()

    def query_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.connect(read_only=True) as con:
            cur = con.execute(sql, list(params))
            names = [d[0] for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    @staticmethod
    def retries() -> int:
        """Commits retried by this process because the catalog was busy (all stores)."""
        return retry_stats.snapshot()[0]


def _check_schema(con: duckdb.DuckDBPyConnection, location: StoreLocation) -> None:
    try:
        version = _schema_version(con)
    except duckdb.Error as e:  # readers (connect_readonly) meet a damaged store here first
        fault = as_store_error(e, location.describe())
        if fault is None:  # a catalog an ingest is creating this very moment, say
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            fault = StoreError(
                f"cannot read the schema version of the store {location.describe()} ({first}): "
                "if an ingest is creating it, try again in a moment"
            )
        raise fault from e
    if version > SCHEMA_VERSION:
        raise StoreSchemaError(_too_new(location, version))
    if version < SCHEMA_VERSION:
        raise StoreError(
            f"the store {location.describe()} is not ready yet (schema version {version} of "
            f"{SCHEMA_VERSION}): run `snake-pipe ingest`, which creates and upgrades it"
        )


def _schema_version(con: duckdb.DuckDBPyConnection) -> int:
    # From DuckLake's own catalog tables, not duckdb_tables(): listing tables asks DuckLake
    # for every table's statistics, which fails inside it ("GetValueInternal on a value that
    # is NULL") while another process gives a new store's tables their first rows (CI).
    exists = con.execute(
        f"SELECT count(*) FROM {METADATA_ALIAS}.ducklake_table "
        "WHERE table_name = 'schema_migrations' AND end_snapshot IS NULL"
    ).fetchall()[0][0]
    if not exists:
        return 0
    row = con.execute("SELECT max(version) FROM schema_migrations").fetchall()
    return int(row[0][0] or 0)


def _content_hash(con: duckdb.DuckDBPyConnection, location: StoreLocation) -> str:
    row = con.execute(
        f"SELECT arg_max(value, ({ROW_SNAPSHOT}, set_at)) FROM store_settings "
        "WHERE name = 'content_hash'"
    ).fetchall()
    name = row[0][0] if row else None
    if name not in CONTENT_HASHES:
        raise StoreSchemaError(
            f"the store {location.describe()} names its content hash {name!r}, which this "
            f"snake-pipe does not know ({', '.join(CONTENT_HASHES)}); upgrade snake-pipe"
        )
    return str(name)


def _too_new(location: StoreLocation, version: int) -> str:
    return (
        f"the store {location.describe()} has schema version {version}, newer than this "
        f"snake-pipe understands ({SCHEMA_VERSION}); upgrade snake-pipe"
    )


def _migrate(con: duckdb.DuckDBPyConnection, location: StoreLocation) -> None:
    """Create or upgrade the schema; concurrent writers may race here, and the loser of a
    conflict retries and then finds the work done."""

    created = False

    def migrate(con: duckdb.DuckDBPyConnection) -> None:
        nonlocal created
        created = False  # a retried transaction starts over
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        current = _schema_version(con)
        if current > SCHEMA_VERSION:
            raise StoreSchemaError(_too_new(location, current))
        if current == SCHEMA_VERSION:
            return
        for version, sql in MIGRATIONS:
            if version > current:
                log.info("store %s: schema version %d", location.describe(), version)
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, utcnow()])
        con.execute(VIEWS)
        _set_options(con)
        if current == 0:  # the tables get their statistics in the commit that creates them
            _write_placeholders(con, _PLACEHOLDERS)
            created = True

    if _schema_version(con) == SCHEMA_VERSION:
        return
    in_transaction(con, migrate, what=f"creating the store {location.describe()}")
    _initialise_stats(con, location, placeholders_written=created)


def _set_options(con: duckdb.DuckDBPyConnection) -> None:
    """No data inlining, for whoever writes to the store (schema.DATA_INLINING_ROW_LIMIT)."""
    con.execute(
        f"CALL ducklake_set_option('{CATALOG_ALIAS}', 'data_inlining_row_limit', "
        f"{DATA_INLINING_ROW_LIMIT})"
    )


# One row a table, written and deleted again when the store is created (see below).
_PLACEHOLDERS = {
    "file_versions": ("repo = ''", "'', '', 0, 0, NULL, NULL, NULL, 'excluded', NULL, NULL, "
                                   "NULL, NULL, now()::TIMESTAMP, ''"),
    "analyses": ("content_hash = ''", "'', '', NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, "
                                      "NULL, NULL, NULL, now()::TIMESTAMP"),
    "run_starts": ("run_id = ''", "'', '', '', '', NULL, now()::TIMESTAMP, NULL, NULL"),
    "run_ends": ("run_id = ''", "'', '', now()::TIMESTAMP, '', NULL, NULL"),
    "run_progress": ("run_id = ''", "'', '', 0, 0, 0, now()::TIMESTAMP"),
}  # fmt: skip


def _write_placeholders(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
    for table in tables:
        con.execute(f"INSERT INTO {table} VALUES ({_PLACEHOLDERS[table][1]})")


def _initialise_stats(
    con: duckdb.DuckDBPyConnection, location: StoreLocation, *, placeholders_written: bool
) -> None:
    """Give every table its statistics before anyone reads the new store.

    DuckLake writes a table's statistics with its first rows. A reader that plans a query
    while concurrent writers give tables their first rows sometimes fails inside DuckLake
    ("INTERNAL Error: Calling GetValueInternal on a value that is NULL", in
    GetGlobalTableStats: 3 of 45 fresh DuckDB CLI readers during two first ingests); once every
    table has statistics it does not happen. So a new store writes one placeholder row into
    each table — in the transaction that creates the tables (``placeholders_written``), or
    here for a table without statistics — and deletes it again."""
    missing = [
        t
        for (t,) in con.execute(
            f"SELECT t.table_name FROM {METADATA_ALIAS}.ducklake_table t "
            f"LEFT JOIN {METADATA_ALIAS}.ducklake_table_stats s USING (table_id) "
            "WHERE t.end_snapshot IS NULL AND s.table_id IS NULL"
        ).fetchall()
        if t in _PLACEHOLDERS
    ]
    if not missing and not placeholders_written:
        return

    def delete(c: duckdb.DuckDBPyConnection) -> None:
        for table in _PLACEHOLDERS:
            c.execute(f"DELETE FROM {table} WHERE {_PLACEHOLDERS[table][0]}")

    what = f"creating the store {location.describe()}"
    if missing:
        in_transaction(con, partial(_write_placeholders, tables=missing), what=what)
    in_transaction(con, delete, what=what)


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pa.Table:
    """A query's result as an Arrow table, without the DB-API copy. (``con.sql(…, params=…)``
    plans a relation first and costs four times as much on a manifest of 100,000 files.)"""
    return con.execute(sql, params).fetch_arrow_table()


def _load_manifest(
    con: duckdb.DuckDBPyConnection, repo: str, prefixes: Sequence[str] | None
) -> dict[str, ManifestRow]:
    sql = (
        "SELECT path, size_bytes, mtime_ns, state, reason, attempts, quarantined_since "
        "FROM manifest WHERE repo = ? AND state <> 'deleted'"
    )
    params: list[Any] = [repo]
    registered = False
    if prefixes is not None and len(prefixes) <= _LITERAL_PREFIXES:
        # Conditions on the path alone reach below the view's window function, so DuckDB
        # reads only the paths under the prefixes: 0.04 s instead of 0.5 s for one file of a
        # 1,000,000-file repository (a semi-join with a table of prefixes does not).
        sql += " AND (" + " OR ".join(["path = ? OR starts_with(path, ? || '/')"] * len(prefixes))
        sql += ")"
        params += [p for p in prefixes for _ in (0, 1)]
    elif prefixes is not None:
        _read_once(con, "prefix_v", _table([list(prefixes)], _PREFIX_SCHEMA))
        registered = True
        sql = "WITH prefix AS MATERIALIZED (SELECT p FROM prefix_v) " + sql
        sql += " AND EXISTS (SELECT 1 FROM prefix WHERE path = p OR starts_with(path, p || '/'))"
    try:
        # In batches, so that the whole result never sits beside its Python copy; the states
        # and reasons are a handful of strings, shared instead of one copy a row.
        reader = con.execute(sql, params).fetch_record_batch(_MANIFEST_BATCH)
        manifest: dict[str, ManifestRow] = {}
        words: dict[str | None, str | None] = {}
        make = ManifestRow._make
        # Hundreds of thousands of small tuples: the cyclic collector would only cost time.
        with collector_paused():
            for batch in reader:
                paths, sizes, mtimes, states, reasons, *rest = (
                    c.to_pylist() for c in batch.columns
                )
                states = [words.setdefault(w, w) for w in states]
                reasons = [words.setdefault(w, w) for w in reasons]
                rows = zip(sizes, mtimes, states, reasons, *rest, strict=True)
                manifest.update(zip(paths, map(make, rows), strict=True))
        return manifest
    finally:
        if registered:
            con.unregister("prefix_v")


def _read_once(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """Let the next statement read ``table`` as the view ``name``, once.

    As an Arrow C stream: DuckDB reads a ``pa.Table`` through ``pyarrow.dataset``, whose
    import took 60-75 ms once a process, most of a one-file run's commit. A stream is read
    once, so register it just before each statement that reads it (inside a transaction's
    callback, so that a retry reads it afresh), and only for a statement that scans it once
    (a CTE that reads it more than once is ``MATERIALIZED``). A second read is an error
    ("ArrowArrayStream was released"), never an empty table."""
    con.register(name, table.__arrow_c_stream__())


# The store's Arrow input is allocated by the C library's malloc, not by pyarrow's default
# pool (mimalloc), which maps its memory as transparent huge pages: on this project's 2-core
# virtual machine each first touch of one cost 5-15 ms of system time, 70-120 ms for the
# columns of a 4,600-file batch against 2-3 ms with malloc (docs/decisions.md).
_POOL = pa.system_memory_pool()


def _table(columns: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.Table:
    """Columns of Python values as a table of ``schema``, in memory from :data:`_POOL`."""
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type, memory_pool=_POOL) for c, f in zip(columns, schema, strict=True)],
        schema=schema,
    )


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as columns (one C-level transpose)."""
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


# A repository's files by state now (what ``manifest`` says, counted): each path's newest
# version, picked by an aggregate. The view ranks every version with two window functions:
# 0.47 s against 0.26 s on a 1,000,000-file repository, at the end of every run, a one-file
# run of the watcher's included.
_TOTALS = f"""
SELECT state, count(*) FROM (
    SELECT arg_max(state, ({ROW_SNAPSHOT}, seen_at)) AS state
    FROM file_versions WHERE repo = ?
    GROUP BY path
)
GROUP BY 1
"""

# Up to this many prefixes are written into a run's manifest query as literals.
_LITERAL_PREFIXES = 64
# Rows of the manifest converted to Python at a time.
_MANIFEST_BATCH = 100_000

# The languages of some files a run extracted (those in ``unresolved_v``), as ``ast_files``
# says them, read from the run's own rows and the analyses of their contents only: the view
# computes every file's newest version first (0.55 s on a 1,000,000-file repository).
_RUN_LANGUAGES = f"""
WITH run AS MATERIALIZED (
    SELECT content_hash, name_language FROM file_versions
    WHERE repo = ? AND run_id = ? AND state = 'extracted'
      AND path IN (SELECT path FROM unresolved_v)
), analysis AS (
    SELECT content_hash, declared_language, format_language FROM analyses
    WHERE content_hash IN (SELECT content_hash FROM run)
    QUALIFY row_number() OVER (PARTITION BY content_hash ORDER BY {ROW_SNAPSHOT} DESC) = 1
)
SELECT coalesce({FILE_LANGUAGE}, 'unknown'), count(*)
FROM run m LEFT JOIN analysis a USING (content_hash)
GROUP BY 1
"""


def _run_languages(
    con: duckdb.DuckDBPyConnection,
    repo: str,
    run_id: str,
    counted: Mapping[str, int] | None,
    unresolved: Sequence[str],
) -> dict[str, int]:
    """The languages of the files a run extracted: what it counted, plus what the store says
    of the files it could not count."""
    out = dict(counted or {})
    if unresolved:
        _read_once(con, "unresolved_v", _table([list(unresolved)], _PATHS_SCHEMA))
        try:
            rows = con.execute(_RUN_LANGUAGES, [repo, run_id]).fetchall()
        finally:
            con.unregister("unresolved_v")
        for lang, n in rows:
            out[lang] = out.get(lang, 0) + n
    return out


_INSERT_VERSIONS = """
INSERT INTO file_versions
SELECT ?, b.path, b.size_bytes, b.mtime_ns, b.content_hash, b.format, b.name_language, b.state,
       b.reason, b.detail,
       CASE WHEN b.state = 'quarantined' THEN coalesce(h.attempts, 0) + 1 END,
       CASE WHEN b.state = 'quarantined' THEN coalesce(h.since, ?::TIMESTAMP) END,
       ?::TIMESTAMP, ?
FROM batch_v b LEFT JOIN history_v h ON h.path = b.path
"""

_INSERT_VERSIONS_NO_HISTORY = """
INSERT INTO file_versions
SELECT ?, path, size_bytes, mtime_ns, content_hash, format, name_language, state, reason, detail,
       CASE WHEN state = 'quarantined' THEN 1 END,
       CASE WHEN state = 'quarantined' THEN ?::TIMESTAMP END,
       ?::TIMESTAMP, ?
FROM batch_v
"""
