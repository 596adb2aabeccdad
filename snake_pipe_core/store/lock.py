"""Inter-process locks: one around every DuckDB open, one per repository being ingested.

DuckDB allows one read-write process per database file, and read-only opens fail while a
writer holds it. Every connection therefore goes through ``flock`` on ``<store>.lock``:
exclusive for writers, shared for readers. ``flock`` waits in the kernel (no busy retry
loop) and is released by the kernel if the holder dies, so a killed process never leaves the
store locked.

Fairness: readers share the lock, so a steady stream of them could keep a writer out
forever. Whoever has to wait therefore passes a turnstile first (``<store>.lock.gate``, held
only until it gets the store lock): a waiting writer holds the turnstile, so readers that
come after it queue behind it instead of overtaking it. Waiters also hold a shared lock on
``<store>.lock.wait`` while they wait, which is how a process keeping one connection for a
whole run (:meth:`Store.hold`) learns, with :func:`store_waiters`, that it should hand the
store over.

:func:`repo_lock` serialises ingests of one repository (``<store>.locks/<repo>.lock``), held
for a whole run: two runs that read the same file at different moments could otherwise
commit in the wrong order, the older content last.
"""

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreError, StoreLockTimeout

__all__ = ["repo_lock", "store_lock", "store_waiters"]

log = logging.getLogger(__name__)
_POLL_S = 0.01


@contextmanager
def store_lock(
    store: Path, *, shared: bool = False, timeout: float | None = None
) -> Iterator[None]:
    """Hold the store's lock. ``timeout=None`` waits as long as it takes."""
    deadline = None if timeout is None else time.monotonic() + timeout
    lock_path = store.with_name(store.name + ".lock")
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    fd = _open(lock_path)
    try:
        # A writer that finds the store free takes it at once. Anyone else says that it waits
        # (a holder of a long connection then hands it back, see store_waiters) and queues at
        # the turnstile — readers always, or they would overtake a waiting writer.
        if shared or not _try(fd, mode):
            with _flocked(_wait_path(store), fcntl.LOCK_SH, deadline, "store"):
                with _flocked(_gate_path(store), fcntl.LOCK_EX, deadline, "store"):
                    _acquire(fd, mode, lock_path, deadline, "store")
    except BaseException:
        os.close(fd)
        raise
    try:
        yield
    finally:
        os.close(fd)  # releases the lock


def store_waiters(store: Path) -> bool:
    """True if another process (or thread) waits for the store's lock right now."""
    fd = _open(_wait_path(store))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _try(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _gate_path(store: Path) -> Path:
    return store.with_name(store.name + ".lock.gate")


def _wait_path(store: Path) -> Path:
    return store.with_name(store.name + ".lock.wait")


@contextmanager
def repo_lock(store: Path, repo: str, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the lock of one repository of a store for a whole ingest."""
    folder = store.with_name(store.name + ".locks")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"cannot create the store's folder or lock folder {folder}: {e}") from e
    deadline = None if timeout is None else time.monotonic() + timeout
    with _flocked(folder / f"{repo}.lock", fcntl.LOCK_EX, deadline, f"repository {repo!r}"):
        yield


@contextmanager
def _flocked(path: Path, mode: int, deadline: float | None, what: str) -> Iterator[None]:
    fd = _open(path)
    try:
        _acquire(fd, mode, path, deadline, what)
        yield
    finally:
        os.close(fd)


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise StoreError(f"cannot open the lock file {path}: {e.strerror}") from e


def _acquire(fd: int, mode: int, path: Path, deadline: float | None, what: str) -> None:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    started = time.monotonic()
    # A repository is locked for a whole run: say why this one waits.
    level = logging.INFO if what.startswith("repository") else logging.DEBUG
    log.log(level, "waiting for the %s lock %s (held by another run)", what, path)
    if deadline is None:
        fcntl.flock(fd, mode)  # the kernel queues us; no polling
    else:
        # flock has no timed wait; poll gently only when a deadline was asked for.
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreLockTimeout(
                        f"the {what} lock {path} stayed held by another process longer than "
                        f"allowed; retry, or find the holder (e.g. `fuser {path}`)"
                    ) from None
                time.sleep(_POLL_S)
    waited = time.monotonic() - started
    if waited > 1:
        log.info("waited %.1f s for the %s lock", waited, what)
