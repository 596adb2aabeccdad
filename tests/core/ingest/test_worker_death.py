"""A worker of an ingest's pool killed at the worst moment: while it sends its results.

``concurrent.futures.ProcessPoolExecutor`` reads every worker's results from one shared pipe.
A worker killed in the middle of writing a message longer than the pipe takes at once leaves
half a message in it, and the pool's manager thread then waits for the rest forever (the pipe
never ends: the pool itself holds its write end). The run hung instead of failing: found by
the fault matrix's SIGKILL of a worker in CI. Results now travel as files and the messages on
the pipe are a file's name, short enough to be written whole or not at all."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snake_pipe_core import Store
from tests.conftest import MakeRepo
from tests.core.ingest.test_kill_orphans import descendants
from tests.fixtures import asts

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _workers(pid: int) -> list[int]:
    """The pool's workers: the fork server's children (grandchildren of the run)."""
    mine = descendants(pid)
    return sorted(p for p in mine if any(p in descendants(c) for c in mine if c != p))


@pytest.mark.timeout(300)
def test_workers_killed_while_sending_results_fail_the_run_and_never_hang_it(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    # Enough work that the workers are killed with chunks still to come, however fast they
    # are: a chunk is up to 1,024 files, and 20 of them take the pool ~0.3 s.
    files = {
        f"d{i % 20}/f{i}.js.ast.json": asts.dumps(asts.estree(1 + i % 6)) for i in range(20_000)
    }
    root = make_repo(files=files)
    store = tmp_path / "store"
    run = subprocess.Popen(
        [sys.executable, "-m", "snake_pipe_core.cli", "ingest", str(root), "--store",
         str(store), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(workers := _workers(run.pid)) < 2:
            assert run.poll() is None and time.monotonic() < deadline, "no pool started"
            time.sleep(0.01)
        # The run stops reading; each worker finishes what it was given (its results go to a
        # file, their name through the pool's pipe): then both die.
        os.kill(run.pid, signal.SIGSTOP)
        time.sleep(1.0)
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        os.kill(run.pid, signal.SIGCONT)
        try:
            _, err = run.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("the run hangs after its workers died while sending their results")
        assert run.returncode == 1, err
        assert "process pool" in err or "worker" in err, err
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    again = subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", "ingest", str(root), "--store",
         str(store), "--workers", "2", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert Store(store).query("SELECT count(*) FROM extracted_files") == [(20_000,)]
