"""Small facts about processes on this host, and this process's cyclic garbage collector."""

import gc
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["HOST_ENV", "available_cores", "collector_paused", "host_name", "pid_alive"]

# Names this host in the store's audit trail (runs.host) instead of its hostname: set it when
# several "hosts" share one machine (containers, the multi-host test), or to a stable name.
HOST_ENV = "SNAKE_PIPE_HOST"


def host_name() -> str:
    """The name runs of this host are recorded under."""
    return os.environ.get(HOST_ENV) or socket.gethostname()


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def pid_alive(pid: int | None) -> bool:
    """True if a process with this pid runs on this host (whoever owns it). A zombie — dead,
    not yet reaped by its parent, as the code servers the Dagster daemon replaces every
    minute are for a while — is not alive."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:  # no /proc (not Linux), or it just went
        return True
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")


_paused = 0
_paused_guard = threading.Lock()
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a while (for as long as anyone in the process
    pauses it), then restore it as it was.

    An ingest makes hundreds of thousands of small tuples (rows, manifest entries), none of
    them in a cycle: the collector only walks them, again and again as they age (0.17 s of
    the coordinating process on 100,000 files). Nested and concurrent pauses (two runs in
    one process) count, so that the last one out restores the collector, never an earlier
    one halfway through another's run."""
    global _paused, _was_enabled
    with _paused_guard:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _paused_guard:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()
