"""Worker processes die with the run that started them, however it dies (``kill -9`` too).

A worker of the pool is a child of multiprocessing's fork server, not of the run, and it
holds the write ends of the pipes that would tell the fork server and the resource tracker
that the run is gone (each new process inherits them). So when a run was killed, nothing
told its workers: they waited on their task queue, or blocked writing a result nobody reads,
and kept the fork server and the resource tracker alive with them, re-parented to init.

A worker therefore watches the run's process itself: a pidfd (Linux 5.3+) that becomes
readable when it exits, on a daemon thread that then ends the worker at once. With the
workers gone, the fork server and the resource tracker read the end of their pipes and
leave as designed. Where pidfds are missing, the thread polls the run's pid instead.
A parent-death signal is set too, for the fork server's own death.
"""

import ctypes
import os
import select
import signal
import sys
import threading

__all__ = ["die_with"]

_PR_SET_PDEATHSIG = 1
_POLL_S = 0.5


def die_with(owner: int) -> None:
    """End this process when process ``owner`` exits (at once if it already has)."""
    _parent_death_signal()
    try:
        fd = os.pidfd_open(owner)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfds here: poll the pid
        threading.Thread(target=_poll, args=(owner,), name="snake-pipe-lifeline",
                         daemon=True).start()  # fmt: skip
        return
    threading.Thread(target=_wait, args=(fd,), name="snake-pipe-lifeline", daemon=True).start()


def _wait(fd: int) -> None:
    select.select([fd], [], [])  # readable when the owner has exited
    os._exit(1)


def _poll(owner: int) -> None:
    while True:
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass  # alive, another user's: cannot be ours, but do not guess
        threading.Event().wait(_POLL_S)


def _parent_death_signal() -> None:
    """SIGKILL when the parent (the fork server) dies; Linux only, best effort."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass
