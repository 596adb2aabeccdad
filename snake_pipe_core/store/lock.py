"""An inter-process lock around every DuckDB open.

DuckDB allows one read-write process per database file, and read-only opens fail while a
writer holds it. Every connection therefore goes through ``flock`` on a file beside the
store: exclusive for writers, shared for readers. ``flock`` waits in the kernel (no busy
retry loop) and is released by the kernel if the holder dies, so a killed process never
leaves the store locked.
"""

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreError, StoreLockTimeout

__all__ = ["store_lock"]

log = logging.getLogger(__name__)
_POLL_S = 0.01


@contextmanager
def store_lock(
    store: Path, *, shared: bool = False, timeout: float | None = None
) -> Iterator[None]:
    """Hold the store's lock. ``timeout=None`` waits as long as it takes."""
    lock_path = store.with_name(store.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise StoreError(f"cannot open the store's lock file {lock_path}: {e.strerror}") from e
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            _wait(fd, mode, lock_path, timeout)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _wait(fd: int, mode: int, lock_path: Path, timeout: float | None) -> None:
    started = time.monotonic()
    log.debug("waiting for the store lock %s", lock_path)
    if timeout is None:
        fcntl.flock(fd, mode)  # the kernel queues us; no polling
    else:
        # flock has no timed wait; poll gently only when a deadline was asked for.
        deadline = started + timeout
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreLockTimeout(
                        f"the store {lock_path.with_suffix('')} stayed locked by another "
                        f"process for {timeout:g} s; retry, or find the process holding "
                        f"{lock_path} (e.g. `fuser {lock_path}`)"
                    ) from None
                time.sleep(_POLL_S)
    waited = time.monotonic() - started
    if waited > 1:
        log.info("waited %.1f s for the store lock", waited)
