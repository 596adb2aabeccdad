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

The walk costs an ``open`` and a ``close`` a folder, ~15 µs a file at the depths real trees
have: as much as parsing a 4 KB file. So each thread keeps the descriptor of the last folder
it walked to, and a file in the same folder is opened from it after one ``lstat`` of the
folder's path shows the path still leads to that very folder (device and inode). If the path
now leads elsewhere — a folder swapped for a link, the root replaced — the walk is done again
from a fresh descriptor of the root. Either way the caller's check of the file's own device
and inode against discovery's stands.

Where the native scanner is built, on Linux 5.6 and later, a file is first opened by one
``openat2`` call beneath a descriptor of the root with ``RESOLVE_BENEATH |
RESOLVE_NO_SYMLINKS``: the kernel refuses a symlink anywhere on the path and any way out of
the root (``_scanner.read_beneath``, which also reads the file whole). Whenever that open
fails, for whatever reason, this module's walk opens the file instead and decides. The root's
descriptor is kept for a batch of files (:func:`root_descriptor`): a root replaced in the
middle of one is noticed at the next batch, its files read meanwhile from the folder the
descriptor holds, a real folder that was the root, never through a link.
"""

import errno
import os
import threading

from ..models import Reason

__all__ = ["Refused", "forget_folder", "open_beneath", "root_descriptor"]

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


class _LastFolder(threading.local):
    """This thread's last folder walked to: (root, folder path relative to it) → descriptor,
    with the device and inode it was opened as; and the root of :func:`root_descriptor`."""

    key: tuple[str, str] | None = None
    fd: int = -1
    ident: tuple[int, int] = (0, 0)
    root: str | None = None
    root_fd: int = -1

    def take(self, key: tuple[str, str], fd: int) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        st = os.fstat(fd)
        self.key, self.fd, self.ident = key, fd, (st.st_dev, st.st_ino)

    def drop(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        if self.root_fd >= 0:
            os.close(self.root_fd)
        self.key, self.fd, self.root, self.root_fd = None, -1, None, -1


_last = _LastFolder()


def forget_folder() -> None:
    """Close this thread's kept folder and root: at the end of a batch of files, so that a
    long-lived process never holds a folder of a repository open (it would keep its disk from
    being unmounted)."""
    _last.drop()


def root_descriptor(root: str) -> int:
    """A descriptor of the folder ``root`` (the root's real path), kept for this thread until
    :func:`forget_folder`: the folder ``_scanner.read_beneath`` opens files beneath."""
    if _last.root != root:
        if _last.root_fd >= 0:
            os.close(_last.root_fd)
            _last.root_fd = -1
        _last.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        _last.root = root
    return _last.root_fd


def open_beneath(root: str, rel: str) -> int:
    """A read-only descriptor of ``rel`` (``/``-separated, relative to ``root``, the root's
    real path), opened without following a symlink out of the root.

    Raises:
        Refused: a folder on the path was replaced by a link or a file, or the file is a
            symlink that now points outside the root.
        OSError: the open failed otherwise (``ENOENT`` for a file gone, ``EACCES``...).
    """
    folder, _, name = rel.rpartition("/")
    if folder and _last.key == (root, folder) and name not in ("", ".", ".."):
        try:
            st = os.lstat(os.path.join(root, folder))
        except OSError:
            st = None
        if st is not None and (st.st_dev, st.st_ino) == _last.ident:
            try:
                return os.open(name, _FILE_FLAGS, dir_fd=_last.fd)
            except OSError as e:
                if e.errno != errno.ELOOP:
                    raise
                # a symlink now: the full walk below decides where it may lead
        _last.drop()
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            return _open_at(root_fd, rel, keep=(root, folder) if folder else None)
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


def _open_at(root_fd: int, rel: str, keep: tuple[str, str] | None = None) -> int:
    """Open ``rel`` beneath ``root_fd`` one component at a time; with ``keep``, the folder's
    descriptor is kept as this thread's last folder instead of closed."""
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
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        if keep is not None and dir_fd != root_fd:
            _last.take(keep, dir_fd)
            dir_fd = root_fd  # kept: not closed below
        return fd
    finally:
        if dir_fd != root_fd:
            os.close(dir_fd)


def _changed(what: str) -> Refused:
    return Refused(
        Reason.CHANGED_DURING_READ,
        f"{what} was replaced by a symlink or a file after discovery; not followed, not read "
        "(tried again on the next run)",
    )
