"""The change journal on a full disk and damaged (issue 10, "the same class elsewhere"): a
StoreFull or StoreDamaged that says what to do, nothing committed lost, `watch --status`
exits 3 without a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snake_pipe_core import Change, ChangeJournal, FileChange, StoreDamaged, StoreFull
from tests.fixtures.disks import can_mount, fill, small_disk

pytestmark = pytest.mark.integration


def changes(n: int, tag: str) -> list[FileChange]:
    return [FileChange(Change.CHANGED, "repo", f"{tag}/dir{k}/" + "x" * 80) for k in range(n)]


def test_a_full_disk_is_said_and_nothing_committed_is_lost(tmp_path: Path) -> None:
    if not can_mount():
        pytest.skip("needs root and a tmpfs mount, which this host does not allow")
    with small_disk(tmp_path / "disk", "1m") as disk:
        journal = ChangeJournal(disk / "journal.sqlite")
        try:
            committed = journal.append(changes(5, "before"))
            filler = fill(disk, leave=4096)
            with pytest.raises(StoreFull, match="no space left on device at " + str(disk)):
                for round_no in range(200):
                    journal.append(changes(200, f"r{round_no}"))
            full_at = journal.last_seq()
            assert full_at >= committed
            filler.unlink()
            after = journal.append(changes(1, "after"))
            assert after == full_at + 1
            paths = [r.path for r in journal.read(0, limit=100_000)]
            assert len(paths) == after and paths[:5] == [c.path for c in changes(5, "before")]
        finally:
            journal.close()


def test_a_damaged_journal_is_said_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "store" / "journal.sqlite"
    ChangeJournal(path).close()
    os.truncate(path, os.path.getsize(path) // 2)
    with pytest.raises(StoreDamaged, match="Move the file aside"):
        ChangeJournal(path)
    out = subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", "watch", "--status",
         "--store", str(tmp_path / "store")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 3, out.stderr
    assert "damaged" in out.stderr and "Traceback" not in out.stderr, out.stderr
