"""One run of a repository at a time, on this host.

The catalog's transactions keep readers and writers apart; what they cannot know is that two
runs of the *same* repository read a file at different moments, so the older content could
commit last. :func:`repo_lock` makes those runs take turns: an ``flock`` on
``<store>/locks/<repo>.lock`` held for the whole run, released by the kernel if the holder
dies. Across hosts, the Dagster run queue does the same with a per-repository tag
(``tag_concurrency_limits``).
"""

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import RepositoryBusy, StoreError

__all__ = ["repo_lock", "setup_lock"]

log = logging.getLogger(__name__)
_POLL_S = 0.05


@contextmanager
def repo_lock(folder: Path, repo: str, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the lock of one repository for a whole ingest (``timeout=None``: wait as long as
    it takes; the kernel queues the waiter, nothing polls)."""
    locks = folder / "locks"
    try:
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(locks / f"{repo}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise StoreError(f"cannot create the lock file of repository {repo!r} in {locks}: "
                         f"{e.strerror or e}") from e  # fmt: skip
    try:
        _acquire(fd, locks / f"{repo}.lock", repo, timeout)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def setup_lock(folder: Path) -> Iterator[None]:
    """Hold this host's lock on setting the store up (``<folder>/locks/.setup.lock``) while a
    writer attaches, creates or upgrades it: two first runs at once otherwise race inside
    DuckLake while both write the new catalog's first rows (an internal error in one of
    them, seen with two sensor runs on a new store). Held for well under a second, once a
    process; never by readers."""
    locks = folder / "locks"
    try:
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(locks / ".setup.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as e:
        # No lock can live there (a file where the store's folder should be, read-only
        # media): attaching will say precisely what is wrong with the store itself.
        log.debug("no setup lock in %s (%s)", locks, e)
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, repo: str, timeout: float | None) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    started = time.monotonic()
    log.info("waiting for the run of repository %r in progress to finish (%s)", repo, path)
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    else:
        # flock has no timed wait; poll gently only when a deadline was asked for.
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - started >= timeout:
                    raise RepositoryBusy(
                        f"another run of repository {repo!r} has held it for more than "
                        f"{timeout:g} s; retry later, or find the holder (`fuser {path}`)"
                    ) from None
                time.sleep(_POLL_S)
    waited = time.monotonic() - started
    if waited > 1:
        log.info("waited %.1f s for the run of repository %r in progress", waited, repo)
