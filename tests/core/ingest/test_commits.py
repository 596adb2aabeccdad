"""When a run commits its batches: at once for the first, by count or time after that, and once
more as soon as the walk has ended, so that the run's last commit holds only the last chunks."""

from pathlib import Path

from snake_pipe_core import FileVerdict, IngestSummary, Store
from snake_pipe_core.ingest.results import Results
from snake_pipe_core.ingest.run import _Commits


def _results(start: int, n: int) -> Results:
    return Results.of(
        [
            FileVerdict(f"f{i}.json", 10, 1, f"{i:064x}", reused=True)
            for i in range(start, start + n)
        ]
    )


def _checkpoint(store: Store, run_id: str) -> tuple[int, int]:
    rows = store.query("SELECT last_batch, done FROM checkpoints WHERE run_id = ?", [run_id])
    return rows[0]


def test_the_batch_pending_when_the_walk_ends_is_committed_then(tmp_path: Path) -> None:
    store = Store(tmp_path / "store").open()
    run_id, _, _ = store.begin_run("repo", str(tmp_path), mode="incremental", trigger="test")
    summary = IngestSummary(repo="repo", root=str(tmp_path), run_id=run_id)
    commits = _Commits(store, summary, commit_files=1_000, commit_seconds=3_600)

    commits.add(_results(0, 10))
    commits.maybe_commit()  # the first batch: at once
    commits.add(_results(10, 10))
    commits.maybe_commit()  # neither 1,000 files nor an hour
    assert commits.batches == 1 and len(commits.pending) == 10

    commits.add(_results(20, 10))
    commits.maybe_commit(walk_done=True)  # the walk ended: what is pending goes now
    assert commits.batches == 2 and not commits.pending

    commits.add(_results(30, 10))  # the last chunks' results
    commits.maybe_commit(walk_done=True)  # once is enough
    assert commits.batches == 2 and len(commits.pending) == 10

    commits.close()  # the run's last commit: only those
    assert commits.batches == 3 and commits.done == 40
    assert _checkpoint(store, run_id) == (3, 40)
    paths = store.query("SELECT count(DISTINCT path) FROM file_versions WHERE repo = 'repo'")
    assert paths == [(40,)]
