"""What one tick of ``ast_change_sensor`` asks for, decided from the change journal alone.

Pure functions (no Dagster; the only I/O, a stat of each root, is a parameter) so that every
rule below is tested directly.

**The cursor** (:class:`ChangeCursor`, a short JSON string) holds the journal's id and a
low-water mark ``seq``: every record at or below it is handled. It never lists files. It may
name a few repositories: those handled *beyond* the mark (``done``: repository → last handled
sequence number, while the mark is held back by another repository) and those that owe a
whole-repository diff (``rescan``). Both are bounded by the number of repositories.

**One run per repository at a time.** A repository is *held* while a run of it has started
(from any source: it may have read a file before the file changed, and must not commit after
a run that read it afterwards) or while a run this sensor queued waits to start (so a burst
queues one run per repository, not one per tick). Its new records stay in the journal (the
mark stops before them) and the next run, once the current one has ended, covers all of them
at once. A held repository whose records would make a whole-repository diff anyway, or that
pins the mark while the read window is full, owes a rescan instead, so the mark always moves
on. Past ``max_runs`` runs in a tick, the other repositories wait the same way.

**Lost records.** A cursor from another journal (the file was replaced) or below the
journal's compaction mark (records dropped before this sensor read them), or no cursor at
all on a journal already consumed by someone, means changes may have been missed: every
configured repository owes a rescan.

**Run keys** are ``<repo>:<journal id[:8]>-<epoch>:<first seq>-<last seq>`` for the records
a run covers, or ``…:r<mark>-<head>`` for an owed rescan without records of its own. The
same cursor over the same records gives the same keys, so a re-evaluated tick launches
nothing twice; the epoch (new with each fresh cursor) keeps the keys of a reset cursor from
colliding with earlier runs, which Dagster would otherwise skip as duplicates.
"""

import json
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from snake_pipe_core.changes import JournalRecord, RepoChanges, group_changes

__all__ = ["ChangeCursor", "RunPlan", "TickPlan", "plan_tick", "start_position"]

_CURSOR_VERSION = 1


@dataclass(frozen=True, slots=True)
class ChangeCursor:
    """Where the sensor stands in the journal (see the module docstring)."""

    journal_id: str
    seq: int = 0
    done: Mapping[str, int] = field(default_factory=dict)
    rescan: tuple[str, ...] = ()
    epoch: str = ""
    # When the sensor last started a watcher, and how many times in a row without a heartbeat.
    spawned_at: float | None = None
    spawns: int = 0

    def dumps(self) -> str:
        data: dict[str, Any] = {"v": _CURSOR_VERSION, "j": self.journal_id, "s": self.seq}
        if self.done:
            data["d"] = dict(sorted(self.done.items()))
        if self.rescan:
            data["r"] = sorted(self.rescan)
        if self.epoch:
            data["e"] = self.epoch
        if self.spawned_at is not None:
            data["w"] = [round(self.spawned_at, 3), self.spawns]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> "ChangeCursor | None":
        """The cursor, or None when there is none or it cannot be read (a fresh start)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            if data.get("v") != _CURSOR_VERSION:
                return None
            spawned = data.get("w") or [None, 0]
            return cls(
                journal_id=str(data["j"]),
                seq=int(data["s"]),
                done={str(k): int(v) for k, v in data.get("d", {}).items()},
                rescan=tuple(sorted(str(r) for r in data.get("r", []))),
                epoch=str(data.get("e", "")),
                spawned_at=None if spawned[0] is None else float(spawned[0]),
                spawns=int(spawned[1]),
            )
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            return None

    def key_prefix(self, repo: str) -> str:
        return f"{repo}:{self.journal_id[:8]}-{self.epoch}"


def new_epoch() -> str:
    return secrets.token_hex(3)


def start_position(
    cursor: ChangeCursor | None,
    *,
    journal_id: str,
    compacted_upto: int,
    repos: Collection[str],
    epoch: Callable[[], str] = new_epoch,
) -> tuple[ChangeCursor, str | None]:
    """The cursor to read from, and why every repository must be rescanned (None: no loss)."""
    everyone = tuple(sorted(set(repos)))
    if cursor is None:
        fresh = ChangeCursor(journal_id, compacted_upto, epoch=epoch())
        if compacted_upto > 0:
            why = (
                f"no cursor (first tick, or a reset) on a journal consumed up to "
                f"#{compacted_upto}: what was applied is unknown"
            )
            return replace(fresh, rescan=everyone), why
        return fresh, None
    if cursor.journal_id != journal_id:
        why = f"the journal was replaced (id {cursor.journal_id[:8]} → {journal_id[:8]})"
        moved = ChangeCursor(
            journal_id,
            compacted_upto,
            rescan=tuple(sorted(set(cursor.rescan) | set(everyone))),
            epoch=cursor.epoch,
            spawned_at=cursor.spawned_at,
            spawns=cursor.spawns,
        )
        return moved, why
    if compacted_upto > cursor.seq:
        why = (
            f"records #{cursor.seq + 1}-#{compacted_upto} were compacted before this sensor "
            "read them (is another consumer, e.g. `snake-pipe watch --ingest`, running?)"
        )
        moved = replace(
            cursor,
            seq=compacted_upto,
            done={r: s for r, s in cursor.done.items() if s > compacted_upto},
            rescan=tuple(sorted(set(cursor.rescan) | set(everyone))),
        )
        return moved, why
    return cursor, None


@dataclass(frozen=True, slots=True)
class RunPlan:
    """One run to request: ``paths`` None means a whole-repository diff."""

    repo: str
    paths: tuple[str, ...] | None
    run_key: str
    why: str
    first_seq: int | None = None
    last_seq: int | None = None
    records: int = 0


@dataclass(frozen=True, slots=True)
class TickPlan:
    """What one tick does: runs, partitions to add, and the cursor to persist."""

    runs: list[RunPlan]
    add_partitions: list[str]
    cursor: ChangeCursor
    held: list[str]  # busy, or past the tick's run limit
    dropped: dict[str, str]
    read: int
    head: int


def _utf8(paths: Sequence[str]) -> bool:
    """Run config travels as JSON: a name that is not UTF-8 cannot go in it."""
    try:
        for p in paths:
            p.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _run_for(
    cursor: ChangeCursor, repo: str, w: RepoChanges | None, head: int, owed: bool
) -> RunPlan:
    prefix = cursor.key_prefix(repo)
    if w is None:
        return RunPlan(repo, None, f"{prefix}:r{cursor.seq}-{head}", "a rescan it owed")
    key = f"{prefix}:{w.first_seq}-{w.last_seq}"
    if owed:
        why = "a rescan it owed"
    elif w.paths is None:
        why = "a rescan marker or more paths than a run takes"
    elif not _utf8(w.paths):
        why = "a name that is not UTF-8"
    else:
        why = "changes"
    paths = w.paths if why == "changes" else None
    return RunPlan(repo, paths, key, why, w.first_seq, w.last_seq, w.records)


def plan_tick(
    cursor: ChangeCursor,
    records: Sequence[JournalRecord],
    *,
    window: int,
    configured: Mapping[str, Path],
    partitions: Collection[str],
    busy: Collection[str],
    max_paths: int,
    max_runs: int = 1000,
    root_exists: Callable[[Path], bool] = Path.is_dir,
) -> TickPlan:
    """Decide one tick.

    Args:
        cursor: where the tick starts (from :func:`start_position`).
        records: the journal's records after ``cursor.seq``, at most ``window`` of them.
        window: the read limit; a full window means more records wait behind it.
        configured: every configured repository and its root.
        partitions: the repository partitions that exist.
        busy: repositories with a run in flight (held: see the module docstring).
        max_paths: paths one run takes (``watch.max_run_paths``); above, a rescan.
        max_runs: runs one tick requests; the other repositories wait as held ones do (a
            watcher's start-up rescan of thousands of repositories spreads over ticks).
        root_exists: how a root is checked (a seam for tests).
    """
    mark = cursor.seq
    done = dict(cursor.done)
    owed = set(cursor.rescan)
    fresh = [r for r in records if r.seq > done.get(r.repo, mark)]
    head = records[-1].seq if records else mark
    window_full = len(records) >= window
    work = group_changes(fresh, max_paths=max_paths)
    runs: list[RunPlan] = []
    held: list[str] = []
    dropped: dict[str, str] = {}
    pinned: list[int] = []
    for repo in sorted(set(work) | owed):
        w = work.get(repo)
        root = configured.get(repo)
        if root is None or not root_exists(root):
            dropped[repo] = "not configured" if root is None else f"its root {root} is missing"
            owed.discard(repo)
        elif repo in busy or len(runs) >= max_runs:
            held.append(repo)
            if w is None:
                continue  # it still owes its rescan
            if w.paths is None or window_full:
                owed.add(repo)  # a whole-repository diff, later, covers these records
            else:
                pinned.append(w.first_seq)  # they wait in the journal
                continue
        else:
            runs.append(_run_for(cursor, repo, w, head, repo in owed))
            owed.discard(repo)
        if w is not None:
            done[repo] = w.last_seq
    new_mark = min(pinned) - 1 if pinned else head
    next_cursor = replace(
        cursor,
        seq=new_mark,
        done={r: s for r, s in sorted(done.items()) if s > new_mark},
        rescan=tuple(sorted(owed)),
    )
    add = sorted({r.repo for r in runs} - set(partitions))
    return TickPlan(runs, add, next_cursor, held, dropped, len(records), head)
