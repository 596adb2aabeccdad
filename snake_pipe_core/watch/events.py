"""From watchdog events to repository changes: the rules, the bounded pending set, the settle.

Event threads (watchdog's) call :class:`RepoEventHandler`, which maps an absolute path to a
repository-relative one, applies discovery's rules (pruned folders, editor temp files,
non-AST JSON, include patterns) and adds it to :class:`PendingChanges`. The watcher's own
thread waits on the pending set's condition (no polling) until a burst settles.

Pruned folders (``.git``, ``node_modules``…) are not even watched. Writes of editor temp
files are not recorded: they churn while an editor works and vanish on save; their deletion
is. Every other file is recorded, excluded ones too (``package.json``, a ``README.md``): the
store lists excluded files with their rule, and an incremental run of such a path only stats
it, so the store stays equal to what a full ingest of the same tree would write.
"""

import logging
import os
import threading
import time

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
    FileSystemMovedEvent,
)

from ..ingest.discovery import Rules, covering_paths
from ..journal.changes import Change, FileChange
from .inotify import QueueOverflowEvent

__all__ = ["COOKIE_PREFIX", "EVENT_FILTER", "PendingChanges", "RepoEventHandler"]

log = logging.getLogger(__name__)
COOKIE_PREFIX = ".snake_pipe-cookie-"
_EDITOR_TEMP = "editor-temp:"
EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileClosedEvent,  # IN_CLOSE_WRITE: content is final
    FileMovedEvent,  # IN_MOVED_FROM / IN_MOVED_TO (one side empty when outside the tree)
    DirMovedEvent,
    FileDeletedEvent,  # IN_DELETE
    DirDeletedEvent,
    DirCreatedEvent,  # IN_CREATE (inotify cannot ask for folders only)
    QueueOverflowEvent,  # in-band, from .inotify
]


class PendingChanges:
    """Changes seen and not yet yielded, bounded: past ``max_paths`` paths a repository's
    paths coarsen to the top-level entries they are in (what was seen stays a list of places
    to look at again, not a blind rescan), and past ``max_paths`` of those they become one
    rescan. Event threads add; the iterating thread waits."""

    def __init__(self, max_paths: int) -> None:
        self.max_paths = max_paths
        self.cond = threading.Condition()
        self.paths: dict[str, dict[str, Change]] = {}
        self.coarse: set[str] = set()  # repositories whose paths are top-level entries
        self.rescans: set[str] = set()
        self.first = self.last = 0.0  # monotonic times of the batch's first and last events
        self.cookies: dict[str, str] = {}  # repo -> cookie folder expected back
        # Repositories whose watches must be rebuilt (by the watcher's thread) before their
        # rescan is recorded: folders made while events were lost have no watch yet.
        self.rebuild: set[str] = set()
        self.mounts = False  # the mount table changed: roots' mounts must be checked
        self.stopped = False

    def _touch(self) -> None:
        self.last = time.monotonic()
        if not self.first:
            self.first = self.last
        self.cond.notify()

    def add(self, repo: str, path: str, change: Change) -> None:
        with self.cond:
            if repo not in self.rescans:
                held = self.paths.setdefault(repo, {})
                if repo in self.coarse:
                    path, change = _coarse(path, change)
                held[path] = change
                if len(held) > self.max_paths and repo not in self.coarse:
                    self.coarse.add(repo)
                    held = self.paths[repo] = dict(_coarse(p, c) for p, c in held.items())
                if len(held) > self.max_paths:
                    log.info("more than %d top-level entries changed in %s: rescanning it",
                             self.max_paths, repo)  # fmt: skip
                    del self.paths[repo]
                    self.rescans.add(repo)
            self._touch()

    def rescan(self, repo: str) -> None:
        with self.cond:
            self.paths.pop(repo, None)
            self.rescans.add(repo)
            self._touch()

    def lost_events(self, repo: str) -> None:
        with self.cond:
            self.rebuild.add(repo)
            self.cond.notify()

    def mounts_changed(self) -> None:
        with self.cond:
            self.mounts = True
            self.cond.notify()

    def take_mounts_changed(self) -> bool:
        with self.cond:
            changed, self.mounts = self.mounts, False
        return changed

    def take_rebuilds(self) -> set[str]:
        with self.cond:
            repos, self.rebuild = self.rebuild, set()
        return repos

    def cookie_seen(self, repo: str, name: str) -> None:
        with self.cond:
            if self.cookies.get(repo) == name:
                del self.cookies[repo]

    def take(self) -> set[FileChange]:
        out = {FileChange(Change.RESCAN, repo) for repo in self.rescans}
        for repo, held in self.paths.items():
            out.update(FileChange(held[p], repo, p) for p in covering_paths(held))
        self.paths, self.rescans, self.coarse = {}, set(), set()
        self.first = self.last = 0.0
        return out

    def wait(self, settle: float, max_delay: float, timeout: float) -> set[FileChange]:
        """The next settled batch; an empty set when nothing came within ``timeout``."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                now = time.monotonic()
                if self.stopped or self.rebuild or self.mounts:
                    return self.take()
                if self.first:
                    due = min(self.last + settle, self.first + max_delay)
                    if now >= due:
                        return self.take()
                    self.cond.wait(due - now)
                elif now >= end:
                    return set()
                else:
                    self.cond.wait(end - now)


def _coarse(path: str, change: Change) -> tuple[str, Change]:
    """The top-level entry a path is in; "changed" (look at it again) unless it is the path."""
    top = path.split("/", 1)[0]
    return top, change if top == path else Change.CHANGED


class RepoEventHandler(FileSystemEventHandler):
    """Maps one repository's events to relative paths, with discovery's rules."""

    def __init__(self, repo: str, root: str, rules: Rules, pending: PendingChanges) -> None:
        self.repo, self.root, self.prefix = repo, root, root + os.sep
        self.rules, self.pending = rules, pending

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._handle(event)
        except Exception:  # never let the observer thread die: it would go blind silently
            log.exception("error handling %s; rescanning %s", event, self.repo)
            self.pending.rescan(self.repo)

    def _handle(self, event: FileSystemEvent) -> None:
        if isinstance(event, QueueOverflowEvent):
            self.pending.lost_events(self.repo)
            return
        if event.is_synthetic:
            return  # watchdog's walk of a moved folder: the folder itself is recorded
        src = os.fsdecode(event.src_path)
        if isinstance(event, FileSystemMovedEvent):
            if src:
                self._record(src, Change.DELETED, event.is_directory)
            dest = os.fsdecode(event.dest_path)
            if dest:
                self._record(dest, Change.CHANGED, event.is_directory)
        elif isinstance(event, FileDeletedEvent | DirDeletedEvent):
            self._record(src, Change.DELETED, event.is_directory)
        elif isinstance(event, DirCreatedEvent | FileClosedEvent):
            self._record(src, Change.CHANGED, event.is_directory)

    def _record(self, path: str, change: Change, is_dir: bool) -> None:
        if path == self.root:
            if change is Change.DELETED:
                log.warning("repository root %s is gone: rescanning %s", path, self.repo)
                self.pending.rescan(self.repo)
            return
        if not path.startswith(self.prefix):
            return
        rel = path[len(self.prefix) :].replace(os.sep, "/")
        parts = rel.split("/")
        name = parts[-1]
        if len(parts) == 1 and name.startswith(COOKIE_PREFIX):
            if is_dir and change is Change.CHANGED:
                self.pending.cookie_seen(self.repo, name)
            return
        for i in range(len(parts) - 1):
            if self.rules.prune(parts[i], "/".join(parts[: i + 1])):
                return
        if is_dir:
            if self.rules.prune(name, rel):
                return
        elif change is Change.CHANGED:
            rule = self.rules.exclusion(name, rel)
            if rule is not None and rule.startswith(_EDITOR_TEMP):
                return  # churns while an editor works and vanishes on save
        self.pending.add(self.repo, rel, change)
