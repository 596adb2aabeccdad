"""The change journal: a durable, append-only log between the file watcher and its consumer.

Why a file of its own and not the store: the watcher (one long-lived writer) must append at any
moment and the consumer in another process (the Dagster sensor, or ``snake-pipe watch
--ingest``) must read at the same time. SQLite in WAL mode does exactly that: readers never
block the writer nor each other. With ``synchronous=FULL`` a commit is fsync'd before it
returns, so a record *counts* only once it is on disk, and one that was counted survives the
writer being killed.

Records carry a sequence number that only grows (``AUTOINCREMENT`` never reuses one, even
after compaction), so a consumer's position is an integer. Records are hints (see
:mod:`snake_pipe_core.journal.changes`): "look at this path again". What is done with them —
the lease, the cursor, loss detection, planning, retries and compaction — is the one
consumer's job: :class:`~snake_pipe_core.journal.consumer.JournalConsumer`. This module only
stores: records, the watcher's heartbeat, the consumer's lease, and two small values a
consumer may keep here (its cursor, when no orchestrator keeps it, and a status snapshot that
``snake-pipe watch --status`` shows).
"""

import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ..errors import StoreError, WatcherAlreadyRunning
from ..processes import host_name, pid_alive
from ..store.faults import as_store_error, is_full
from .changes import Change, FileChange, JournalRecord

__all__ = ["ChangeJournal", "WatcherStatus"]

log = logging.getLogger(__name__)
# 2: records indexed by repository (a consumer reads one repository's records at a time).
_MOVE_ASIDE = (
    "Move the file aside: the watcher starts a new journal with a rescan of every repository, "
    "so no change is missed"
)
_SCHEMA_VERSION = 2
# Free pages (4 KiB each) worth handing back to the file system after a compaction.
_VACUUM_PAGES = 256

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS records (
        seq  INTEGER PRIMARY KEY AUTOINCREMENT,
        repo TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('changed', 'deleted', 'rescan')),
        path,               -- TEXT, or BLOB for a name that is not UTF-8, or NULL (rescan)
        at   REAL NOT NULL  -- unix time the watcher recorded it
    )""",
    """CREATE TABLE IF NOT EXISTS watcher (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        pid        INTEGER NOT NULL,
        host       TEXT NOT NULL,
        started_at REAL NOT NULL,
        beat_at    REAL NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS records_by_repo ON records (repo, seq)",
)


@dataclass(frozen=True, slots=True)
class WatcherStatus:
    """What the running watcher last wrote about itself (times are unix seconds)."""

    pid: int
    host: str
    started_at: float
    beat_at: float

    def age(self, now: float | None = None) -> float:
        """Seconds since the last heartbeat."""
        return (time.time() if now is None else now) - self.beat_at

    def is_stale(self, max_age: float, now: float | None = None) -> bool:
        """True when the heartbeat is older than ``max_age`` seconds."""
        return self.age(now) > max_age


def _encode_path(path: str | None) -> str | bytes | None:
    if path is None:
        return None
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:  # surrogate escapes from an undecodable name: keep the bytes
        return os.fsencode(path)


def _decode_path(value: str | bytes | None) -> str | None:
    return os.fsdecode(value) if isinstance(value, bytes) else value


class ChangeJournal:
    """The journal in one SQLite file; safe to share between threads of a process, and to
    open from several processes at once (one of them the writing watcher).

    Args:
        path: the journal file (created, with its folder, when missing).
        busy_timeout_s: how long a write waits for another process's write to finish.

    Raises:
        StoreError: the file cannot be opened or is not a journal this version understands.
    """

    is_shared = False

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path).expanduser().resolve()
        self.where = str(self.path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the change journal {self.path}: {e}") from e
        try:
            self._setup()
        except sqlite3.Error as e:
            self._con.close()
            fault = as_store_error(e, str(self.path), "the change journal", _MOVE_ASIDE)
            raise fault or StoreError(f"cannot use the change journal {self.path}: {e}") from e
        except BaseException:
            self._con.close()
            raise

    def _setup(self) -> None:
        con = self._con
        con.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect on a new file
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"the change journal {self.path} cannot use WAL mode (got {mode})")
        con.execute("PRAGMA synchronous = FULL")
        with self._write() as cur:
            for statement in _SCHEMA:
                cur.execute(statement)
            cur.execute(
                "INSERT OR IGNORE INTO meta VALUES ('journal_id', ?), ('compacted_upto', 0), "
                "('schema_version', ?)",
                [uuid.uuid4().hex, _SCHEMA_VERSION],
            )
            row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if int(row[0]) < _SCHEMA_VERSION:  # the statements above brought it up to date
                cur.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'", [_SCHEMA_VERSION]
                )
        if int(row[0]) > _SCHEMA_VERSION:
            raise StoreError(
                f"the change journal {self.path} was written by a newer snake-pipe "
                f"(schema {row[0]}); upgrade, or delete the file (a watcher restart rescans)"
            )
        self.journal_id: str = str(self._value("journal_id"))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction; ``BEGIN IMMEDIATE`` takes the write lock up front, so a
        concurrent writer waits in the busy handler rather than failing mid-transaction."""
        with self._lock:
            try:
                cur = self._con.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur
                except BaseException:
                    if self._con.in_transaction:
                        cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            except sqlite3.DatabaseError as e:  # a full disk, a damaged file: said plainly
                raise self._fault(e) from e

    def _fault(self, e: sqlite3.DatabaseError) -> Exception:
        where = str(self.path.parent) if is_full(e) else str(self.path)
        return as_store_error(e, where, "the change journal", _MOVE_ASIDE) or e

    def _value(self, key: str) -> object:
        with self._lock:
            row = self._con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    # -- the writer ------------------------------------------------------------------------

    def append(self, changes: Iterable[FileChange], *, at: float | None = None) -> int:
        """Append a batch of changes in one transaction; when this returns, the records are
        on disk. Returns the sequence number of the last record (:meth:`last_seq`)."""
        stamp = time.time() if at is None else at
        rows = [(c.repo, c.change.value, _encode_path(c.path), stamp) for c in changes]
        if rows:
            with self._write() as cur:
                cur.executemany(
                    "INSERT INTO records (repo, kind, path, at) VALUES (?, ?, ?, ?)", rows
                )
        return self.last_seq()

    @contextmanager
    def watcher_lock(self) -> Iterator[None]:
        """Hold the one-watcher-per-journal lock, an exclusive ``flock`` on ``<journal>.lock``,
        or raise :class:`~snake_pipe_core.errors.WatcherAlreadyRunning`. The kernel drops it
        when the process dies, however it dies: a stale lock cannot exist."""
        import fcntl  # POSIX; the journal itself is read anywhere

        lock_path = self.path.with_name(self.path.name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        # O_CLOEXEC: a child process must not inherit (and so keep) the lock.
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                pid = int(text) if text.isdigit() else None
                raise WatcherAlreadyRunning(
                    f"a watcher already runs for the journal {self.path} "
                    f"(pid {pid or 'unknown'}); not starting another",
                    pid,
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    def watcher_started(self, *, pid: int | None = None, host: str | None = None) -> None:
        """Record that a watcher (this process by default) has started."""
        now = time.time()
        with self._write() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO watcher VALUES (1, ?, ?, ?, ?)",
                [pid or os.getpid(), host or host_name(), now, now],
            )

    def heartbeat(self) -> None:
        """Record that the watcher is alive. Not fsync'd: a lost beat only looks older."""
        with self._lock:
            self._con.execute("PRAGMA synchronous = NORMAL")
            try:
                self._con.execute("UPDATE watcher SET beat_at = ? WHERE id = 1", [time.time()])
            except sqlite3.DatabaseError as e:
                raise self._fault(e) from e
            finally:
                self._con.execute("PRAGMA synchronous = FULL")

    def watcher_stopped(self, *, pid: int | None = None) -> None:
        """Record a clean stop, so that a consumer starts a new watcher without waiting for
        the heartbeat to go stale. Only the watcher that wrote the row clears it."""
        with self._write() as cur:
            cur.execute("DELETE FROM watcher WHERE id = 1 AND pid = ?", [pid or os.getpid()])

    # -- readers ---------------------------------------------------------------------------

    def read(self, after: int, limit: int = 1000) -> list[JournalRecord]:
        """Up to ``limit`` committed records with ``seq > after``, in order."""
        with self._lock:
            rows = self._con.execute(
                "SELECT seq, repo, kind, path, at FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
                [after, limit],
            ).fetchall()
        return [JournalRecord(s, r, Change(k), _decode_path(p), a) for s, r, k, p, a in rows]

    def repos_after(self, after: int) -> dict[str, tuple[int, int, int]]:
        """For each repository with records after ``after``: (first seq, last seq, records)."""
        with self._lock:
            rows = self._con.execute(
                "SELECT repo, min(seq), max(seq), count(*) FROM records WHERE seq > ? "
                "GROUP BY repo",
                [after],
            ).fetchall()
        return {repo: (int(first), int(last), int(n)) for repo, first, last, n in rows}

    def read_repo(self, repo: str, after: int, upto: int, limit: int) -> list[JournalRecord]:
        """Up to ``limit`` records of one repository with ``after < seq <= upto``, in order."""
        with self._lock:
            rows = self._con.execute(
                "SELECT seq, repo, kind, path, at FROM records WHERE repo = ? AND seq > ? "
                "AND seq <= ? ORDER BY seq LIMIT ?",
                [repo, after, upto, limit],
            ).fetchall()
        return [JournalRecord(s, r, Change(k), _decode_path(p), a) for s, r, k, p, a in rows]

    def top_levels(self, repo: str, after: int, upto: int, limit: int) -> list[str] | None:
        """The distinct top-level entries (first path component) one repository's records
        with ``after < seq <= upto`` name, at most ``limit`` of them; None when a rescan
        record is among them. Bounded memory whatever the number of records."""
        with self._lock:
            if self._con.execute(
                "SELECT 1 FROM records WHERE repo = ? AND seq > ? AND seq <= ? "
                "AND kind = 'rescan' LIMIT 1",
                [repo, after, upto],
            ).fetchone():
                return None
            rows = self._con.execute(
                "SELECT DISTINCT CASE WHEN instr(path, '/') > 0 "
                "THEN substr(path, 1, instr(path, '/') - 1) ELSE path END "
                "FROM records WHERE repo = ? AND seq > ? AND seq <= ? LIMIT ?",
                [repo, after, upto, limit],
            ).fetchall()
        return [p for (value,) in rows if (p := _decode_path(value)) is not None]

    def first_after(self, repo: str, after: int) -> int | None:
        """The first record of ``repo`` after ``after``, or None."""
        with self._lock:
            row = self._con.execute(
                "SELECT min(seq) FROM records WHERE repo = ? AND seq > ?", [repo, after]
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def last_seq(self) -> int:
        """The sequence number of the last record ever appended (0 for none); it does not go
        down when records are compacted away."""
        with self._lock:
            row = self._con.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'records'"
            ).fetchone()
        return int(row[0]) if row else 0

    def compacted_upto(self) -> int:
        """Every record with ``seq`` at or below this has been compacted away."""
        return int(str(self._value("compacted_upto") or 0))

    def compact(self, upto: int) -> int:
        """Drop the records with ``seq <= upto`` (capped at :meth:`last_seq`); call it once
        the consumer's cursor is persisted. Returns how many records were dropped."""
        with self._write() as cur:
            row = cur.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
            upto = min(upto, int(row[0]) if row else 0)
            dropped = cur.execute("DELETE FROM records WHERE seq <= ?", [upto]).rowcount
            cur.execute(
                "UPDATE meta SET value = max(value, ?) WHERE key = 'compacted_upto'", [upto]
            )
        with self._lock:
            free = self._con.execute("PRAGMA freelist_count").fetchone()[0]
            if free >= _VACUUM_PAGES:
                # executescript steps the pragma to the end (execute frees one page only)
                self._con.executescript("PRAGMA incremental_vacuum;")
        log.debug("journal %s: compacted %d records up to #%d", self.path, dropped, upto)
        return int(dropped)

    def pending(self) -> int:
        """How many records are held (not compacted yet)."""
        with self._lock:
            return int(self._con.execute("SELECT count(*) FROM records").fetchone()[0])

    def claim_consumer(self, consumer: str, *, stale_after_s: float = 60.0) -> str | None:
        """Take or renew the lease of the journal's one consumer.

        Only one consumer may compact a journal (the Dagster sensor *or* ``snake-pipe watch
        --ingest``): a second one would drop records the first has not applied. A lease is
        a consumer's (its name ``consumer``): another process of the same consumer takes it
        over at once — the sensor is evaluated in whichever code server the Dagster daemon
        runs at the time, one tick at a time. Another consumer gets it once it lapses: not
        renewed for ``stale_after_s``, or its process (on this host) is gone. Returns None when
        this process holds the lease now, or a description of the other holder (then do not
        consume)."""
        now, me = time.time(), (consumer, os.getpid(), host_name())
        with self._write() as cur:
            held = dict(cur.execute("SELECT key, value FROM meta WHERE key LIKE 'consumer%'"))
            holder = (held.get("consumer"), held.get("consumer_pid"), held.get("consumer_host"))
            if holder[0] is not None and holder[0] != consumer:
                fresh = now - float(held.get("consumer_at") or 0) < stale_after_s
                gone = holder[2] == me[2] and not pid_alive(int(holder[1] or 0))
                if fresh and not gone:
                    return f"{holder[0]} (pid {holder[1]} on {holder[2]})"
            cur.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [
                    ("consumer", consumer),
                    ("consumer_pid", me[1]),
                    ("consumer_host", me[2]),
                    ("consumer_at", now),
                ],
            )
        return None

    def release_consumer(self, consumer: str) -> None:
        """Give up the lease (on a clean stop), if this process holds it as ``consumer``."""
        with self._write() as cur:
            held = dict(cur.execute("SELECT key, value FROM meta WHERE key LIKE 'consumer%'"))
            if (held.get("consumer"), held.get("consumer_pid")) == (consumer, os.getpid()):
                cur.execute("DELETE FROM meta WHERE key LIKE 'consumer%'")

    def load_value(self, key: str) -> str | None:
        """A value a consumer keeps here (:meth:`save_value`), or None."""
        value = self._value(f"value:{key}")
        return None if value is None else str(value)

    def save_value(self, key: str, value: str | None) -> None:
        """Keep (or, with None, drop) a small value: a consumer's cursor or its status."""
        self.save_values({key: value})

    def save_values(self, values: Mapping[str, str | None]) -> None:
        """Keep several values in one transaction. Not fsync'd (WAL with ``synchronous =
        NORMAL``): a process that dies loses nothing; a power cut may lose the last ones, and
        with them anything written after them, so a cursor never outlives the compaction it
        allowed."""
        rows = [(f"value:{k}", v) for k, v in values.items() if v is not None]
        gone = [(f"value:{k}",) for k, v in values.items() if v is None]
        with self._lock:
            self._con.execute("PRAGMA synchronous = NORMAL")
            try:
                cur = self._con.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    cur.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)
                    cur.executemany("DELETE FROM meta WHERE key = ?", gone)
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            finally:
                self._con.execute("PRAGMA synchronous = FULL")

    def consumer_lease(self) -> tuple[str, int, str, float] | None:
        """Who holds the consumer lease: (name, pid, host, renewed at), or None."""
        with self._lock:
            held = dict(self._con.execute("SELECT key, value FROM meta WHERE key LIKE 'consumer%'"))
        if held.get("consumer") is None:
            return None
        return (
            str(held["consumer"]),
            int(held.get("consumer_pid") or 0),
            str(held.get("consumer_host") or ""),
            float(held.get("consumer_at") or 0.0),
        )

    def watcher_status(self) -> WatcherStatus | None:
        """The watcher's last heartbeat, or None if none runs (or it stopped cleanly)."""
        with self._lock:
            row = self._con.execute(
                "SELECT pid, host, started_at, beat_at FROM watcher WHERE id = 1"
            ).fetchone()
        return WatcherStatus(*row) if row else None

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> "ChangeJournal":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ChangeJournal({str(self.path)!r})"
