"""watchdog's inotify observer, made to say when it went blind.

watchdog 6 (Dagster needs ``watchdog<7``) has three gaps that matter to a watcher that must
never miss a change, fixed here by small subclasses rather than a fork. They lean on
watchdog's private members, so watchdog is pinned to the exact release they were written for
(``watchdog==6.0.0`` in pyproject.toml); ``tests/core/watch/test_watchdog_pin.py`` fails on
any other release and names every upstream function to read again (docs/decisions.md):

- **Queue overflow is dropped silently.** When the kernel's event queue overflows it queues
  one ``IN_Q_OVERFLOW`` event with ``wd == -1``; ``Inotify.read_events`` skips it
  (``if wd == -1: continue``). :class:`_Inotify` reports it, and the emitter queues a
  :class:`QueueOverflowEvent` in-band, so the handler learns that events were lost. An
  unmount under the watch (``IN_UNMOUNT``, after which the kernel drops those watches and
  watchdog's buffer stops reading for good when the root's goes) is reported the same way.
- **A folder moved in from outside the tree is not watched** (watchdog's own TODO in
  ``read_events``): later changes inside it would be missed. It is watched here, like a
  created folder.
- **Everything is watched**, ``.git`` and ``node_modules`` included: watches are a limited
  kernel resource and those folders churn. Folders that discovery prunes are not watched.

Nothing is simulated for a new folder's contents (watchdog walks it and invents a create
event per file): the watcher records the folder itself, and the incremental run walks it.
The subscribed events are chosen by ``event_filter``; the mask adds ``IN_ONLYDIR``,
``IN_DONT_FOLLOW`` and ``IN_EXCL_UNLINK`` (no events for files already unlinked).
"""

import errno
import logging
import os
from collections.abc import Callable
from functools import partial
from typing import Any, cast

from watchdog.events import FileSystemEvent
from watchdog.observers.api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver, EventEmitter
from watchdog.observers.inotify import InotifyFullEmitter
from watchdog.observers.inotify_buffer import InotifyBuffer
from watchdog.observers.inotify_c import Inotify, InotifyConstants, InotifyEvent
from watchdog.utils import BaseThread
from watchdog.utils.delayed_queue import DelayedQueue

__all__ = ["EXTRA_MASK", "QueueOverflowEvent", "WatchObserver"]

log = logging.getLogger(__name__)

EXTRA_MASK = (
    InotifyConstants.IN_ONLYDIR | InotifyConstants.IN_DONT_FOLLOW | InotifyConstants.IN_EXCL_UNLINK
)
PruneFn = Callable[[str, str], bool]  # (name, path relative to the root) -> skip this folder


class QueueOverflowEvent(FileSystemEvent):
    """Events were lost for this watch (the kernel's queue overflowed, or a file system under
    it was unmounted): whatever happened under ``src_path`` since the last event may be
    missing."""

    event_type = "overflow"


class _Inotify(Inotify):
    """``Inotify`` that reports overflows, skips pruned folders and watches moved-in ones."""

    def __init__(
        self,
        path: bytes,
        *,
        recursive: bool,
        event_mask: int,
        prune: Callable[[bytes], bool],
        on_overflow: Callable[[], None],
    ) -> None:
        self._prune = prune
        self._on_overflow = on_overflow
        try:
            super().__init__(path, recursive=recursive, event_mask=event_mask)
        except BaseException:
            if hasattr(self, "_kill_w"):  # out of watches, say: do not leak the descriptors
                self._close_resources()
            raise

    def _add_dir_watch(self, path: bytes, mask: int, *, recursive: bool) -> None:
        if not os.path.isdir(path):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        self._add_watch(path, mask)
        if recursive:
            self._add_subdir_watches(path)

    def _add_subdir_watches(self, path: bytes) -> None:
        for root, dirnames, _ in os.walk(path):
            kept = []
            for name in dirnames:
                full = os.path.join(root, name)
                if os.path.islink(full) or self._prune(full):
                    continue
                try:
                    self._add_watch(full, self._event_mask)
                except OSError as e:
                    if e.errno in (errno.ENOSPC, errno.EMFILE):
                        raise  # out of watches: the caller must know it is blind
                    continue  # vanished meanwhile, or not a folder any more
                kept.append(name)
            dirnames[:] = kept  # os.walk descends only into watched folders

    def _watch_new_dir(self, path: bytes) -> None:
        if self._prune(path):
            return
        try:
            self._add_watch(path, self._event_mask)
            self._add_subdir_watches(path)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EMFILE):
                log.error("cannot watch %s: %s; reporting an overflow", os.fsdecode(path), e)
                self._on_overflow()

    def read_events(self, *, event_buffer_size: int = 0) -> list[InotifyEvent]:
        """Read one buffer of events (watchdog's ``read_events``, see the module docstring
        for what differs)."""
        buffer = self._read_buffer(event_buffer_size or 64 * 1024)
        if buffer is None:
            return []
        return self._events_from_buffer(buffer)

    def _read_buffer(self, size: int) -> bytes | None:
        while True:
            try:
                with self._lock:
                    if self._closed:
                        return None
                    self._is_reading = True
                buffer = os.read(self._inotify_fd, size) if self._check_inotify_fd() else b""
                with self._lock:
                    self._is_reading = False
                    if self._closed:
                        self._close_resources()
                        return None
                return buffer
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                if e.errno == errno.EBADF:
                    return None
                raise

    def _events_from_buffer(self, buffer: bytes) -> list[InotifyEvent]:
        events: list[InotifyEvent] = []
        unmounted = False
        with self._lock:
            for wd, mask, cookie, name in Inotify._parse_event_buffer(buffer):
                if wd == -1:
                    if mask & InotifyConstants.IN_Q_OVERFLOW:
                        log.warning("inotify queue overflow under %s", os.fsdecode(self._path))
                        self._on_overflow()
                    continue
                if mask & InotifyConstants.IN_UNMOUNT and not unmounted:
                    unmounted = True  # one report per read: every watch on it says so
                    log.warning("a file system under %s was unmounted", os.fsdecode(self._path))
                    self._on_overflow()
                wd_path = self._path_for_wd.get(wd)
                if wd_path is None:
                    continue  # a watch removed meanwhile
                src_path = os.path.join(wd_path, name) if name else wd_path
                event = InotifyEvent(wd, mask, cookie, name, src_path)
                if event.is_moved_from:
                    self.remember_move_from_event(event)
                elif event.is_moved_to:
                    self._moved_to(event)
                if event.is_ignored:
                    path = self._path_for_wd.pop(wd)
                    if self._wd_for_path.get(path) == wd:
                        del self._wd_for_path[path]
                events.append(event)
                if self.is_recursive and event.is_directory and event.is_create:
                    self._watch_new_dir(src_path)
        return events

    def _moved_to(self, event: InotifyEvent) -> None:
        move_src_path = self.source_for_move(event)
        if move_src_path is not None and move_src_path in self._wd_for_path:
            # A watched folder moved within the tree: its watches follow it (watchdog's code).
            moved_wd = self._wd_for_path.pop(move_src_path)
            self._wd_for_path[event.src_path] = moved_wd
            self._path_for_wd[moved_wd] = event.src_path
            if self.is_recursive:
                prefix = move_src_path + os.sep.encode()
                for path in [p for p in self._wd_for_path if p.startswith(prefix)]:
                    wd = self._wd_for_path.pop(path)
                    new_path = event.src_path + path[len(move_src_path) :]
                    self._wd_for_path[new_path] = wd
                    self._path_for_wd[wd] = new_path
        elif self.is_recursive and event.is_directory:
            self._watch_new_dir(event.src_path)  # moved in from outside: watch it now


class _Buffer(InotifyBuffer):
    """``InotifyBuffer`` around :class:`_Inotify` (its constructor names the class)."""

    def __init__(
        self,
        path: bytes,
        *,
        recursive: bool,
        event_mask: int,
        prune: Callable[[bytes], bool],
        on_overflow: Callable[[], None],
    ) -> None:
        BaseThread.__init__(self)
        self._queue = DelayedQueue["InotifyEvent | tuple[InotifyEvent, InotifyEvent]"](self.delay)
        self._inotify = _Inotify(
            path, recursive=recursive, event_mask=event_mask, prune=prune, on_overflow=on_overflow
        )
        self.start()


class _Emitter(InotifyFullEmitter):
    """Full-events emitter (a move out of or into the tree arrives as a move with one side
    empty, not as a created file) on :class:`_Buffer`."""

    def __init__(self, *args: Any, prune: PruneFn, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prune_rule = prune

    def on_thread_start(self) -> None:
        root = os.fsencode(self.watch.path)

        def prune(path: bytes) -> bool:
            rel = os.fsdecode(path[len(root) + 1 :])
            return self._prune_rule(rel.rsplit("/", 1)[-1], rel)

        mask = (self.get_event_mask_from_filter() or 0) | EXTRA_MASK
        self._inotify = _Buffer(
            root,
            recursive=self.watch.is_recursive,
            event_mask=mask,
            prune=prune,
            on_overflow=self._overflowed,
        )

    def _overflowed(self) -> None:
        self.queue_event(QueueOverflowEvent(self.watch.path))


class WatchObserver(BaseObserver):
    """An inotify observer whose watches skip the folders ``prune(name, rel)`` rejects and
    that queues a :class:`QueueOverflowEvent` when the kernel drops events. Include
    ``QueueOverflowEvent`` in ``event_filter`` to receive it."""

    def __init__(self, *, prune: PruneFn, timeout: float = DEFAULT_OBSERVER_TIMEOUT) -> None:
        # BaseObserver builds emitters as emitter_class(queue, watch, timeout=, event_filter=).
        emitter_class = cast("type[EventEmitter]", partial(_Emitter, prune=prune))
        super().__init__(emitter_class, timeout=timeout)
