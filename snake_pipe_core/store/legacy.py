"""Moving a store of snake-pipe 0.1 (one DuckDB file) into DuckLake.

``snake-pipe store migrate`` imports every row: the manifest (with each file's first and last
sighting), the metadata, the quarantine with its attempts and details, releases, runs and
checkpoints. Nothing is re-read from disk.

A 0.1 store written by DuckDB 2.x cannot be opened by the DuckDB 1.4 LTS release snake-pipe
now pins; it is exported with DuckDB 2 first (``EXPORT DATABASE … (FORMAT parquet)``) and the
export is migrated. :func:`legacy_source_error` says exactly how.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import StoreError
from .lake import in_transaction, prepare_sqlite_catalog
from .store import Store

__all__ = ["LEGACY_TABLES", "MigrationReport", "legacy_source_error", "migrate_legacy"]

log = logging.getLogger(__name__)
LEGACY_TABLES = ("manifest", "ast_metadata", "quarantine", "checkpoints", "runs")


@dataclass(frozen=True, slots=True)
class MigrationReport:
    source: Path
    backup: Path | None
    files: int
    analyses: int
    runs: int


def _attach_source(con: duckdb.DuckDBPyConnection, source: Path) -> str:
    """Make the 0.1 tables readable as ``legacy_<table>``; returns how they are read."""
    if source.is_dir():
        for table in LEGACY_TABLES:
            parquet = source / f"{table}.parquet"
            if not parquet.is_file():
                raise StoreError(f"{source} is not an export of a snake-pipe 0.1 store: "
                                 f"{parquet.name} is missing")  # fmt: skip
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW legacy_{table} AS "
                f"SELECT * FROM read_parquet('{_quote(str(parquet))}')"
            )
        return "export"
    try:
        con.execute(f"ATTACH '{_quote(str(source))}' AS legacy (READ_ONLY)")
    except duckdb.Error as e:
        raise StoreError(legacy_source_error(source, e)) from e
    for table in LEGACY_TABLES:
        con.execute(f"CREATE OR REPLACE TEMP VIEW legacy_{table} AS SELECT * FROM legacy.{table}")
    return "file"


def _quote(text: str) -> str:
    return text.replace("'", "''")


def legacy_source_error(source: Path, e: BaseException) -> str:
    text = str(e)
    if "newer version of DuckDB" in text or "version number" in text:
        export = source.with_name(source.name + "-export")
        return (
            f"{source} was written by DuckDB 2.x, which this snake-pipe (DuckDB 1.4 LTS) cannot "
            "read. Export it with DuckDB 2, then migrate the export:\n"
            "  python3 -m venv /tmp/duckdb2 && /tmp/duckdb2/bin/pip install 'duckdb>=2'\n"
            f"  /tmp/duckdb2/bin/python -c \"import duckdb; duckdb.connect('{source}', "
            f'read_only=True).execute(\\"EXPORT DATABASE \'{export}\' (FORMAT parquet)\\")"\n'
            f"  snake-pipe store migrate --from {export}"
        )
    return f"cannot read the snake-pipe 0.1 store {source}: {text}"


_IMPORT = [
    # The first sighting of a file, then its state at the last one (ordered by seen_at within
    # the one snapshot of the import).
    """
    INSERT INTO file_versions
    SELECT m.repo, m.path, m.size_bytes, m.mtime_ns, m.content_hash, m.format, m.name_language,
           m.state, m.reason, q.detail, q.attempts, q.first_seen, m.first_seen,
           coalesce(m.run_id, 'migrated')
    FROM legacy_manifest m
    LEFT JOIN legacy_quarantine q ON q.repo = m.repo AND q.path = m.path
    WHERE m.first_seen < m.last_seen
    """,
    """
    INSERT INTO file_versions
    SELECT m.repo, m.path, m.size_bytes, m.mtime_ns, m.content_hash, m.format, m.name_language,
           m.state, m.reason, q.detail, q.attempts, q.first_seen, m.last_seen,
           coalesce(m.run_id, 'migrated')
    FROM legacy_manifest m
    LEFT JOIN legacy_quarantine q ON q.repo = m.repo AND q.path = m.path
    """,
    """
    INSERT INTO analyses
    SELECT content_hash, format, declared_language, format_language, parser_name,
           parser_version, node_count, max_depth, function_count, class_count, import_count,
           branch_count, source_path, span_start_line, span_end_line, node_types, analysed_at
    FROM legacy_ast_metadata
    """,
    """
    INSERT INTO run_starts
    SELECT run_id, repo, root, mode, trigger, started_at, host, pid FROM legacy_runs
    """,
    """
    INSERT INTO run_ends
    SELECT run_id, repo, coalesce(finished_at, started_at),
           CASE WHEN status = 'running' THEN 'interrupted' ELSE status END, error, summary
    FROM legacy_runs WHERE status <> 'running' OR finished_at IS NULL
    """,
    """
    INSERT INTO run_progress
    SELECT run_id, repo, last_batch, planned, done, updated_at
    FROM legacy_checkpoints WHERE last_batch > 0
    """,
    # 0.1 hashed with sha256, and the store keeps hashing its files that way (a store never
    # mixes two hashes). It was empty, so it said BLAKE3 until now.
    """
    INSERT INTO store_settings VALUES ('content_hash', 'sha256', now()::TIMESTAMP)
    """,
]


def migrate_legacy(store: Store, source: Path | None = None) -> MigrationReport:
    """Import a 0.1 store (a DuckDB file, or its ``EXPORT DATABASE`` folder) into ``store``,
    which must be empty. When the store path itself is the 0.1 file, the file is moved to
    ``<path>.v1-backup`` first and the DuckLake store takes its place."""
    folder = store.location.folder
    source = source or store.location.legacy_store()
    if source is None:
        raise StoreError(
            f"no snake-pipe 0.1 store to migrate at {store.describe()}: pass --from FILE"
        )
    source = source.absolute()
    backup = None
    if folder is not None and source == folder:
        backup = folder.with_name(folder.name + ".v1-backup")
        if backup.exists():
            raise StoreError(f"{backup} already exists: move it away first")
        os.replace(folder, backup)
        source = backup
        log.info("moved the 0.1 store %s to %s", folder, backup)
    catalog = store.location.sqlite_file
    if folder is not None and catalog is not None and not catalog.exists():
        prepare_sqlite_catalog(catalog)  # the store now takes the old one's place
    try:
        with store.connect() as con:
            if con.execute("SELECT count(*) FROM file_versions").fetchall()[0][0]:
                raise StoreError(
                    f"the store {store.describe()} already holds files; migrate into a new one "
                    "(--store PATH)"
                )
            kind = _attach_source(con, source)
            try:
                counts = in_transaction(con, _import, what=f"importing {source}")
            finally:
                if kind == "file":
                    con.execute("DETACH legacy")
    except BaseException:
        if backup is not None and folder is not None and not folder.exists():
            os.replace(backup, folder)  # nothing was imported: put the file back
        raise
    files, analyses, runs = counts
    return MigrationReport(source, backup, files, analyses, runs)


def _import(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    for sql in _IMPORT:
        con.execute(sql)
    return (
        int(con.execute("SELECT count(*) FROM legacy_manifest").fetchall()[0][0]),
        int(con.execute("SELECT count(*) FROM legacy_ast_metadata").fetchall()[0][0]),
        int(con.execute("SELECT count(*) FROM legacy_runs").fetchall()[0][0]),
    )
