"""Reading a file whole in one ``read``: what a grown, shrunk or slowly fed file gives."""

import os
import threading
import time
from pathlib import Path

import pytest

from snake_pipe_core.analysis.analyzer import _read_whole

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("told", "read"), [(10, 10), (7, 8), (12, 10), (0, 1)])
def test_a_file_is_read_whole_or_shows_it_changed(tmp_path: Path, told: int, read: int) -> None:
    """``told`` is the size fstat said; the file holds 10 bytes: one byte more than told says
    it grew, fewer that it shrank (the caller compares with the size)."""
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert _read_whole(fd, told) == b"0123456789"[:read]
    finally:
        os.close(fd)


def test_short_reads_are_continued_until_the_end() -> None:
    r, w = os.pipe()

    def feed() -> None:
        os.write(w, b"abc")
        time.sleep(0.05)
        os.write(w, b"defg")
        os.close(w)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        assert _read_whole(r, 7) == b"abcdefg"
    finally:
        writer.join()
        os.close(r)
