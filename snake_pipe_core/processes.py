"""Small facts about processes on this host."""

import os

__all__ = ["pid_alive"]


def pid_alive(pid: int | None) -> bool:
    """True if a process with this pid exists on this host (whoever owns it)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True
