"""A kill at any instant loses nothing and duplicates nothing; concurrent ingests both succeed."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from snake_pipe_core import Store, ingest_repository, load_settings
from tests.conftest import MakeRepo
from tests.fixtures import asts

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def corpus(n: int, seed: int = 0) -> dict[str, bytes]:
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for i in range(n):
        d = f"pkg{i % 13}/sub{i % 5}"
        kind = rng.random()
        if kind < 0.05:
            files[f"{d}/bad{i}.js.ast.json"] = b'{"type": "Program", "body": [' * rng.randint(1, 3)
        elif kind < 0.3:
            files[f"{d}/m{i}.py.ast.json"] = asts.dumps(asts.python_envelope())
        elif kind < 0.5:
            files[f"{d}/t{i}.go.ast.json"] = asts.deep_tree_sitter_text(
                rng.randint(100, 3000)
            ).encode()
        else:
            files[f"{d}/f{i}.js.ast.json"] = asts.dumps(asts.estree(rng.randint(20, 400)))
    return files


def snapshot(store: Store, repo: str) -> dict[str, Any]:
    q = store.query
    return {
        "files": q("SELECT path, state, reason, size_bytes, mtime_ns, content_hash, language, "
                   "format FROM ast_files WHERE repo = ? ORDER BY path", [repo]),
        "extracted": q("SELECT * EXCLUDE (last_seen) FROM extracted_files WHERE repo = ? "
                       "ORDER BY path", [repo]),
        "quarantined": q("SELECT path, reason, detail, attempts FROM quarantined_files "
                         "WHERE repo = ? ORDER BY path", [repo]),
    }  # fmt: skip


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "snake_pipe_core.cli", *args]


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    root = make_repo("crashy", corpus(1500))
    reference = Store(tmp_path / "reference.duckdb")
    ingest_repository(root, store=reference, settings=load_settings(env={}, workers=1))
    expected = snapshot(reference, "crashy")

    target = tmp_path / "crashed.duckdb"
    rng = random.Random(42)
    kills = 0
    for attempt in range(6):
        proc = subprocess.Popen(
            cli("ingest", str(root), "--store", str(target), "--workers", "2"),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if attempt % 2 and target.exists():
            # after this run's first commit, plus a random delay
            runs = Store(target).query("SELECT count(*) FROM runs")[0][0]
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                rows = Store(target).query("SELECT count(*) FROM checkpoints WHERE done > 0", [])
                if rows[0][0] > runs - 1:
                    break
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.4))
        else:
            time.sleep(rng.uniform(0.1, 1.5))  # any moment: start-up, walk, pool, commit
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI, its forkserver and its workers
            kills += 1
        proc.wait()
    done = subprocess.run(cli("ingest", str(root), "--store", str(target), "--json"),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert kills >= 3
    crashed = Store(target)
    partial = crashed.query(
        "SELECT count(*) FROM checkpoints "
        "WHERE status = 'interrupted' AND done > 0 AND done < planned"
    )
    assert partial[0][0] >= 1, "no kill landed between two commits"
    assert snapshot(crashed, "crashy") == expected
    # the audit trail tells the killed runs from the finished one
    statuses = dict(crashed.query("SELECT status, count(*) FROM runs GROUP BY 1"))
    assert statuses.get("running", 0) == 0
    assert statuses["interrupted"] >= kills - 1 and statuses["succeeded"] >= 1
    # nothing was counted twice: every quarantined file was attempted exactly once
    assert {a for *_, a in snapshot(crashed, "crashy")["quarantined"]} == {1}


def test_two_concurrent_ingests_on_one_store_both_succeed(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    one = make_repo("one", corpus(600, seed=1))
    two = make_repo("two", corpus(600, seed=2))
    target = tmp_path / "shared.duckdb"
    procs = [
        subprocess.Popen(cli("ingest", str(r), "--store", str(target), "--json", "--workers", "1"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for r in (one, two, one)  # the same repository twice, too
    ]  # fmt: skip
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert json.loads(out)["status"] == "succeeded"
    store = Store(target)
    for name, root in (("one", one), ("two", two)):
        reference = Store(tmp_path / f"ref-{name}.duckdb")
        ingest_repository(root, store=reference, settings=load_settings(env={}, workers=1))
        got, want = snapshot(store, name), snapshot(reference, name)
        assert got["files"] == want["files"]
        assert got["extracted"] == want["extracted"]
        assert [q[:3] for q in got["quarantined"]] == [q[:3] for q in want["quarantined"]]


def test_runs_of_one_repository_take_turns(make_repo: MakeRepo, tmp_path: Path) -> None:
    """While one process holds a repository's lock, another run of it waits; runs of other
    repositories and readers of the store go on."""
    from snake_pipe_core.store import repo_lock

    one = make_repo("one", corpus(40, seed=3))
    two = make_repo("two", corpus(40, seed=4))
    target = Store(tmp_path / "turns.duckdb")
    ingest_repository(two, store=target, settings=load_settings(env={}, workers=1))
    with repo_lock(target.path, "one"):
        waiting = subprocess.Popen(
            cli("ingest", str(one), "--store", str(target.path), "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        assert waiting.poll() is None  # queued behind the lock
        # another repository and a reader are not held up
        other = subprocess.run(
            cli("ingest", str(two), "--store", str(target.path)), capture_output=True, timeout=60
        )
        assert other.returncode == 0
        assert target.query("SELECT count(*) FROM ast_files WHERE repo = 'one'") == [(0,)]
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert json.loads(out)["extracted"] > 0


def test_a_held_connection_is_handed_to_a_waiting_process(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    """Store.hold keeps the store between uses only while nobody waits: a reader in another
    process announces itself, and the holder hands the store over at its next use."""
    target = Store(tmp_path / "held.duckdb")
    ingest_repository(make_repo("r", corpus(20)), store=target, settings=load_settings(env={}))
    code = (
        "import sys; from snake_pipe_core import Store; "
        "print(Store(sys.argv[1]).query('SELECT count(*) FROM ast_files')[0][0])"
    )
    with target.hold():
        with target.connect() as con:  # now held, with the store's lock
            con.execute("SELECT 1")
        reader = subprocess.Popen(
            [sys.executable, "-c", code, str(target.path)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(1.0)
        assert reader.poll() is None  # it waits while the connection is held and idle
        deadline = time.monotonic() + 30
        while reader.poll() is None and time.monotonic() < deadline:
            target.yield_to_waiters()  # what the committer does when idle
            time.sleep(0.05)
        out, _ = reader.communicate(timeout=30)
        assert reader.returncode == 0 and int(out) == 20
        with target.connect() as con:  # and the holder takes it back when it needs it
            assert con.execute("SELECT count(*) FROM ast_files").fetchall() == [(20,)]
