"""The DuckDB store: short connections behind the inter-process lock, bulk batch commits.

A batch of verdicts is committed in one transaction that writes the files' manifest rows
together with their metadata or quarantine rows and advances the run's checkpoint. After a
crash at any instant, the next run's diff finds exactly the files whose transaction never
committed: nothing is lost, nothing is done twice.
"""

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import orjson
import pyarrow as pa

from ..errors import StoreError, StoreSchemaError
from ..hashes import KnownHashes
from ..models import IngestSummary
from ..processes import pid_alive
from ..results import MANIFEST_COLUMNS, METADATA_COLUMNS, Results
from .lock import store_lock, store_waiters
from .schema import MIGRATIONS, SCHEMA_VERSION, VIEWS

__all__ = ["ManifestRow", "RunStart", "Store", "utcnow"]

log = logging.getLogger(__name__)
_migrated: set[Path] = set()
_migrate_guard = threading.Lock()


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pa.Table:
    """A query's result as an Arrow table, without the DB-API copy."""
    rel = con.sql(sql, params=params)
    fetch = getattr(rel, "to_arrow_table", None) or rel.arrow  # DuckDB 2.0 renamed it
    return fetch()


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class RunStart(NamedTuple):
    """A registered run and the manifest its diff starts from."""

    run_id: str
    manifest: dict[str, "ManifestRow"]


class ManifestRow(NamedTuple):
    """What the manifest knows of a live file; the diff compares it with the walk."""

    size: int
    mtime_ns: int
    state: str
    reason: str | None
    content_hash: str | None


_BATCH_SCHEMA = pa.schema(
    list(
        zip(
            MANIFEST_COLUMNS, [pa.string(), pa.int64(), pa.int64(), *[pa.string()] * 6], strict=True
        )
    )
)


class Store:
    """A snake-pipe store in one DuckDB file."""

    def __init__(self, path: str | Path, *, lock_timeout: float | None = None) -> None:
        self.path = Path(path).expanduser().resolve()
        self.lock_timeout = lock_timeout
        self._local = threading.local()

    # -- connections ---------------------------------------------------------------------

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep one write connection for the calls this thread makes inside the block, for as
        long as no other process waits for the store.

        Opening and closing DuckDB for every batch checkpoints each time, rewriting the
        table's last row group again and again: on a run of many small files that cost more
        than the work. Inside ``hold()`` the connection (and the store lock) stays open
        between batches; after each use, if another process waits (:func:`store_waiters`),
        it is closed and the next use queues for the store like anyone else. Each batch is
        still its own transaction, so a kill at any moment loses nothing."""
        held = _Held(self)
        self._local.held = held
        try:
            yield
        finally:
            self._local.held = None
            held.release()

    def yield_to_waiters(self) -> None:
        """Inside :meth:`hold`, between uses: hand the store over if someone waits for it."""
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None and held.con is not None and store_waiters(self.path):
            held.release()

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short connection under the store lock (shared for readers); inside
        :meth:`hold`, the held one."""
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None:
            con = held.open()
            try:
                yield con
            except BaseException:
                held.release()  # an open transaction dies with the connection
                raise
            if store_waiters(self.path):
                held.release()
            return
        with self._open(read_only=read_only) as con:
            yield con

    @contextmanager
    def _open(self, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        if read_only and not self.path.exists():
            raise StoreError(
                f"no store at {self.path}: run `snake-pipe ingest` first, or pass --store"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the store's folder {self.path.parent}: {e}") from e
        if read_only:
            self._ensure_schema()
        with store_lock(self.path, shared=read_only, timeout=self.lock_timeout):
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as e:
                raise StoreError(f"cannot open the store {self.path}: {e}") from e
            try:
                if not read_only:
                    self._migrate(con)
                yield con
            finally:
                con.close()

    def _ensure_schema(self) -> None:
        if self.path not in _migrated:
            with self.connect():
                pass

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        with _migrate_guard:
            if self.path in _migrated:
                return
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
            )
            rows = con.execute("SELECT max(version) FROM schema_migrations").fetchall()
            current = rows[0][0] or 0
            if current > SCHEMA_VERSION:
                raise StoreSchemaError(
                    f"the store {self.path} has schema version {current}, newer than this "
                    f"snake-pipe understands ({SCHEMA_VERSION}); upgrade snake-pipe"
                )
            if current < SCHEMA_VERSION:
                for version, sql in MIGRATIONS:
                    if version <= current:
                        continue
                    log.info("migrating store %s to schema version %d", self.path, version)
                    con.execute("BEGIN")
                    con.execute(sql)
                    con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, utcnow()])
                    con.execute(VIEWS)
                    con.execute("COMMIT")
            _migrated.add(self.path)

    # -- reads for the engine ----------------------------------------------------------------

    def load_manifest(
        self, repo: str, *, prefixes: Sequence[str] | None = None
    ) -> dict[str, ManifestRow]:
        """Every live (not deleted) file of a repository by stored path; with ``prefixes``,
        only the files at or under those relative paths (in stored form)."""
        with self.connect(read_only=True) as con:
            return _load_manifest(con, repo, prefixes)

    def known_hashes(self, among: Collection[str] | None = None) -> KnownHashes:
        """Content hashes that already have metadata (any path, any repository): all of them,
        or only those ``among`` the given hex digests."""
        sql = "SELECT unhex(content_hash) FROM ast_metadata WHERE length(content_hash) = 64"
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
    ) -> RunStart:
        """Register a run of ``repo`` and read the manifest its diff starts from (files at or
        under ``prefixes`` only, when given), in one connection."""
        run_id = f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        now = utcnow()
        host = socket.gethostname()
        with self.connect() as con:
            con.execute("BEGIN")
            # Runs of this host whose process is gone were killed: say so in the audit trail.
            running = con.execute(
                "SELECT run_id, pid FROM runs WHERE repo = ? AND status = 'running' AND host = ?",
                [repo, host],
            ).fetchall()
            dead = [run for run, pid in running if not pid_alive(pid)]
            if dead:
                con.execute(
                    "UPDATE runs SET status = 'interrupted', finished_at = ?, error = "
                    "'the process ended before the run finished; its committed batches are kept' "
                    "WHERE run_id IN (SELECT unnest(?))",
                    [now, dead],
                )
                con.execute(
                    "UPDATE checkpoints SET status = 'interrupted', updated_at = ? "
                    "WHERE run_id IN (SELECT unnest(?))",
                    [now, dead],
                )
            con.execute(
                "INSERT INTO repos (repo, root, first_seen) VALUES (?, ?, ?) "
                "ON CONFLICT (repo) DO UPDATE SET root = excluded.root, retired = false",
                [repo, root, now],
            )
            con.execute(
                "INSERT INTO runs (run_id, repo, root, mode, trigger, started_at, status, host, "
                "pid) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                [run_id, repo, root, mode, trigger, now, host, os.getpid()],
            )
            con.execute(
                "INSERT INTO checkpoints VALUES (?, ?, 0, 0, 0, 'running', ?)", [run_id, repo, now]
            )
            con.execute("COMMIT")
            manifest = _load_manifest(con, repo, prefixes)
        return RunStart(run_id, manifest)

    def finish_run(
        self,
        summary: IngestSummary,
        *,
        status: str,
        error: str | None = None,
        deleted: Sequence[str] = (),
    ) -> None:
        """End a run in one transaction: mark ``deleted`` paths (files gone from disk; their
        history stays), fill the summary's ``languages`` (files this run extracted) and
        ``totals`` (the repository's files by state now), and record it."""
        now = utcnow()
        repo, run_id = summary.repo, summary.run_id
        with self.connect() as con:
            con.execute("BEGIN")
            if deleted:
                con.register("gone_v", pa.table([list(deleted)], names=["path"]))
                con.execute(
                    "UPDATE manifest SET state = 'deleted', reason = NULL, deleted_at = ?, "
                    "last_seen = ?, run_id = ? WHERE repo = ? AND state <> 'deleted' "
                    "AND path IN (SELECT path FROM gone_v)",
                    [now, now, run_id, repo],
                )
                con.execute(
                    "DELETE FROM quarantine WHERE repo = ? AND path IN (SELECT path FROM gone_v)",
                    [repo],
                )
            if status == "succeeded":
                rows = con.execute(
                    "SELECT coalesce(language, 'unknown'), count(*) FROM ast_files "
                    "WHERE repo = ? AND run_id = ? AND state = 'extracted' GROUP BY 1",
                    [repo, run_id],
                ).fetchall()
                summary.languages = {lang: n for lang, n in rows}
                rows = con.execute(
                    "SELECT state, count(*) FROM manifest WHERE repo = ? GROUP BY 1", [repo]
                ).fetchall()
                summary.totals = {state: n for state, n in rows}
                con.execute("UPDATE repos SET last_ingest = ? WHERE repo = ?", [now, repo])
            con.execute(
                "UPDATE runs SET finished_at = ?, status = ?, error = ?, summary = ? "
                "WHERE run_id = ?",
                [now, status, error, orjson.dumps(summary.as_dict()).decode(), run_id],
            )
            con.execute(
                "UPDATE checkpoints SET status = ?, updated_at = ? WHERE run_id = ? AND repo = ?",
                [status, now, run_id, repo],
            )
            con.execute("COMMIT")

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
        replace_metadata: bool = False,
    ) -> None:
        """Commit one batch — the files' manifest rows with their metadata or quarantine
        rows — and the run's checkpoint, in one transaction."""
        rows = pa.table(_columns(batch.rows, len(MANIFEST_COLUMNS)), schema=_BATCH_SCHEMA)
        metas = (
            pa.table(_columns(batch.metas, len(METADATA_COLUMNS)), names=list(METADATA_COLUMNS))
            if batch.metas
            else None
        )
        now = utcnow()
        with self.connect() as con:
            con.register("batch_v", rows)
            if metas is not None:
                con.register("meta_v", metas)
            con.execute("BEGIN")
            if metas is not None:
                conflict = (
                    "DO UPDATE SET "
                    + ", ".join(f"{c} = excluded.{c}" for c in METADATA_COLUMNS[1:])
                    if replace_metadata
                    else "DO NOTHING"
                )
                con.execute(
                    f"INSERT INTO ast_metadata ({_META_COLUMN_LIST}, analysed_at) "
                    f"SELECT {_META_COLUMN_LIST}, ?::TIMESTAMP FROM meta_v "
                    f"ON CONFLICT (content_hash) {conflict}",
                    [now],
                )
            con.execute(_UPSERT_MANIFEST, [repo, now, now, now, run_id])
            con.execute(
                "DELETE FROM quarantine WHERE repo = ? AND path IN "
                "(SELECT path FROM batch_v WHERE state <> 'quarantined')",
                [repo],
            )
            if batch.quarantined:
                con.execute(_UPSERT_QUARANTINE, [repo, now, now])
            con.execute(
                "UPDATE checkpoints SET planned = ?, done = ?, last_batch = ?, updated_at = ? "
                "WHERE run_id = ? AND repo = ?",
                [planned, done, batch_no, now, run_id, repo],
            )
            con.execute("COMMIT")

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

    def release(self, repo: str, paths: Sequence[str]) -> int:
        """Accept quarantined files as they are: they become ``excluded`` (rule ``released``)
        until their content changes, and leave the quarantine."""
        table = pa.table([list(paths)], names=["path"])
        with self.connect() as con:
            con.register("rel_v", table)
            con.execute("BEGIN")
            released = con.execute(
                "SELECT count(*) FROM manifest WHERE repo = ? AND state = 'quarantined' "
                "AND path IN (SELECT path FROM rel_v)",
                [repo],
            ).fetchall()[0][0]
            con.execute(
                "UPDATE manifest SET state = 'excluded', reason = 'released' WHERE repo = ? "
                "AND state = 'quarantined' AND path IN (SELECT path FROM rel_v)",
                [repo],
            )
            con.execute(
                "DELETE FROM quarantine WHERE repo = ? AND path IN (SELECT path FROM rel_v)",
                [repo],
            )
            con.execute("COMMIT")
        return int(released)


class _Held:
    """The connection :meth:`Store.hold` keeps, opened on first use."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.con: duckdb.DuckDBPyConnection | None = None
        self.lock: contextlib.ExitStack | None = None  # closes the connection, frees the lock

    def open(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            stack = contextlib.ExitStack()
            self.con = stack.enter_context(self.store._open(read_only=False))
            self.lock = stack
        return self.con

    def release(self) -> None:
        if self.lock is not None:
            self.con, lock, self.lock = None, self.lock, None
            lock.close()


def _load_manifest(
    con: duckdb.DuckDBPyConnection, repo: str, prefixes: Sequence[str] | None
) -> dict[str, ManifestRow]:
    sql = (
        "SELECT path, size_bytes, mtime_ns, state, reason, content_hash "
        "FROM manifest WHERE repo = ? AND state <> 'deleted'"
    )
    if prefixes is None:
        t = _arrow(con, sql, [repo])
    else:
        con.register("prefix_v", pa.table([list(prefixes)], names=["p"]))
        t = _arrow(
            con,
            sql + " AND path IN (SELECT path FROM manifest, prefix_v WHERE repo = ? "
            "AND (path = p OR starts_with(path, p || '/')))",
            [repo, repo],
        )
    paths, *cols = (t.column(i).to_pylist() for i in range(6))
    return dict(zip(paths, map(ManifestRow._make, zip(*cols, strict=True)), strict=True))


_META_COLUMN_LIST = ", ".join(METADATA_COLUMNS)


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as columns (one C-level transpose)."""
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


_UPSERT_MANIFEST = """
INSERT INTO manifest (repo, path, size_bytes, mtime_ns, content_hash, format, name_language,
                      state, reason, first_seen, last_seen, deleted_at, run_id)
SELECT ?, path, size_bytes, mtime_ns, content_hash, format, name_language, state, reason,
       ?::TIMESTAMP, ?::TIMESTAMP, CASE WHEN state = 'deleted' THEN ?::TIMESTAMP END, ?
FROM batch_v
ON CONFLICT (repo, path) DO UPDATE SET
    size_bytes = excluded.size_bytes, mtime_ns = excluded.mtime_ns,
    content_hash = excluded.content_hash, format = excluded.format,
    name_language = excluded.name_language, state = excluded.state, reason = excluded.reason,
    last_seen = excluded.last_seen, deleted_at = excluded.deleted_at, run_id = excluded.run_id
"""

_UPSERT_QUARANTINE = """
INSERT INTO quarantine (repo, path, content_hash, reason, detail, first_seen, last_seen, attempts)
SELECT ?, path, content_hash, reason, detail, ?::TIMESTAMP, ?::TIMESTAMP, 1
FROM batch_v WHERE state = 'quarantined'
ON CONFLICT (repo, path) DO UPDATE SET
    content_hash = excluded.content_hash, reason = excluded.reason, detail = excluded.detail,
    last_seen = excluded.last_seen, attempts = quarantine.attempts + 1
"""
