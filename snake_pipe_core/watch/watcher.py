"""The file watcher: inotify events in, debounced sets of repository changes out.

A change is a *hint* ("look at this path again"), never a verdict: the incremental run stats
the disk. So the watcher only has to be sure of one thing — that it never misses a change
without saying so. It subscribes to the events that mean a file's content is final or its
place changed (close-after-write, moves, deletes, folder creation): reads by the engine
(open, access, close-nowrite) never reach it, and a file written slowly counts once, when it
is closed. Whenever events may have been lost — at start, after a kernel queue overflow,
when a folder could not be watched, or when the periodic self-check finds the event path
dead — it reports a ``rescan`` of the repository instead (Watchman's fresh-instance rule).

The self-check works like Watchman's cookies: now and then a folder named
``.snake_pipe-cookie-<pid>-<n>`` is made (and at once removed) in each root; its creation
event must come back through the whole chain (kernel, watchdog threads, handler) within a
timeout, else the watch is rebuilt and the repository rescanned. An empty folder never
reaches the store, so a walk that sees a cookie records nothing.

Mounts: a watch follows the file system it was set on. When a root's disk is unmounted the
kernel says so (``IN_UNMOUNT``: the watch is rebuilt on what is left, and the repository
rescanned); when one is mounted over a watched root nothing is said, so the watcher also
listens to the mount table (``/proc/self/mountinfo`` signals every change) and rebuilds the
watch of any root whose mount changed, with a rescan.

The API has the shape of ``watchfiles``: :func:`watch_changes` yields sets of
:class:`~snake_pipe_core.journal.FileChange`; :func:`~snake_pipe_core.watch.service.run_watcher`
appends them to the journal. Linux only (inotify); nothing else in the engine imports this.
"""

import contextlib
import errno
import logging
import math
import os
import select
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType

from watchdog.observers.api import ObservedWatch

from ..config import DiscoverySettings
from ..guard.mounts import RootIdentity, read_mounts, root_identity
from ..ingest.discovery import Rules
from ..journal.changes import FileChange
from .events import COOKIE_PREFIX, EVENT_FILTER, PendingChanges, RepoEventHandler
from .inotify import WatchObserver

__all__ = ["Watcher", "watch_changes"]

log = logging.getLogger(__name__)
Repositories = Mapping[str, str | os.PathLike[str]]


class Watcher:
    """Watch repositories; iterate for sets of changes. Use as a context manager.

    Args:
        repositories: slug → root, or a callable returning it (re-read at each self-check, so
            repositories added under a configured root get watched).
        discovery: the include/exclude rules (default: discovery's defaults).
        settle_s: a burst is yielded this long after its last event…
        max_delay_s: …and at least this often while it lasts.
        max_pending_paths: paths held per repository before they become one rescan.
        self_check_s: how often a cookie is sent through each watch.
        self_check_timeout_s: how long a cookie may take to come back.
        initial_rescan: report a rescan of every repository once the watches are up.
        timeout_s: yield an empty set after this long without changes (None: never).
        stop_event: iteration ends once it is set (what is pending is yielded first), as it
            does after :meth:`stop`.
    """

    def __init__(
        self,
        repositories: Repositories | Callable[[], Repositories],
        *,
        discovery: DiscoverySettings | None = None,
        settle_s: float = 0.2,
        max_delay_s: float = 1.0,
        max_pending_paths: int = 10_000,
        self_check_s: float = 30.0,
        self_check_timeout_s: float = 10.0,
        initial_rescan: bool = True,
        timeout_s: float | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        self._repositories = repositories
        self.rules = Rules(discovery or DiscoverySettings())
        self.settle_s, self.max_delay_s = settle_s, max_delay_s
        self.self_check_s, self.self_check_timeout_s = self_check_s, self_check_timeout_s
        self.initial_rescan, self.timeout_s = initial_rescan, timeout_s
        self._stop_event = stop_event
        self._pending = PendingChanges(max_pending_paths)
        self._observer: WatchObserver | None = None
        self.roots: dict[str, str] = {}  # repo -> real root, watched or not
        self._watches: dict[str, ObservedWatch] = {}
        self._mounts: dict[str, RootIdentity] = {}  # repo -> the mount its watch is on
        self._no_cookie: set[str] = set()
        self._cookie_refused: set[str] = set()
        self._cookie_deadline: dict[str, float] = {}
        self._cookie_n = 0
        self._next_check = math.inf

    # -- lifetime --------------------------------------------------------------------------

    def __enter__(self) -> "Watcher":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Set up every watch; a rescan of each repository follows if ``initial_rescan``."""
        if self._stop_event is not None:
            # Wakes the iteration at once; lives until the event is set (it holds no watch).
            threading.Thread(
                target=self._stop_on, args=(self._stop_event,), name="watcher-stop", daemon=True
            ).start()
        self._start_observer(rescan=self.initial_rescan)
        if os.path.exists(_MOUNTINFO):
            threading.Thread(
                target=self._listen_to_mounts, name="watcher-mounts", daemon=True
            ).start()

    def _listen_to_mounts(self) -> None:
        """Wake the iteration whenever the mount table changes (until stopped)."""
        try:
            with open(_MOUNTINFO, "rb") as table:
                table.read()
                poller = select.poll()
                poller.register(table, select.POLLPRI | select.POLLERR)
                while not self.stopped:
                    if poller.poll(1000):
                        table.seek(0)
                        table.read()  # re-arms the signal
                        self._pending.mounts_changed()
        except OSError as e:
            log.warning("cannot follow the mount table (%s): remounts are noticed by the "
                        "self-check only", e)  # fmt: skip

    def _stop_on(self, event: threading.Event) -> None:
        event.wait()
        self.stop()

    def _start_observer(self, *, rescan: bool) -> None:
        started = time.monotonic()
        self._observer = WatchObserver(prune=self._prune)
        self._observer.start()
        for repo, root in sorted(self._configured().items()):
            self._add_repo(repo, root, rescan=rescan)
        self._next_check = time.monotonic() + self.self_check_s
        log.info("watching %d of %d repositories in %.2f s", len(self._watches), len(self.roots),
                 time.monotonic() - started)  # fmt: skip

    def _stop_observer(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
            self._observer = None
        self._watches.clear()
        self._cookie_deadline.clear()

    def stop(self) -> None:
        """End the iteration; what is pending is yielded first. Thread-safe."""
        with self._pending.cond:
            self._pending.stopped = True
            self._pending.cond.notify()

    @property
    def stopped(self) -> bool:
        return self._pending.stopped

    def close(self) -> None:
        """Stop and remove every watch."""
        self.stop()
        self._stop_observer()

    def _prune(self, name: str, rel: str) -> bool:
        return name.startswith(COOKIE_PREFIX) or self.rules.prune(name, rel)

    def _configured(self) -> dict[str, str]:
        repos = self._repositories() if callable(self._repositories) else self._repositories
        return {slug: os.path.realpath(root) for slug, root in repos.items()}

    # -- watches -----------------------------------------------------------------------------

    def _check_mounts(self) -> None:
        mounts = read_mounts()
        for repo in list(self._watches):
            try:
                now = root_identity(self.roots[repo], mounts)
            except OSError:
                continue  # the root is gone: its watch says so
            before = self._mounts.get(repo)
            if before is not None and not now.same_place(before):
                self._restart(repo, f"its root is now on {now.describe()}, not {before.describe()}")

    def _add_repo(self, repo: str, root: str, *, rescan: bool) -> None:
        self.roots[repo] = root
        if self._watch(repo):
            _remove_stale_cookies(root)
            if rescan:
                self._pending.rescan(repo)

    def _watch(self, repo: str) -> bool:
        """Watch one repository; False (and it stays unwatched until the next self-check)
        when its root is missing or the kernel refuses the watches."""
        assert self._observer is not None
        root = self.roots[repo]
        handler = RepoEventHandler(repo, root, self.rules, self._pending)
        try:
            if not os.path.isdir(root):
                raise FileNotFoundError(errno.ENOENT, "no such folder", root)
            self._watches[repo] = self._observer.schedule(
                handler, root, recursive=True, event_filter=EVENT_FILTER
            )
            self._mounts[repo] = root_identity(root)
            return True
        except OSError as e:
            # schedule() registers the handler before the emitter fails: take it back
            failed = ObservedWatch(root, recursive=True, event_filter=EVENT_FILTER)
            with contextlib.suppress(KeyError):
                self._observer.remove_handler_for_watch(handler, failed)
            hint = " (raise fs.inotify.max_user_watches)" if e.errno == errno.ENOSPC else ""
            log.error("cannot watch %s at %s: %s%s; retrying at the next self-check", repo, root,
                      e, hint)  # fmt: skip
            return False

    def _unwatch(self, repo: str) -> None:
        watch = self._watches.pop(repo, None)
        self._cookie_deadline.pop(repo, None)
        if watch is not None and self._observer is not None:
            with contextlib.suppress(KeyError):
                self._observer.unschedule(watch)

    def _restart(self, repo: str, why: str) -> None:
        log.warning("%s: %s; rebuilding its watch and rescanning", repo, why)
        self._unwatch(repo)
        if self._watch(repo):
            self._pending.rescan(repo)

    # -- the self-check ----------------------------------------------------------------------

    def _self_check(self, now: float) -> None:
        assert self._observer is not None
        if not self._observer.is_alive():  # the dispatcher thread died: start over
            log.error("the event dispatcher stopped; restarting every watch")
            self._stop_observer()
            self._start_observer(rescan=True)
            return
        configured = self._configured()
        for repo in [r for r in self.roots if r not in configured]:
            log.info("%s is no longer configured: not watching it", repo)
            self._unwatch(repo)
            del self.roots[repo]
        for repo, root in configured.items():
            if repo not in self.roots or root != self.roots[repo]:
                self._unwatch(repo)
                self._add_repo(repo, root, rescan=True)
            elif repo not in self._watches:
                # Back after a failure, a rescan covers the blind time; still unwatchable but
                # there (e.g. out of inotify watches), a rescan per self-check is the fallback.
                if self._watch(repo) or os.path.isdir(root):
                    self._pending.rescan(repo)
        for repo in list(self._watches):
            if repo not in self._no_cookie and repo not in self._cookie_deadline:
                self._send_cookie(repo, now)
        self._next_check = now + self.self_check_s

    def _send_cookie(self, repo: str, now: float) -> None:
        self._cookie_n += 1
        name = f"{COOKIE_PREFIX}{os.getpid()}-{self._cookie_n}"
        path = os.path.join(self.roots[repo], name)
        with self._pending.cond:
            self._pending.cookies[repo] = name
        try:
            os.mkdir(path)
            os.rmdir(path)
        except OSError as e:
            with self._pending.cond:
                self._pending.cookies.pop(repo, None)
            if e.errno == errno.EROFS:
                log.info("%s is read-only: not self-checking it", self.roots[repo])
                self._no_cookie.add(repo)
            elif e.errno in (errno.EACCES, errno.EPERM):
                if repo not in self._cookie_refused:  # maybe for a while: try each time
                    log.info("cannot write self-check cookies in %s (%s) for now",
                             self.roots[repo], e.strerror)  # fmt: skip
                    self._cookie_refused.add(repo)
            else:
                self._restart(repo, f"its root cannot be written ({e.strerror})")
            return
        self._cookie_refused.discard(repo)
        self._cookie_deadline[repo] = now + self.self_check_timeout_s

    def _check_cookies(self, now: float) -> None:
        with self._pending.cond:
            outstanding = set(self._pending.cookies)
        for repo, deadline in list(self._cookie_deadline.items()):
            if repo not in outstanding:
                del self._cookie_deadline[repo]
            elif now >= deadline:
                with self._pending.cond:
                    self._pending.cookies.pop(repo, None)
                self._restart(repo, f"no self-check event within {self.self_check_timeout_s:g} s")

    # -- iteration ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[set[FileChange]]:
        if self._observer is None:
            raise RuntimeError("start the Watcher (or use it as a context manager) first")
        while not self.stopped:
            now = time.monotonic()
            wake = min([self._next_check, *self._cookie_deadline.values()])
            if self.timeout_s is not None:
                wake = min(wake, now + self.timeout_s)
            timeout = min(max(0.0, wake - now), 3600.0)  # Condition.wait rejects infinity
            batch = self._pending.wait(self.settle_s, self.max_delay_s, timeout)
            if self.stopped:
                if batch:
                    yield batch
                return
            for repo in sorted(self._pending.take_rebuilds()):
                if repo in self._watches:
                    self._restart(repo, "events were lost (a queue overflow or an unmount)")
            if self._pending.take_mounts_changed():
                self._check_mounts()
            now = time.monotonic()
            self._check_cookies(now)
            if now >= self._next_check:
                self._self_check(now)
            if batch or self.timeout_s is not None:
                yield batch


_MOUNTINFO = "/proc/self/mountinfo"


def _remove_stale_cookies(root: str) -> None:
    """Cookie folders left by a watcher killed between making and removing one."""
    try:
        with os.scandir(root) as it:
            stale = [e.path for e in it if e.name.startswith(COOKIE_PREFIX) and e.is_dir()]
    except OSError:
        return
    for path in stale:
        try:
            os.rmdir(path)
        except OSError:
            pass


def watch_changes(
    repositories: Repositories | Callable[[], Repositories],
    *,
    discovery: DiscoverySettings | None = None,
    settle_s: float = 0.2,
    max_delay_s: float = 1.0,
    max_pending_paths: int = 10_000,
    self_check_s: float = 30.0,
    self_check_timeout_s: float = 10.0,
    initial_rescan: bool = True,
    timeout_s: float | None = None,
    stop_event: threading.Event | None = None,
) -> Iterator[set[FileChange]]:
    """Yield sets of changes under the repositories until ``stop_event`` is set (or the
    generator is closed). See :class:`Watcher` for the arguments.

    Example::

        for changes in watch_changes({"demo": "demo/repos/demo"}, settle_s=0.1):
            for c in changes:
                print(c.change, c.repo, c.path)
    """
    with Watcher(
        repositories,
        discovery=discovery,
        settle_s=settle_s,
        max_delay_s=max_delay_s,
        max_pending_paths=max_pending_paths,
        self_check_s=self_check_s,
        self_check_timeout_s=self_check_timeout_s,
        initial_rescan=initial_rescan,
        timeout_s=timeout_s,
        stop_event=stop_event,
    ) as watcher:
        yield from watcher
