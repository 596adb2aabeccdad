"""Which mount a repository root lives on, so that a root seen on another mount is noticed.

An unmounted disk leaves its mount point behind: an empty folder of the file system below.
A walk of it finds nothing, and the same path now means another place. The identity of a root
is the mount it is on, as ``/proc/self/mountinfo`` describes it: the mount point, the file
system type, the source (a device, ``server:/export``, ``tmpfs``…) and the folder of that file
system mounted there. The numeric mount id and ``st_dev`` are left out on purpose: both change
when the same disk or share is mounted again (after a reboot, say), which is no reason to
refuse anything. Where there is no ``mountinfo`` (not Linux), the identity is ``st_dev``.
"""

import os
from dataclasses import dataclass

__all__ = ["RootIdentity", "read_mounts", "root_identity"]

_MOUNTINFO = "/proc/self/mountinfo"


@dataclass(frozen=True, slots=True)
class RootIdentity:
    """The mount a root is on (``device`` only where mounts cannot be read)."""

    mount_point: str | None
    fstype: str | None
    source: str | None
    mount_root: str | None
    device: int | None = None

    def describe(self) -> str:
        if self.mount_point is None:
            return f"device {self.device}"
        return f"{self.source} ({self.fstype}) mounted at {self.mount_point}"

    def same_place(self, other: "RootIdentity") -> bool:
        if self.mount_point is None or other.mount_point is None:
            return self.device == other.device
        return (self.mount_point, self.fstype, self.source, self.mount_root) == (
            other.mount_point,
            other.fstype,
            other.source,
            other.mount_root,
        )


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (``\\040``)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _contains(mount_point: str, path: str) -> bool:
    return mount_point == "/" or path == mount_point or path.startswith(mount_point + "/")


def read_mounts(mountinfo: str = _MOUNTINFO) -> list[RootIdentity] | None:
    """Every mount of this process's mount table, in order (None where there is none)."""
    try:
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    mounts = []
    for line in lines:
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            mounts.append(
                RootIdentity(
                    mount_point=_unescape(fields[4]),
                    fstype=fields[sep + 1],
                    source=_unescape(fields[sep + 2]),
                    mount_root=_unescape(fields[3]),
                )
            )
        except (ValueError, IndexError):
            continue
    return mounts


def root_identity(root: str, mounts: list[RootIdentity] | None = None) -> RootIdentity:
    """The identity of the mount holding ``root`` (a real path): the last (topmost) mount
    whose mount point is the longest prefix of it. ``mounts``: :func:`read_mounts`, read now
    when not given."""
    table = read_mounts() if mounts is None else mounts
    best: RootIdentity | None = None
    for m in table or ():
        point = m.mount_point or ""
        if _contains(point, root) and (best is None or len(point) >= len(best.mount_point or "")):
            best = m
    return best or RootIdentity(None, None, None, None, os.stat(root).st_dev)
