"""Changes: what the watcher reports, what the journal holds, and the work they ask for.

A change is a *hint*, not a fact: "look at this path again" (or "at the whole repository");
the incremental run stats the disk and decides. That is why duplicates are harmless and why
many records collapse into one run per repository (:func:`group_changes`): paths under a
recorded folder fold into it (walking the folder covers them, and the engine must not be
given a file twice), and past a bound they coarsen to their top-level folders.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ..ingest.discovery import covering_paths

__all__ = [
    "Change",
    "FileChange",
    "JournalRecord",
    "RepoChanges",
    "group_changes",
    "top_level",
]


class Change(StrEnum):
    """What a record asks of the next incremental run. Values are stored: keep them stable."""

    CHANGED = "changed"  # written and closed, created (a folder) or moved in: stat it again
    DELETED = "deleted"  # deleted or moved away: what the store has there may be gone
    RESCAN = "rescan"  # events may have been lost: diff the whole repository


@dataclass(frozen=True, slots=True)
class FileChange:
    """One change as the watcher reports it: a path relative to the repository root (``/``
    separators; a name that is not UTF-8 keeps its bytes as surrogate escapes), or no path
    for a rescan of the whole repository."""

    change: Change
    repo: str
    path: str | None = None


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """A committed record; ``seq`` orders all records of the journal."""

    seq: int
    repo: str
    change: Change
    path: str | None
    at: float


@dataclass(frozen=True, slots=True)
class RepoChanges:
    """The work a run of records asks of one repository.

    ``paths`` are the files and folders to look at (sorted, none under another one), or None
    to rescan the whole repository. ``first_seq``/``last_seq`` bound the records it covers
    (a natural ``run_key``).
    """

    repo: str
    paths: tuple[str, ...] | None
    first_seq: int
    last_seq: int
    records: int

    @property
    def rescan(self) -> bool:
        return self.paths is None


def top_level(path: str) -> str:
    """The entry of the repository's root a path is in (itself, for a top-level entry)."""
    return path.split("/", 1)[0]


def group_changes(
    records: Iterable[JournalRecord], *, max_paths: int = 1000
) -> dict[str, RepoChanges]:
    """Turn a run of records into one unit of work per repository.

    Duplicates collapse and paths under a recorded folder fold into it. Past ``max_paths``
    distinct paths (which bounds memory and run configuration), a repository's paths coarsen
    to the top-level folders they are in: the run walks those folders whole, which only stats
    unchanged files, and what the watcher saw stays a run of paths, not a whole-repository
    diff. A rescan record, or more than ``max_paths`` top-level entries, makes the work a
    whole-repository diff.
    """
    bounds: dict[str, list[int]] = {}  # repo -> [first_seq, last_seq, records]
    paths: dict[str, set[str] | None] = {}
    coarse: set[str] = set()
    for r in records:
        b = bounds.get(r.repo)
        if b is None:
            bounds[r.repo] = [r.seq, r.seq, 1]
            paths[r.repo] = set()
        else:
            b[0], b[1], b[2] = min(b[0], r.seq), max(b[1], r.seq), b[2] + 1
        held = paths[r.repo]
        if held is None:
            continue
        if r.change is Change.RESCAN or r.path is None:
            paths[r.repo] = None
            continue
        held.add(top_level(r.path) if r.repo in coarse else r.path)
        if len(held) > max_paths and r.repo not in coarse:
            coarse.add(r.repo)
            held = paths[r.repo] = {top_level(p) for p in held}
        if len(held) > max_paths:
            paths[r.repo] = None
    out = {}
    for repo, (first, last, n) in bounds.items():
        held = paths[repo]
        cover = None if held is None else tuple(covering_paths(held))
        if cover is not None and len(cover) > max_paths:
            cover = None
        out[repo] = RepoChanges(repo, cover, first, last, n)
    return out
