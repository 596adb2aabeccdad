"""The folder a thread keeps between files of the same folder must never become a way out of
the root, nor keep a repository's disk busy."""

import os
from pathlib import Path

import pytest

from snake_pipe_core.analysis.beneath import Refused, forget_folder, open_beneath
from snake_pipe_core.models import Reason

pytestmark = pytest.mark.unit


def _read(root: Path, rel: str) -> bytes:
    fd = open_beneath(str(root), rel)
    try:
        return os.read(fd, 100)
    finally:
        os.close(fd)


def _kept(folder: Path) -> bool:
    """Does this process hold a descriptor of ``folder``?"""
    return any(
        os.path.realpath(f"/proc/self/fd/{fd}") == str(folder)
        for fd in os.listdir("/proc/self/fd")
        if os.path.exists(f"/proc/self/fd/{fd}")
    )


def test_a_kept_folder_swapped_for_a_link_out_of_the_root_is_not_followed(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    (root / "a" / "b").mkdir(parents=True)
    outside.mkdir()
    for name in ("x.json", "y.json"):
        (root / "a" / "b" / name).write_bytes(b"inside")
        (outside / name).write_bytes(b"SECRET")
    assert _read(root.resolve(), "a/b/x.json") == b"inside"  # the folder is kept now
    os.rename(root / "a" / "b", tmp_path / "moved")
    os.symlink(outside, root / "a" / "b")
    with pytest.raises(Refused) as e:
        _read(root.resolve(), "a/b/y.json")
    assert e.value.reason is Reason.CHANGED_DURING_READ
    forget_folder()


def test_a_kept_folder_replaced_by_another_real_folder_is_walked_again(tmp_path: Path) -> None:
    root = (tmp_path / "repo").resolve()
    (root / "d").mkdir(parents=True)
    (root / "d" / "x.json").write_bytes(b"old")
    assert _read(root, "d/x.json") == b"old"
    os.rename(root / "d", tmp_path / "old-d")
    (root / "d").mkdir()
    (root / "d" / "x.json").write_bytes(b"new")  # a `git checkout` replaced the folder
    assert _read(root, "d/x.json") == b"new"
    forget_folder()


def test_no_folder_is_held_after_a_batch(tmp_path: Path) -> None:
    root = (tmp_path / "repo").resolve()
    (root / "d").mkdir(parents=True)
    (root / "d" / "x.json").write_bytes(b"{}")
    _read(root, "d/x.json")
    assert _kept(root / "d")
    forget_folder()
    assert not _kept(root / "d")
