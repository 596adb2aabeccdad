"""What the mass-delete guard remembers: where each root was, and the refusals that stand.

A small SQLite file beside the store (``<store folder>/guard.sqlite``; for an external catalog,
in this host's state folder), shared by every process of the host: runs write it, and the
consumer of the change journal, ``snake-pipe status``, ``snake-pipe watch --status`` and the
Dagster asset check read it. Two tables:

- ``roots``: per repository, the mount its root was on and how many live files the store held
  after the last run that succeeded (what a later run compares with);
- ``refusals``: per repository, the refusal that stands (what was judged, since when, how many
  times in a row), when the consumer retries it, and whether a person confirmed the
  deletions. A run of the whole repository that succeeds clears it.
"""

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreDamaged, StoreFull
from .mounts import RootIdentity

__all__ = ["GUARD_FILE", "GuardState", "RecordedRoot", "Refusal"]

log = logging.getLogger(__name__)
GUARD_FILE = "guard.sqlite"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS roots (
        repo        TEXT PRIMARY KEY,
        mount_point TEXT, fstype TEXT, source TEXT, mount_root TEXT, device INTEGER,
        live_files  INTEGER NOT NULL,
        recorded_at REAL NOT NULL     -- the last whole-repository run that succeeded
    )""",
    """CREATE TABLE IF NOT EXISTS refusals (
        repo         TEXT PRIMARY KEY,
        kind         TEXT NOT NULL,
        detail       TEXT NOT NULL,
        since        REAL NOT NULL,   -- the first refusal of this run of refusals
        last_at      REAL NOT NULL,
        refusals     INTEGER NOT NULL,
        confirmed_at REAL,            -- a person confirmed the deletions
        retry_at     REAL,            -- when the journal's consumer tries again
        retry_by     TEXT
    )""",
)


@dataclass(frozen=True, slots=True)
class RecordedRoot:
    identity: RootIdentity
    live_files: int
    recorded_at: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refusal that stands. ``kind``: ``unavailable`` (root missing, not a folder or
    unreadable), ``mount`` (on another mount than recorded), ``empty`` (root empty),
    ``vanished`` (most files gone with nothing new beside them) or ``excluded`` (rules that
    would exclude most known files)."""

    repo: str
    kind: str
    detail: str
    since: float
    last_at: float
    refusals: int
    confirmed_at: float | None = None
    retry_at: float | None = None
    retry_by: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "repo": self.repo,
            "kind": self.kind,
            "detail": self.detail,
            "since": self.since,
            "last_at": self.last_at,
            "refusals": self.refusals,
            "confirmed_at": self.confirmed_at,
            "retry_at": self.retry_at,
            "retry_by": self.retry_by,
        }


class GuardState:
    """The guard's file; every call opens a short connection (runs of many processes share
    it, none holds it)."""

    def __init__(self, folder: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(folder) / GUARD_FILE
        self.busy_timeout_s = busy_timeout_s

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        if not write and not self.path.exists():
            yield None  # nothing recorded yet; reading must not create the file
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._open_and_prepare(write=write) as con:
                yield con
        except sqlite3.DatabaseError as e:
            raise self._fault(e) from e

    def _fault(self, e: sqlite3.DatabaseError) -> Exception:
        """A full disk or a damaged file, said plainly; a busy file as it is."""
        text = str(e)
        if "disk is full" in text or "No space left" in text:
            return StoreFull(
                f"no space left on device at {self.path.parent}: free space and re-run; "
                "nothing committed was lost"
            )
        if isinstance(e, sqlite3.OperationalError):
            return e
        return StoreDamaged(
            f"the mass-delete guard's state {self.path} is damaged ({text}): move it aside; it "
            "holds only where each root was and the refusals that stand, and the next runs "
            "record them again"
        )

    @contextmanager
    def _open_and_prepare(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")
            if write:
                con.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                con.execute(statement)
            yield con
            if write:
                con.execute("COMMIT")
        except BaseException:
            if write and con.in_transaction:
                with suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    # -- roots ---------------------------------------------------------------------------------

    def root(self, repo: str) -> RecordedRoot | None:
        with self._connect(write=False) as con:
            row = (
                None
                if con is None
                else con.execute(
                    "SELECT mount_point, fstype, source, mount_root, device, live_files, "
                    "recorded_at "
                    "FROM roots WHERE repo = ?",
                    [repo],
                ).fetchone()
            )
        if row is None:
            return None
        return RecordedRoot(RootIdentity(*row[:5]), int(row[5]), float(row[6]))

    def succeeded(self, repo: str, identity: RootIdentity, live_files: int, *, whole: bool) -> None:
        """A run succeeded: remember where the root is and how many live files the store
        holds, and let the refusal it answers go. A run of the whole repository answers any;
        a run of some paths all but ``vanished``, which needs a whole diff to be judged again.
        """
        now = time.time()
        with self._connect(write=True) as con:
            assert con is not None
            # recorded_at: the last whole run that succeeded (what "fresh since" counts from).
            con.execute(
                "INSERT INTO roots VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo) DO UPDATE "
                "SET live_files = excluded.live_files, mount_point = excluded.mount_point, "
                "fstype = excluded.fstype, source = excluded.source, "
                "mount_root = excluded.mount_root, device = excluded.device, "
                "recorded_at = CASE WHEN ? THEN excluded.recorded_at ELSE roots.recorded_at END",
                [repo, identity.mount_point, identity.fstype, identity.source,
                 identity.mount_root, identity.device, live_files, now if whole else 0.0, whole],
            )  # fmt: skip
            con.execute(
                "DELETE FROM refusals WHERE repo = ? AND (? OR kind <> 'vanished')", [repo, whole]
            )

    # -- refusals ------------------------------------------------------------------------------

    def refuse(self, repo: str, kind: str, detail: str) -> Refusal:
        """Record a refusal (one more in a row, or the first)."""
        now = time.time()
        with self._connect(write=True) as con:
            assert con is not None
            con.execute(
                "INSERT INTO refusals (repo, kind, detail, since, last_at, refusals) "
                "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (repo) DO UPDATE SET kind = excluded.kind, "
                "detail = excluded.detail, last_at = excluded.last_at, "
                "refusals = refusals.refusals + 1",
                [repo, kind, detail, now, now],
            )
            row = con.execute(f"SELECT {_COLUMNS} FROM refusals WHERE repo = ?", [repo]).fetchone()
        log.warning("%s: refused (%s): %s", repo, kind, detail)
        return Refusal(*row)

    def refusal(self, repo: str) -> Refusal | None:
        with self._connect(write=False) as con:
            row = (
                None
                if con is None
                else con.execute(
                    f"SELECT {_COLUMNS} FROM refusals WHERE repo = ?", [repo]
                ).fetchone()
            )
        return Refusal(*row) if row else None

    def refusals(self) -> list[Refusal]:
        with self._connect(write=False) as con:
            rows = (
                []
                if con is None
                else con.execute(f"SELECT {_COLUMNS} FROM refusals ORDER BY repo").fetchall()
            )
        return [Refusal(*row) for row in rows]

    def confirm(self, repo: str) -> Refusal | None:
        """A person confirms that the files really are gone: the next try of the journal's
        consumer may mark them deleted. Returns the refusal confirmed (None: none stands)."""
        with self._connect(write=True) as con:
            assert con is not None
            con.execute("UPDATE refusals SET confirmed_at = ? WHERE repo = ?", [time.time(), repo])
            row = con.execute(f"SELECT {_COLUMNS} FROM refusals WHERE repo = ?", [repo]).fetchone()
        return Refusal(*row) if row else None

    def schedule(self, repo: str, retry_at: float | None, by: str) -> None:
        """Note when the consumer ``by`` tries a refused repository again (shown by status)."""
        with self._connect(write=True) as con:
            assert con is not None
            con.execute(
                "UPDATE refusals SET retry_at = ?, retry_by = ? WHERE repo = ?",
                [retry_at, by, repo],
            )


_COLUMNS = "repo, kind, detail, since, last_at, refusals, confirmed_at, retry_at, retry_by"
