"""Table maintenance: keep a store that takes many small commits as fast as a bulk-loaded one.

Every commit adds to the lake: each commit writes a Parquet file per table it touches (data
inlining is off, see schema.DATA_INLINING_ROW_LIMIT), and every commit is a snapshot.

:func:`compact` runs after every ingest and merges a table's *small* files (below
``SMALL_FILE_BYTES``) once it has ``COMPACT_AT_FILES`` of them: a watcher's one-file runs reach
that every few dozen runs. A bulk ingest's batches (20,000 files, about a megabyte a table)
are files of a useful size already: merging them at the end of a 1,000,000-file ingest took
2.9 s and 340 MiB more in the ingest's process, for queries no faster (docs/decisions.md); the
nightly :func:`maintain` merges them. It runs all of DuckLake's maintenance, each step its
own transaction so that writers go on meanwhile:

1. write rows another writer may have inlined in the catalog to Parquet
   (``ducklake_flush_inlined_data``);
2. merge small adjacent files (``ducklake_merge_adjacent_files``);
3. expire snapshots older than ``keep_snapshots_days`` (DuckLake's own ``AT (VERSION => …)``
   cannot go further back; snake-pipe's time travel by run works on the rows' snapshot ids,
   which the lake keeps, see :mod:`~snake_pipe_core.store.schema`);
4. delete the files no snapshot needs any more, and files that commits which failed and were
   retried left behind (only those older than an hour, never a commit in progress).

The nightly Dagster job (``nightly_store_maintenance_schedule``, on by default) and
``snake-pipe store maintain`` run it.
"""

import logging
import time
from dataclasses import dataclass, field
from functools import partial

import duckdb

from ..errors import StoreBusy
from .lake import in_transaction
from .location import CATALOG_ALIAS, METADATA_ALIAS
from .schema import TABLES
from .store import Store

__all__ = [
    "COMPACT_AT_FILES",
    "SMALL_FILE_BYTES",
    "MaintenanceReport",
    "compact",
    "maintain",
    "small_files",
    "table_files",
]

log = logging.getLogger(__name__)
# A file written by a commit that failed is an orphan only once no commit can still be
# writing it; commits take milliseconds to seconds.
ORPHAN_AGE = "1 hour"
# A table with this many small data files gets them merged at the end of the next ingest.
COMPACT_AT_FILES = 32
# Small: what commits of a few hundred files or fewer write (a watcher's run of one file writes
# a few kilobytes); a batch of 20,000 files writes 0.8-1.4 MB a table.
SMALL_FILE_BYTES = 256 * 1024
# Compaction is a courtesy of the run that happens to finish: it gives up quickly when the
# catalog is busy, and the next run tries again.
_COMPACT_DEADLINE_S = 5.0


@dataclass(slots=True)
class MaintenanceReport:
    """What maintenance found and did."""

    files_before: dict[str, int] = field(default_factory=dict)
    files_after: dict[str, int] = field(default_factory=dict)
    snapshots_before: int = 0
    snapshots_after: int = 0
    deleted_files: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "files_before": sum(self.files_before.values()),
            "files_after": sum(self.files_after.values()),
            "snapshots_before": self.snapshots_before,
            "snapshots_after": self.snapshots_after,
            "deleted_files": self.deleted_files,
            "seconds": round(self.seconds, 3),
            "tables": {
                t: {"files_before": self.files_before.get(t, 0),
                    "files_after": self.files_after.get(t, 0)}
                for t in TABLES
            },
        }  # fmt: skip


def table_files(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Parquet files each table reads from."""
    return {
        t: int(
            con.execute(
                f"SELECT count(*) FROM ducklake_list_files('{CATALOG_ALIAS}', '{t}')"
            ).fetchall()[0][0]
        )
        for t in TABLES
    }


def small_files(con: duckdb.DuckDBPyConnection, below: int = SMALL_FILE_BYTES) -> dict[str, int]:
    """Data files below ``below`` bytes that each table reads from: one query of DuckLake's
    catalog (its tables are the DuckLake spec), 4 ms after every run where a
    ``ducklake_list_files`` a table took 25 ms."""
    counts = dict(
        con.execute(
            f"SELECT t.table_name, count(f.data_file_id) FROM {METADATA_ALIAS}.ducklake_table t "
            f"LEFT JOIN {METADATA_ALIAS}.ducklake_data_file f ON f.table_id = t.table_id "
            "AND f.end_snapshot IS NULL AND f.file_size_bytes < ? "
            "WHERE t.end_snapshot IS NULL GROUP BY 1",
            [below],
        ).fetchall()
    )
    return {t: int(counts.get(t, 0)) for t in TABLES}


def _snapshots(con: duckdb.DuckDBPyConnection) -> int:
    return int(
        con.execute(f"SELECT count(*) FROM ducklake_snapshots('{CATALOG_ALIAS}')").fetchall()[0][0]
    )


def _call(con: duckdb.DuckDBPyConnection, *, sql: str) -> list[tuple[object, ...]]:
    return con.execute(sql).fetchall()


def maintain(store: Store, *, keep_snapshots_days: float = 7.0) -> MaintenanceReport:
    """Compact the store's tables and drop what no snapshot kept needs (see module doc)."""
    started = time.monotonic()
    report = MaintenanceReport()
    with store.connect() as con:
        report.files_before = table_files(con)
        report.snapshots_before = _snapshots(con)
        for step, sql in (
            ("writing inlined rows to Parquet (another writer's)",
             f"CALL ducklake_flush_inlined_data('{CATALOG_ALIAS}')"),
            ("merging small files", f"CALL ducklake_merge_adjacent_files('{CATALOG_ALIAS}')"),
            (
                "expiring old snapshots",
                f"CALL ducklake_expire_snapshots('{CATALOG_ALIAS}', older_than => "
                f"now() - INTERVAL '{float(keep_snapshots_days) * 86400:.0f} seconds')",
            ),
        ):  # fmt: skip
            log.info("store maintenance: %s", step)
            in_transaction(con, partial(_call, sql=sql), what=step)
        for step, sql in (
            ("deleting unreferenced files",
             f"CALL ducklake_cleanup_old_files('{CATALOG_ALIAS}', cleanup_all => true)"),
            ("deleting files of failed commits",
             f"CALL ducklake_delete_orphaned_files('{CATALOG_ALIAS}', "
             f"older_than => now() - INTERVAL '{ORPHAN_AGE}')"),
        ):  # fmt: skip
            log.info("store maintenance: %s", step)
            try:
                deleted = in_transaction(con, partial(_call, sql=sql), what=step)
            except duckdb.IOException as e:
                if "No such file or directory" not in str(e):
                    raise
                # A writer merging its small files meanwhile deleted one DuckLake listed:
                # nothing to delete there; the next maintenance deletes whatever is left.
                log.info("store maintenance: %s: a file went meanwhile (%s)", step, e)
                continue
            report.deleted_files += len(deleted)
        report.files_after = table_files(con)
        report.snapshots_after = _snapshots(con)
    report.seconds = time.monotonic() - started
    log.info(
        "store maintenance: %d → %d files, %d files deleted in %.1f s",
        sum(report.files_before.values()),
        sum(report.files_after.values()),
        report.deleted_files,
        report.seconds,
    )
    return report


def compact(
    store: Store, *, at_files: int = COMPACT_AT_FILES, below: int = SMALL_FILE_BYTES
) -> bool:
    """Merge the small files (below ``below`` bytes) of the store's tables if one has
    ``at_files`` or more of them; True if it did. Never raises for a busy catalog: the next
    run tries again."""
    with store.connect() as con:
        counts = small_files(con, below)
        if max(counts.values(), default=0) < at_files:
            return False
        started = time.monotonic()
        merge = f"CALL ducklake_merge_adjacent_files('{CATALOG_ALIAS}', max_file_size => {below})"
        try:
            in_transaction(
                con,
                partial(_call, sql=merge),
                what="merging small files",
                deadline_s=_COMPACT_DEADLINE_S,
            )
        except StoreBusy as e:
            log.info("small files not merged this time: %s", e)
            return False
        log.info("merged the store's small files in %.2f s (up to %d in a table)",
                 time.monotonic() - started, max(counts.values()))  # fmt: skip
    return True
