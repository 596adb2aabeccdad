"""Small facts about processes on this host."""

import os
import socket

__all__ = ["HOST_ENV", "host_name", "pid_alive"]

# Names this host in the store's audit trail (runs.host) instead of its hostname: set it when
# several "hosts" share one machine (containers, the multi-host test), or to a stable name.
HOST_ENV = "SNAKE_PIPE_HOST"


def host_name() -> str:
    """The name runs of this host are recorded under."""
    return os.environ.get(HOST_ENV) or socket.gethostname()


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
