"""Files new to the manifest are not statted by the walk (issue 9: per-file cost in the
coordinating process); their read's own ``fstat`` says what the store records."""

import os
from pathlib import Path

import pytest

from snake_pipe_core import Settings, Store, ingest_repository
from snake_pipe_core.analysis import AnalysisSettings, Analyzer, WorkItem
from snake_pipe_core.hashes import KnownHashes
from snake_pipe_core.ingest.discovery import Rules, Walk
from snake_pipe_core.ingest.workers import Executor
from snake_pipe_core.models import Reason, ScanEntry
from tests.conftest import MakeRepo
from tests.fixtures import asts

pytestmark = pytest.mark.integration


def on_disk(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            st = path.stat()
            out[path.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_new_files_are_recorded_with_the_size_and_mtime_of_their_read(
    make_repo: MakeRepo, store: Store, settings: Settings, workers: int
) -> None:
    files = {f"d{i % 9}/f{i}.js.ast.json": asts.dumps(asts.estree(1 + i % 6)) for i in range(150)}
    files["d1/big.js.ast.json"] = asts.dumps(asts.estree(4000))
    files["empty.json"] = b""
    files["d2/notes.txt"] = b"excluded by a rule, statted by the walk"
    files["package.json"] = b"{}"
    root = make_repo("repo", files)
    first = ingest_repository(root, store=store, settings=settings, workers=workers)
    assert (first.discovered, first.new) == (len(files), len(files))
    stored = {
        path: (size, mtime)
        for path, size, mtime in store.query(
            "SELECT path, size_bytes, mtime_ns FROM manifest WHERE repo = 'repo'"
        )
    }
    assert stored == on_disk(root)
    assert first.bytes_read == sum(
        size
        for path, (size, _) in stored.items()
        if path.endswith(".ast.json") or path == "empty.json"
    )
    # what was recorded is what the next walk stats: nothing is read again
    again = ingest_repository(root, store=store, settings=settings, workers=workers)
    assert (again.unchanged, again.analysed, again.bytes_read) == (len(files), 0, 0)


def test_the_walk_stats_only_what_the_manifest_knows_or_a_rule_excludes(
    make_repo: MakeRepo, settings: Settings
) -> None:
    root = make_repo("repo", {"new.js.ast.json": b"{}", "known.js.ast.json": b"{}",
                              "package.json": b"{}"})  # fmt: skip
    walk = Walk(str(root.resolve()), Rules(settings.discovery), known={"known.js.ast.json"})
    entries = {e if isinstance(e, str) else e.path: e for e in walk.entries()}
    assert entries["new.js.ast.json"] == "new.js.ast.json"  # its bare path: nothing statted
    known, excluded = entries["known.js.ast.json"], entries["package.json"]
    assert isinstance(known, ScanEntry) and known.size == 2 and known.ino
    assert isinstance(excluded, ScanEntry) and excluded.excluded_by and excluded.size == 2
    # without a manifest to compare with, every file is statted
    plain = list(Walk(str(root.resolve()), Rules(settings.discovery)).entries())
    assert all(isinstance(e, ScanEntry) and e.size == 2 for e in plain) and len(plain) == 3


def test_a_new_file_that_cannot_be_read_keeps_its_size_in_the_quarantine(
    tmp_path: Path,
) -> None:
    """Replaced by a symlink out of the root after a walk that did not stat it: refused,
    and the verdict carries what ``lstat`` says instead of the walk's unknown zeros."""
    root = tmp_path / "repo"
    root.mkdir()
    secret = tmp_path / "outside.js.ast.json"
    secret.write_bytes(asts.dumps(asts.estree(3)))
    os.symlink(secret, root / "a.js.ast.json")
    verdict = Analyzer(AnalysisSettings()).analyze_file(str(root), WorkItem("a.js.ast.json", 0))
    assert verdict.reason is Reason.OUTSIDE_ROOT and verdict.content_hash is None
    st = os.lstat(root / "a.js.ast.json")
    assert (verdict.size, verdict.mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_a_few_big_new_files_are_still_spread_over_the_pool(tmp_path: Path) -> None:
    """New files come unstatted, but a job's first files are statted before it decides
    whether to start workers: three files of 7 MB are not a small job for one process."""
    root = tmp_path / "repo"
    root.mkdir()
    for i in range(3):
        (root / f"big{i}.js.ast.json").write_bytes(asts.dumps(asts.estree(20_000 + i)))
    executor = Executor(
        str(root), AnalysisSettings(), workers=2, known_hashes=lambda _: KnownHashes()
    )
    results = list(executor.run(iter(sorted(p.name for p in root.iterdir()))))
    assert executor.used_pool
    assert sum(r.extracted for r in results) == 3
    assert sum(r.bytes_read for r in results) == sum(p.stat().st_size for p in root.iterdir())
