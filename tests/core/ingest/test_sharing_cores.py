"""While a run's analysis workers take the cores, the store's DuckDB works on what they leave
(at least one), and gets its threads back when the run's commits are done."""

from pathlib import Path

import pytest

from snake_pipe_core import Settings, Store, ingest_repository
from snake_pipe_core.ingest import Progress
from snake_pipe_core.processes import available_cores
from tests.conftest import MakeRepo
from tests.fixtures import asts

pytestmark = pytest.mark.integration


def threads(store: Store) -> int:
    return int(store.query("SELECT current_setting('threads')")[0][0])


@pytest.mark.parametrize("workers", [1, 2])
def test_duckdb_gets_the_cores_the_workers_leave_while_they_run(
    make_repo: MakeRepo, store: Store, settings: Settings, workers: int
) -> None:
    root = make_repo("repo", {f"d{i % 7}/f{i}.js.ast.json": asts.dumps(asts.estree(2))
                              for i in range(300)})  # fmt: skip
    store.open()
    before = threads(store)
    seen: list[int] = []

    def progress(p: Progress) -> None:  # after each chunk's results, and once at the end
        seen.append(threads(store))

    summary = ingest_repository(root, store=store, settings=settings, workers=workers,
                                progress=progress)  # fmt: skip
    assert summary.extracted == 300 and len(seen) >= 2
    expected = min(before, max(1, available_cores() - workers)) if workers > 1 else before
    assert set(seen[:-1]) == {expected}  # while the workers ran
    assert seen[-1] == threads(store) == before  # given back once the run's commits were done


def test_a_run_of_some_paths_leaves_duckdb_as_it_is(
    make_repo: MakeRepo, store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The watcher's runs (paths given) are small: nothing to share, nothing changed."""
    root = make_repo("repo", {f"f{i}.js.ast.json": asts.dumps(asts.estree(1)) for i in range(5)})
    store.open()
    before = threads(store)
    seen: list[int] = []
    ingest_repository(root, store=store, settings=settings, workers=2, paths=["f1.js.ast.json"],
                      progress=lambda p: seen.append(threads(store)))  # fmt: skip
    assert seen and set(seen) == {before}


def test_the_threads_come_back_when_the_run_fails(store: Store) -> None:
    store.open()
    before = threads(store)
    with pytest.raises(RuntimeError), store.sharing_cores(available_cores()):
        assert threads(store) == min(before, 1)
        raise RuntimeError("a run that failed")
    assert threads(store) == before
    with store.sharing_cores(0):  # nothing busy: nothing to share
        assert threads(store) == before
