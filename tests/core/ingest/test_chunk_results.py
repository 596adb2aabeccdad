"""A worker's results come back to the coordinating process whole: every row, every count."""

import json
import os
from pathlib import Path

import pytest

from snake_pipe_core.analysis import AnalysisSettings, Analyzer, WorkItem
from snake_pipe_core.ingest import workers
from snake_pipe_core.ingest.results import Results
from tests.fixtures import asts

pytestmark = pytest.mark.unit


def test_a_chunks_results_come_back_as_they_were_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written without pickle's memo, read back equal: rows that share strings, quarantined,
    vanished and extracted files, the counts by reason and by language."""
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.js.ast.json").write_text(json.dumps(asts.estree(3)))
    (root / "pkg" / "b.ts.ast.json").write_text(json.dumps(asts.ts_estree()))
    (root / "same.js.ast.json").write_text(json.dumps(asts.estree(3)))
    (root / "bad.json").write_text('{"type": "Program", "body": [1,')
    (root / "list.json").write_text("[1, 2]")
    names = ["pkg/a.js.ast.json", "pkg/b.ts.ast.json", "same.js.ast.json", "bad.json",
             "list.json", "gone.json"]  # fmt: skip
    analyzer = Analyzer(AnalysisSettings())
    monkeypatch.setattr(workers, "_worker_analyzer", analyzer)
    monkeypatch.setattr(workers, "_worker_root", str(root))
    expected = Results.of([analyzer.analyze_file(str(root), WorkItem(n, 0)) for n in names])
    out = tmp_path / "out"
    out.mkdir()
    got = workers._take_results(workers._analyze_chunk(list(names), str(out)))
    assert got == expected
    assert (got.extracted, got.quarantined, got.vanished) == (3, 2, 1)
    assert got.languages == {"javascript": 2, "typescript": 1}
    assert sum(got.reasons.values()) == 2
    assert os.listdir(out) == []  # the results file is removed once read
