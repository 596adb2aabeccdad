"""Open a file beneath a repository root, never following a symlink out of it.

Discovery decides from ``lstat`` alone, and a file can be replaced between that walk and the
read: a symlink to a file outside the repository moved over it (``ln -s /outside f.tmp &&
mv -T f.tmp f``), or a folder on its path swapped for a link. Opening the path by name would
follow such a link. So the open walks from a descriptor of the root, one component at a time,
with ``O_NOFOLLOW`` (the way safe tree walkers use ``openat``): every folder on the path must be
a real folder beneath the root, and the file itself is opened without following a link.

A symlink as the last component is what discovery accepts when its target is a regular file
inside the root. Its target is resolved, checked to be inside the root, and opened the same
way, so a link that changes meanwhile fails the open instead of being followed. The caller
compares the open descriptor's ``fstat`` with what discovery saw.
"""

import errno
import os

from ..models import Reason

__all__ = ["Refused", "open_beneath"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
# What an O_NOFOLLOW open says about a symlink: ELOOP for the last component, ENOTDIR for
# a folder opened with O_DIRECTORY (a link, or a file where a folder was).
_NOT_FOLLOWED = (errno.ELOOP, errno.ENOTDIR)


class Refused(Exception):
    """The path does not lead to a file beneath the root any more: a quarantine reason and
    a detail for a person."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def open_beneath(root: str, rel: str) -> int:
    """A read-only descriptor of ``rel`` (``/``-separated, relative to ``root``, the root's
    real path), opened without following a symlink out of the root.

    Raises:
        Refused: a folder on the path was replaced by a link or a file, or the file is a
            symlink that now points outside the root.
        OSError: the open failed otherwise (``ENOENT`` for a file gone, ``EACCES``...).
    """
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            return _open_at(root_fd, rel)
        except OSError as e:
            if e.errno != errno.ELOOP:
                raise
        # The file itself is a symlink: follow it only to a place inside the root.
        real = os.path.realpath(os.path.join(root, rel))
        prefix = root.rstrip(os.sep) + os.sep
        if not real.startswith(prefix):
            raise Refused(
                Reason.OUTSIDE_ROOT,
                f"became a symlink pointing outside the repository after discovery: {real}; "
                "not read",
            )
        try:
            return _open_at(root_fd, real[len(prefix) :])
        except OSError as e:
            if e.errno not in _NOT_FOLLOWED:
                raise
            raise _changed("its symlink's target path") from None
    finally:
        os.close(root_fd)


def _open_at(root_fd: int, rel: str) -> int:
    *folders, name = rel.split("/")
    if any(part in ("", ".", "..") for part in (*folders, name)):
        raise Refused(Reason.OUTSIDE_ROOT, f"the path {rel!r} does not stay inside the root")
    dir_fd = root_fd
    try:
        for part in folders:
            try:
                fd = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as e:
                if e.errno not in _NOT_FOLLOWED:
                    raise
                raise _changed(f"the folder {part!r} on its path") from None
            if dir_fd != root_fd:
                os.close(dir_fd)
            dir_fd = fd
        return os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    finally:
        if dir_fd != root_fd:
            os.close(dir_fd)


def _changed(what: str) -> Refused:
    return Refused(
        Reason.CHANGED_DURING_READ,
        f"{what} was replaced by a symlink or a file after discovery; not followed, not read "
        "(tried again on the next run)",
    )
