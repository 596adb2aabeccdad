"""What a failure of the store's files means to a person: damaged, or out of space.

DuckDB and SQLite report a truncated catalog, a Parquet file cut short or overwritten, and a
full disk as their own exceptions (``IOException: Could not read enough bytes``,
``InvalidInputException: Invalid footer length``, ``TransactionException: … No space left on
device``, ``sqlite3.DatabaseError: database disk image is malformed``). At the store's boundary
they become :class:`~snake_pipe_core.errors.StoreDamaged` and
:class:`~snake_pipe_core.errors.StoreFull`, whose messages say what happened, where, and what
to do; the CLI exits 3 on them. A busy catalog is not a fault here: ``in_transaction``
retries it.
"""

import errno
import os
import sqlite3

import duckdb

from ..errors import StoreDamaged, StoreError, StoreFull

__all__ = ["as_store_error", "full_message", "is_full"]

_FULL = ("no space left on device", "database or disk is full", "disk quota exceeded")
_DAMAGED = (
    "could not read enough bytes",
    "invalid footer length",
    "too small to be a parquet file",
    "no magic bytes found",
    "not a parquet file",
    "corrupt",
    "file is not a database",
    "database disk image is malformed",
    "file is encrypted",
    "checksum",
    "failed to read file",
    "no such file or directory",  # a data file the catalog lists is gone
)


# Below this much free space, an I/O error that names no cause is taken for a full disk.
_LOW_SPACE = 1 << 20


def is_full(error: BaseException, folder: "str | os.PathLike[str] | None" = None) -> bool:
    """Whether ``error`` means the disk is full. With ``folder`` (where the files are), also
    SQLite's bare "disk I/O error" when that file system has (almost) no space left: what
    opening a catalog says when its -wal and -shm files cannot be created on a full disk."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error).lower()
    if any(s in text for s in _FULL):
        return True
    return folder is not None and "disk i/o error" in text and _low_on_space(folder)


def _low_on_space(folder: "str | os.PathLike[str]") -> bool:
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < _LOW_SPACE


def full_message(where: str) -> str:
    return f"no space left on device at {where}: free space and re-run; nothing committed was lost"


_RESTORE = (
    "Restore the store's folder from a backup; or move it aside and run `snake-pipe ingest` "
    "again to rebuild it from the repositories (`snake-pipe store info` shows where it is)"
)


def as_store_error(
    error: BaseException,
    where: str,
    what: str = "the store",
    advice: str = _RESTORE,
    *,
    folder: "str | os.PathLike[str] | None" = None,
) -> StoreError | None:
    """The :class:`StoreError` that says what ``error`` means for ``what`` at ``where``, or
    None when it is not a fault of the files (a bug, a bad query, a busy catalog). ``folder``:
    where the files are, when they are local (see :func:`is_full`)."""
    if isinstance(error, StoreError):
        return error
    if not isinstance(error, duckdb.Error | sqlite3.DatabaseError | OSError):
        return None
    if is_full(error, folder):
        return StoreFull(full_message(where))
    if isinstance(error, OSError):
        return None  # permissions, a missing folder...: the caller's own message says it
    text = str(error)
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    damaged = any(s in text.lower() for s in _DAMAGED)
    if isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError):
        damaged = True  # "file is not a database", "malformed", a truncated page...
    if isinstance(error, duckdb.IOException) and "lock" not in text.lower():
        damaged = True
    if not damaged:
        return None
    return StoreDamaged(f"{what} at {where} is damaged ({first}). Nothing more was written to it. "
                        + advice)  # fmt: skip
