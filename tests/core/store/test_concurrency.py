"""Many processes on one store, as users run them: readers never wait for writers nor make
them fail, writers of different repositories commit side by side, a kill at any instant loses
nothing and duplicates nothing, and maintenance runs under load.

Readers here are what users run: ``connect_readonly`` in a process of its own, and DuckDB's own
CLI with the README's ATTACH statement. None of them speaks a snake-pipe lock."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from snake_pipe_core import Store, ingest_repository, load_settings, maintain
from tests.conftest import ROOT, MakeRepo
from tests.fixtures import asts

pytestmark = [pytest.mark.integration, pytest.mark.slow]

READER = ROOT / "tests" / "fixtures" / "readers.py"


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


def reference(root: Path, tmp_path: Path, repo: str) -> dict[str, Any]:
    """What a clean, lone ingest of ``root`` stores."""
    ref = Store(tmp_path / f"reference-{repo}")
    ingest_repository(root, store=ref, settings=load_settings(env={}, workers=1), repo=repo)
    return snapshot(ref, repo)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "snake_pipe_core.cli", *args]


def duckdb_cli() -> str:
    """DuckDB's CLI of the pinned release (the duckdb-cli package puts it beside python)."""
    exe = Path(sys.executable).parent / "duckdb"
    if not os.access(exe, os.X_OK):
        exe.chmod(0o755)  # the wheel installs it without the executable bit
    return str(exe)


@contextmanager
def readers(store: Path, tmp_path: Path, kinds: tuple[str, ...]) -> Iterator[list[Path]]:
    """Plain readers polling the store in processes of their own until the block ends."""
    stop = tmp_path / f"stop-{time.monotonic_ns()}"
    outs = [tmp_path / f"reads-{kind}-{i}-{time.monotonic_ns()}.jsonl" for i, kind in
            enumerate(kinds)]  # fmt: skip
    procs = [
        subprocess.Popen([sys.executable, str(READER), kind, str(store), str(stop), str(out),
                          duckdb_cli() if kind == "cli" else "", "0.05"])
        for kind, out in zip(kinds, outs, strict=True)
    ]  # fmt: skip
    try:
        yield outs
    finally:
        stop.touch()
        for p in procs:
            p.wait(60)


def reads(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_plain_readers_read_throughout_an_ingest_and_never_fail_it(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    root = make_repo("big", corpus(3000, seed=5))
    target = tmp_path / "store"
    Store(target).open()
    with readers(target, tmp_path, ("python", "python", "cli")) as outs:
        time.sleep(1.0)  # the readers are polling before the writer starts
        done = subprocess.run(
            cli("ingest", str(root), "--store", str(target), "--json", "--workers", "2"),
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        time.sleep(0.5)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    for out in outs:
        got = reads(out)
        failed = [r for r in got if not r["ok"]]
        assert not failed, failed[:3]
        counts = [r["files"] for r in got]
        assert counts == sorted(counts), "a reader saw the store go back in time"
        assert counts[-1] == summary["discovered"]
    # The readers saw the ingest in progress, not only before and after it.
    python_counts = {r["files"] for r in reads(outs[0])}
    assert len(python_counts - {0, summary["discovered"]}) >= 1
    assert snapshot(Store(target), "big") == reference(root, tmp_path, "big")


def test_four_concurrent_ingests_and_two_readers(make_repo: MakeRepo, tmp_path: Path) -> None:
    roots = [make_repo(f"r{i}", corpus(700, seed=10 + i)) for i in range(4)]
    target = tmp_path / "store"
    Store(target).open()
    with readers(target, tmp_path, ("python", "cli")) as outs:
        procs = [
            subprocess.Popen(cli("ingest", str(r), "--store", str(target), "--json",
                                 "--workers", "1"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for r in [*roots, roots[0]]  # and the same repository twice: they take turns
        ]  # fmt: skip
        results = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert json.loads(out)["status"] == "succeeded"
    for out in outs:
        assert all(r["ok"] for r in reads(out)), [r for r in reads(out) if not r["ok"]][:3]
    store = Store(target)
    for i, root in enumerate(roots):
        got, want = snapshot(store, f"r{i}"), reference(root, tmp_path, f"r{i}")
        assert got["files"] == want["files"]
        assert got["extracted"] == want["extracted"]
        assert [q[:3] for q in got["quarantined"]] == [q[:3] for q in want["quarantined"]]
    assert store.query("SELECT status, count(*) FROM runs GROUP BY 1") == [("succeeded", 5)]


def test_first_ingests_at_once_set_a_new_store_up_once(make_repo: MakeRepo, tmp_path: Path) -> None:
    """Four first runs into a store that does not exist yet: the one that sets it up goes
    first (without that, DuckLake failed inside one of them while both wrote the new catalog's
    first rows, or a process hung)."""
    roots = [make_repo(f"n{i}", corpus(40, seed=30 + i)) for i in range(4)]
    for attempt in range(3):
        target = tmp_path / f"new-store-{attempt}"
        procs = [
            subprocess.Popen(cli("ingest", str(r), "--store", str(target), "--json",
                                 "--workers", "1"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for r in roots
        ]  # fmt: skip
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
            assert json.loads(out)["status"] == "succeeded"
        counts = Store(target).query("SELECT repo, count(*) FROM ast_files GROUP BY 1 ORDER BY 1")
        assert counts == [(f"n{i}", 40) for i in range(4)]


def test_sigkill_at_random_moments_with_concurrent_writers(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    root = make_repo("crashy", corpus(2000))
    others = [make_repo(f"other{i}", corpus(400, seed=20 + i)) for i in range(2)]
    target = tmp_path / "crashed"
    # Commits every ~0.2 s, so that a kill lands between two of them, whatever the machine.
    config = tmp_path / "often.toml"
    config.write_text("[commit]\nseconds = 0.2\n", encoding="utf-8")
    Store(target).open()
    rng = random.Random(42)
    kills = 0
    with readers(target, tmp_path, ("python",)) as outs:
        for attempt in range(6):
            # New files arrive between attempts, so every attempt has work to be killed in.
            # (1,500 of them, so that a run lasts well past its first commit: runs of 700
            # got faster, and the local suite saw this test fail once, its output not kept)
            make_repo("crashy", {f"wave{attempt}/{k}": v for k, v in
                                 corpus(1500, seed=100 + attempt).items()})  # fmt: skip
            # Another repository is written meanwhile, by a process nobody kills.
            other = subprocess.Popen(
                cli("ingest", str(others[attempt % 2]), "--store", str(target), "--full"),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            known = {r for (r,) in Store(target).query("SELECT run_id FROM runs")}
            proc = subprocess.Popen(
                cli(
                    "--config",
                    str(config),
                    "ingest",
                    str(root),
                    "--store",
                    str(target),
                    "--workers",
                    "2",
                ),
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if attempt % 2:
                # just after this run's first commit (a run of these files lasts about a
                # second on a fast machine: a longer delay may find it finished)
                deadline = time.monotonic() + 30
                while proc.poll() is None and time.monotonic() < deadline:
                    committed = Store(target).query(
                        "SELECT run_id FROM checkpoints WHERE repo = 'crashy' AND done > 0"
                    )
                    if {r for (r,) in committed} - known:
                        break
                    time.sleep(0.02)
                time.sleep(rng.uniform(0, 0.05))
            else:
                time.sleep(rng.uniform(0.1, 1.5))  # any moment: start-up, walk, pool, commit
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # the CLI, its forkserver and its workers
                kills += 1
            proc.wait()
            _, err = other.communicate(timeout=300)
            assert other.returncode == 0, err
    done = subprocess.run(cli("ingest", str(root), "--store", str(target), "--json"),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert all(r["ok"] for r in reads(outs[0]))
    assert kills >= 3
    expected = reference(root, tmp_path, "crashy")
    crashed = Store(target)
    partial = crashed.query(
        "SELECT count(*) FROM checkpoints WHERE repo = 'crashy' "
        "AND status = 'interrupted' AND done > 0"
    )
    assert partial[0][0] >= 1, (
        "no kill landed after a run had committed a batch",
        crashed.query("SELECT status, planned, done, last_batch FROM checkpoints "
                      "WHERE repo = 'crashy' ORDER BY updated_at"),
    )  # fmt: skip
    assert snapshot(crashed, "crashy") == expected
    statuses = dict(
        crashed.query("SELECT status, count(*) FROM runs WHERE repo = 'crashy' GROUP BY 1")
    )
    assert statuses.get("running", 0) == 0
    assert statuses["interrupted"] >= 2 and statuses["succeeded"] >= 1
    # nothing was counted twice: every quarantined file was attempted exactly once
    assert {a for *_, a in snapshot(crashed, "crashy")["quarantined"]} == {1}
    for i, other_root in enumerate(others):
        assert (
            snapshot(crashed, f"other{i}")["files"]
            == reference(other_root, tmp_path, f"other{i}")["files"]
        )


def test_runs_of_one_repository_take_turns(make_repo: MakeRepo, tmp_path: Path) -> None:
    """While one process holds a repository's turn, another run of it waits; runs of other
    repositories and readers of the store go on."""
    from snake_pipe_core.store import repo_lock

    one = make_repo("one", corpus(40, seed=3))
    two = make_repo("two", corpus(40, seed=4))
    target = Store(tmp_path / "turns")
    ingest_repository(two, store=target, settings=load_settings(env={}, workers=1))
    with repo_lock(target.path, "one"):
        waiting = subprocess.Popen(
            cli("ingest", str(one), "--store", str(target.path), "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        assert waiting.poll() is None  # queued behind the other run
        other = subprocess.run(
            cli("ingest", str(two), "--store", str(target.path)), capture_output=True, timeout=60
        )
        assert other.returncode == 0
        assert target.query("SELECT count(*) FROM ast_files WHERE repo = 'one'") == [(0,)]
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert json.loads(out)["extracted"] > 0


def test_maintenance_under_load_changes_no_answer(make_repo: MakeRepo, tmp_path: Path) -> None:
    roots = [make_repo(f"m{i}", corpus(500, seed=30 + i)) for i in range(2)]
    target = tmp_path / "store"
    store = Store(target)
    # Many small commits first: the watcher's way (one path per run).
    small = make_repo("small", corpus(60, seed=40))
    paths = [str(p.relative_to(small)) for p in sorted(small.rglob("*.json"))[:40]]
    settings = load_settings(env={}, workers=1)
    for path in paths:
        ingest_repository(small, store=store, settings=settings, repo="small", paths=[path])
    with readers(target, tmp_path, ("python",)) as outs:
        procs = [
            subprocess.Popen(cli("ingest", str(r), "--store", str(target), "--workers", "1"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for r in roots
        ]  # fmt: skip
        reports = []
        try:
            while any(p.poll() is None for p in procs):
                reports.append(maintain(store, keep_snapshots_days=0))
        finally:
            errors = [p.communicate(timeout=300)[1] for p in procs]  # pipes closed whatever
        for p, err in zip(procs, errors, strict=True):
            assert p.returncode == 0, err
        reports.append(maintain(store, keep_snapshots_days=0))
    assert all(r["ok"] for r in reads(outs[0]))
    assert len(reports) >= 2  # maintenance really ran while the ingests wrote
    # The small commits' files were merged (by the runs themselves, or by maintenance).
    assert reports[0].files_before["file_versions"] >= 1
    assert reports[-1].files_after["file_versions"] == 1  # everything merged into one file
    for i, root in enumerate(roots):
        assert snapshot(store, f"m{i}") == reference(root, tmp_path, f"m{i}")
    one_by_one = Store(tmp_path / "ref-small")
    for path in paths:
        ingest_repository(small, store=one_by_one, settings=settings, repo="small", paths=[path])
    assert snapshot(store, "small") == snapshot(one_by_one, "small")


def test_the_watcher_applies_changes_while_a_plain_reader_polls(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    root = make_repo("w", corpus(50, seed=50))
    store = tmp_path / "store"
    config = tmp_path / "snake_pipe.toml"
    config.write_text(f'store = "{store}"\nworkers = 1\n[[repos]]\nname = "w"\npath = "{root}"\n')
    Store(store).open()
    watcher = subprocess.Popen(
        cli("--config", str(config), "watch", "--ingest"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    from snake_pipe_core import connect_readonly

    try:
        with readers(store, tmp_path, ("held", "cli")) as outs:
            con = connect_readonly(store)
            visible = "SELECT count(*) FROM extracted_files WHERE repo = 'w' AND path = ?"
            deadline = time.monotonic() + 120
            while con.execute("SELECT count(*) FROM ast_files").fetchall()[0][0] < 50:
                assert time.monotonic() < deadline, "the start-up rescan did not finish"
                time.sleep(0.1)
            for i in range(20):  # one file at a time, each visible before the next
                rel = f"new/f{i}.js.ast.json"
                (root / "new").mkdir(exist_ok=True)
                (root / rel).write_bytes(asts.dumps(asts.estree(1 + i % 5) | {"end": 70_000 + i}))
                deadline = time.monotonic() + 30
                while not con.execute(visible, [rel]).fetchall()[0][0]:
                    assert time.monotonic() < deadline, f"{rel} never became visible"
                    time.sleep(0.02)
            con.close()
    finally:
        os.killpg(watcher.pid, signal.SIGTERM)
        watcher.wait(60)
    for out in outs:
        got = reads(out)
        assert got and all(r["ok"] for r in got), [r for r in got if not r["ok"]][:3]
    assert snapshot(Store(store), "w") == reference(root, tmp_path, "w")


def test_a_reader_while_a_store_is_created_meets_only_store_errors(tmp_path: Path) -> None:
    """Readers that poll a store while another process creates it (the first ingest of a
    watcher, say) are told "not there yet" or "try again" as a StoreError: never DuckDB's bare
    exception, which DuckLake raises in the instant a new store's tables get their first rows
    (``INTERNAL Error: Calling GetValueInternal on a value that is NULL``, 2 reads in 100
    first ingests on this machine; a test's poller died of it in CI)."""
    from snake_pipe_core.errors import StoreError

    create = "import sys; from snake_pipe_core import Store; Store(sys.argv[1]).open()"
    seen: dict[str, int] = {}
    for attempt in range(40):
        target = tmp_path / f"s{attempt}"
        writer = subprocess.Popen([sys.executable, "-c", create, str(target)], cwd=ROOT)
        reader = Store(target)
        while writer.poll() is None:
            try:
                reader.query("SELECT count(*) FROM ast_files")
            except StoreError as e:
                kind = str(e).replace(str(target), "<store>").split(": run")[0][:150]
                seen[kind] = seen.get(kind, 0) + 1
        assert writer.returncode == 0
        assert reader.query("SELECT count(*) FROM ast_files") == [(0,)]
        reader.close()
    print("\n".join(f"{n:8d}  {kind}" for kind, n in sorted(seen.items())))
    assert not [kind for kind in seen if "Invalid Input Error" in kind]  # said plainly
