"""The change journal in PostgreSQL, for a watcher and a consumer on different hosts.

The watcher runs on the host that sees the files; the Dagster daemon that runs the sensor is
elsewhere (``deploy/multihost/``). A SQLite file cannot be shared between hosts safely, so
there the journal lives in PostgreSQL, beside the store's catalog, with the same contract as
:class:`~snake_pipe_core.journal.log.ChangeJournal`:

- a record *counts* once its transaction committed (PostgreSQL fsyncs the commit);
- sequence numbers only grow and are never reused: they are handed out under the row lock of
  the ``last_seq`` value, in the appending transaction, so records become visible in sequence
  order — a reader never sees #11 committed while #10 may still appear (a ``SEQUENCE`` would
  allow exactly that between two appenders, and reuse nothing but also guarantee nothing);
- one watcher per journal, cluster-wide: a session-level advisory lock held on a connection
  of its own, dropped by the server when the watcher's process or host dies;
- one consumer's lease, taken under a transaction-level advisory lock.

Paths are stored as bytes (``bytea``): a file name that is not UTF-8 round-trips exactly.
Everything lives in the schema ``snake_pipe_journal`` of the database named by
``[watch] journal``. Needs ``psycopg2`` (the ``multihost`` extra).
"""

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import StoreError, WatcherAlreadyRunning
from ..processes import host_name, pid_alive
from .changes import Change, FileChange, JournalRecord
from .log import WatcherStatus

__all__ = ["SCHEMA", "PostgresJournal", "redact_dsn"]

log = logging.getLogger(__name__)
SCHEMA = "snake_pipe_journal"
_SCHEMA_VERSION = 1
# Advisory lock keys (one 64-bit space per database): "snkp" in the high half.
_SETUP_KEY = 0x736E6B70_00000001
_WATCHER_KEY = 0x736E6B70_00000002
_LEASE_KEY = 0x736E6B70_00000003

_DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.records (
        seq  bigint PRIMARY KEY,
        repo text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('changed', 'deleted', 'rescan')),
        path bytea,
        at   double precision NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS records_by_repo ON {SCHEMA}.records (repo, seq)",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.watcher (
        id integer PRIMARY KEY CHECK (id = 1),
        pid integer NOT NULL,
        host text NOT NULL,
        started_at double precision NOT NULL,
        beat_at double precision NOT NULL
    )""",
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.meta (key text PRIMARY KEY, value text)",
)
_UPSERT = (
    f"INSERT INTO {SCHEMA}.meta VALUES (%s, %s) "
    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
)


def redact_dsn(dsn: str) -> str:
    """``dsn`` without its password, fit for a message or a log."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        if parts.password is not None:
            host = parts.hostname or ""
            netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
            return urlunsplit(parts._replace(netloc=netloc))
        return dsn
    return " ".join(
        "password=***" if item.startswith("password=") else item for item in dsn.split()
    )


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _encode(path: str | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def _decode(value: Any) -> str | None:
    return None if value is None else os.fsdecode(bytes(value))


class PostgresJournal:
    """The journal in a PostgreSQL database; safe to share between threads of a process, and
    between processes on any number of hosts (one of them the writing watcher).

    Args:
        dsn: a libpq connection string or ``postgresql://`` URL.
        connect_timeout_s: how long connecting may take before it is an error.

    Raises:
        StoreError: the database cannot be reached, or holds a journal this version does not
            understand.
    """

    is_shared = True

    def __init__(self, dsn: str, *, connect_timeout_s: float = 10.0) -> None:
        try:
            import psycopg2
        except ImportError as e:  # pragma: no cover - the multihost extra installs it
            raise StoreError(
                "a journal in PostgreSQL needs psycopg2: pip install 'snake-pipe[multihost]'"
            ) from e
        self._pg = psycopg2
        self.dsn = dsn
        self.where = redact_dsn(dsn)
        self._timeout = max(1, int(connect_timeout_s))
        self._lock = threading.Lock()
        self._con: Any = None
        with self._tx() as cur:
            # Set up once: the sensor opens the journal every tick, and a CREATE INDEX, even
            # IF NOT EXISTS, would lock the watcher's appends out for its moment.
            cur.execute("SELECT to_regclass(%s)", [f"{SCHEMA}.meta"])
            if cur.fetchone()[0] is None:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_SETUP_KEY])
                for statement in _DDL:
                    cur.execute(statement)
            cur.execute(
                f"INSERT INTO {SCHEMA}.meta VALUES ('journal_id', %s), ('compacted_upto', '0'), "
                "('last_seq', '0'), ('schema_version', %s) ON CONFLICT (key) DO NOTHING",
                [uuid.uuid4().hex, str(_SCHEMA_VERSION)],
            )
            cur.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'schema_version'")
            version = int(cur.fetchone()[0])
        if version > _SCHEMA_VERSION:
            raise StoreError(
                f"the change journal in {self.where} was written by a newer snake-pipe "
                f"(schema {version}); upgrade snake-pipe on this host"
            )
        self.journal_id: str = str(self._value("journal_id"))

    # -- connection and transactions -------------------------------------------------------

    def _connect(self) -> Any:
        try:
            return self._pg.connect(
                self.dsn, connect_timeout=self._timeout, application_name="snake-pipe journal"
            )
        except self._pg.Error as e:
            raise StoreError(
                f"cannot reach the change journal in {self.where}: {_one_line(e)}; check "
                "[watch] journal and that PostgreSQL runs (snake-pipe config check)"
            ) from e

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction on this journal's connection (opened again if it was lost)."""
        with self._lock:
            if self._con is None or self._con.closed:
                self._con = self._connect()
            con = self._con
            try:
                with con.cursor() as cur:
                    yield cur
                con.commit()
            except self._pg.Error as e:
                self._drop(con)
                raise StoreError(
                    f"the change journal in {self.where} failed: {_one_line(e)}"
                ) from e
            except BaseException:
                self._drop(con)
                raise

    def _drop(self, con: Any) -> None:
        """Roll back, or give the connection up when that fails (the next call reconnects)."""
        try:
            con.rollback()
        except self._pg.Error:
            con.close()
        if con.closed:
            self._con = None

    def _value(self, key: str) -> str | None:
        with self._tx() as cur:
            cur.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = %s", [key])
            row = cur.fetchone()
        return None if row is None else row[0]

    # -- the writer ------------------------------------------------------------------------

    def append(self, changes: Iterable[FileChange], *, at: float | None = None) -> int:
        """Append a batch of changes in one transaction; when this returns, the records are
        committed. Returns the sequence number of the last record."""
        stamp = time.time() if at is None else at
        rows = [(c.repo, c.change.value, _encode(c.path)) for c in changes]
        if not rows:
            return self.last_seq()
        with self._tx() as cur:
            # The row lock on last_seq orders appenders: numbers are taken and made visible
            # in the same order.
            cur.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'last_seq' FOR UPDATE")
            first = int(cur.fetchone()[0]) + 1
            values = [
                (first + i, repo, kind, path, stamp) for i, (repo, kind, path) in enumerate(rows)
            ]
            cur.executemany(f"INSERT INTO {SCHEMA}.records VALUES (%s, %s, %s, %s, %s)", values)
            last = first + len(rows) - 1
            cur.execute(f"UPDATE {SCHEMA}.meta SET value = %s WHERE key = 'last_seq'", [str(last)])
        return last

    @contextmanager
    def watcher_lock(self) -> Iterator[None]:
        """Hold the one-watcher-per-journal lock (cluster-wide), or raise
        :class:`~snake_pipe_core.errors.WatcherAlreadyRunning`. The lock is the session's: the
        server drops it when this process, its host or the connection dies."""
        con = self._connect()
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s)", [_WATCHER_KEY])
                held = bool(cur.fetchone()[0])
            if not held:
                status = self.watcher_status()
                who = f"pid {status.pid} on {status.host}" if status else "another process"
                raise WatcherAlreadyRunning(
                    f"a watcher already runs for the journal in {self.where} ({who}); "
                    "not starting another",
                    status.pid if status else None,
                )
            yield
        finally:
            con.close()  # the lock goes with the session

    def watcher_started(self, *, pid: int | None = None, host: str | None = None) -> None:
        """Record that a watcher (this process by default) has started."""
        now = time.time()
        with self._tx() as cur:
            cur.execute(
                f"INSERT INTO {SCHEMA}.watcher VALUES (1, %s, %s, %s, %s) ON CONFLICT (id) DO "
                "UPDATE SET pid = EXCLUDED.pid, host = EXCLUDED.host, "
                "started_at = EXCLUDED.started_at, beat_at = EXCLUDED.beat_at",
                [pid or os.getpid(), host or host_name(), now, now],
            )

    def heartbeat(self) -> None:
        """Record that the watcher is alive."""
        with self._tx() as cur:
            cur.execute(f"UPDATE {SCHEMA}.watcher SET beat_at = %s WHERE id = 1", [time.time()])

    def watcher_stopped(self, *, pid: int | None = None) -> None:
        """Record a clean stop; only the watcher that wrote the row (pid and host) clears it."""
        with self._tx() as cur:
            cur.execute(
                f"DELETE FROM {SCHEMA}.watcher WHERE id = 1 AND pid = %s AND host = %s",
                [pid or os.getpid(), host_name()],
            )

    # -- readers ---------------------------------------------------------------------------

    def _records(self, where: str, params: list[Any]) -> list[JournalRecord]:
        with self._tx() as cur:
            cur.execute(
                f"SELECT seq, repo, kind, path, at FROM {SCHEMA}.records WHERE {where}", params
            )
            rows = cur.fetchall()
        return [JournalRecord(s, r, Change(k), _decode(p), a) for s, r, k, p, a in rows]

    def read(self, after: int, limit: int = 1000) -> list[JournalRecord]:
        """Up to ``limit`` committed records with ``seq > after``, in order."""
        return self._records("seq > %s ORDER BY seq LIMIT %s", [after, limit])

    def repos_after(self, after: int) -> dict[str, tuple[int, int, int]]:
        """For each repository with records after ``after``: (first seq, last seq, records)."""
        with self._tx() as cur:
            cur.execute(
                f"SELECT repo, min(seq), max(seq), count(*) FROM {SCHEMA}.records "
                "WHERE seq > %s GROUP BY repo",
                [after],
            )
            rows = cur.fetchall()
        return {repo: (int(first), int(last), int(n)) for repo, first, last, n in rows}

    def read_repo(self, repo: str, after: int, upto: int, limit: int) -> list[JournalRecord]:
        """Up to ``limit`` records of one repository with ``after < seq <= upto``, in order."""
        return self._records(
            "repo = %s AND seq > %s AND seq <= %s ORDER BY seq LIMIT %s", [repo, after, upto, limit]
        )

    def top_levels(self, repo: str, after: int, upto: int, limit: int) -> list[str] | None:
        """The distinct top-level entries one repository's records with ``after < seq <=
        upto`` name, at most ``limit`` of them; None when a rescan record is among them."""
        with self._tx() as cur:
            cur.execute(
                f"SELECT 1 FROM {SCHEMA}.records WHERE repo = %s AND seq > %s AND seq <= %s "
                "AND kind = 'rescan' LIMIT 1",
                [repo, after, upto],
            )
            if cur.fetchone():
                return None
            cur.execute(
                "SELECT DISTINCT CASE WHEN position('\\x2f'::bytea IN path) > 0 "
                "THEN substring(path FROM 1 FOR position('\\x2f'::bytea IN path) - 1) "
                f"ELSE path END FROM {SCHEMA}.records "
                "WHERE repo = %s AND seq > %s AND seq <= %s LIMIT %s",
                [repo, after, upto, limit],
            )
            rows = cur.fetchall()
        return [p for (value,) in rows if (p := _decode(value)) is not None]

    def first_after(self, repo: str, after: int) -> int | None:
        """The first record of ``repo`` after ``after``, or None."""
        with self._tx() as cur:
            cur.execute(
                f"SELECT min(seq) FROM {SCHEMA}.records WHERE repo = %s AND seq > %s", [repo, after]
            )
            row = cur.fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def last_seq(self) -> int:
        """The sequence number of the last record ever appended (0 for none)."""
        return int(self._value("last_seq") or 0)

    def compacted_upto(self) -> int:
        """Every record with ``seq`` at or below this has been compacted away."""
        return int(self._value("compacted_upto") or 0)

    def compact(self, upto: int) -> int:
        """Drop the records with ``seq <= upto`` (capped at :meth:`last_seq`); call it once
        the consumer's cursor is persisted. Returns how many records were dropped. Space
        goes back through PostgreSQL's autovacuum."""
        with self._tx() as cur:
            cur.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'last_seq'")
            upto = min(upto, int(cur.fetchone()[0]))
            cur.execute(f"DELETE FROM {SCHEMA}.records WHERE seq <= %s", [upto])
            dropped = cur.rowcount
            cur.execute(
                f"UPDATE {SCHEMA}.meta SET value = greatest(value::bigint, %s)::text "
                "WHERE key = 'compacted_upto'",
                [upto],
            )
        log.debug("journal %s: compacted %d records up to #%d", self.where, dropped, upto)
        return int(dropped)

    def pending(self) -> int:
        """How many records are held (not compacted yet)."""
        with self._tx() as cur:
            cur.execute(f"SELECT count(*) FROM {SCHEMA}.records")
            return int(cur.fetchone()[0])

    # -- the consumer's lease and values ---------------------------------------------------

    def _lease(self, cur: Any) -> dict[str, str]:
        cur.execute(f"SELECT key, value FROM {SCHEMA}.meta WHERE key LIKE 'consumer%%'")
        return dict(cur.fetchall())

    def claim_consumer(self, consumer: str, *, stale_after_s: float = 60.0) -> str | None:
        """Take or renew the lease of the journal's one consumer (see
        :meth:`ChangeJournal.claim_consumer <snake_pipe_core.journal.log.ChangeJournal.claim_consumer>`).
        Returns None when this process holds it now, or a description of the other holder."""  # noqa: E501
        now, me = time.time(), (consumer, str(os.getpid()), host_name())
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LEASE_KEY])
            held = self._lease(cur)
            holder = (held.get("consumer"), held.get("consumer_pid"), held.get("consumer_host"))
            if holder[0] is not None and holder[0] != consumer:
                fresh = now - float(held.get("consumer_at") or 0) < stale_after_s
                gone = holder[2] == me[2] and not pid_alive(int(holder[1] or 0))
                if fresh and not gone:
                    return f"{holder[0]} (pid {holder[1]} on {holder[2]})"
            cur.executemany(
                _UPSERT,
                [
                    ("consumer", consumer),
                    ("consumer_pid", me[1]),
                    ("consumer_host", me[2]),
                    ("consumer_at", repr(now)),
                ],
            )
        return None

    def release_consumer(self, consumer: str) -> None:
        """Give up the lease (on a clean stop), if this process holds it as ``consumer``."""
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LEASE_KEY])
            held = self._lease(cur)
            mine = (consumer, str(os.getpid()), host_name())
            if (held.get("consumer"), held.get("consumer_pid"), held.get("consumer_host")) == mine:
                cur.execute(f"DELETE FROM {SCHEMA}.meta WHERE key LIKE 'consumer%%'")

    def consumer_lease(self) -> tuple[str, int, str, float] | None:
        """Who holds the consumer lease: (name, pid, host, renewed at), or None."""
        with self._tx() as cur:
            held = self._lease(cur)
        if held.get("consumer") is None:
            return None
        return (
            held["consumer"],
            int(held.get("consumer_pid") or 0),
            held.get("consumer_host") or "",
            float(held.get("consumer_at") or 0.0),
        )

    def load_value(self, key: str) -> str | None:
        """A value a consumer keeps here (:meth:`save_value`), or None."""
        return self._value(f"value:{key}")

    def save_value(self, key: str, value: str | None) -> None:
        """Keep (or, with None, drop) a small value: a consumer's cursor or its status."""
        self.save_values({key: value})

    def save_values(self, values: Mapping[str, str | None]) -> None:
        """Keep several values in one transaction."""
        rows = [(f"value:{k}", v) for k, v in values.items() if v is not None]
        gone = [(f"value:{k}",) for k, v in values.items() if v is None]
        with self._tx() as cur:
            if rows:
                cur.executemany(_UPSERT, rows)
            if gone:
                cur.executemany(f"DELETE FROM {SCHEMA}.meta WHERE key = %s", gone)

    def watcher_status(self) -> WatcherStatus | None:
        """The watcher's last heartbeat, or None if none runs (or it stopped cleanly)."""
        with self._tx() as cur:
            cur.execute(f"SELECT pid, host, started_at, beat_at FROM {SCHEMA}.watcher WHERE id = 1")
            row = cur.fetchone()
        return WatcherStatus(*row) if row else None

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> "PostgresJournal":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresJournal({self.where!r})"
