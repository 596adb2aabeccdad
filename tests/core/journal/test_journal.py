"""The change journal: records, cursor and compaction, heartbeat, grouping into runs, and the
guarantees across processes (a reader while another process writes; a SIGKILLed writer)."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from snake_pipe_core import load_settings
from snake_pipe_core.errors import ConfigError, StoreError
from snake_pipe_core.ingest.discovery import covering_paths
from snake_pipe_core.journal import (
    Change,
    ChangeJournal,
    FileChange,
    JournalRecord,
    RepoChanges,
    group_changes,
)
from snake_pipe_core.processes import pid_alive

pytestmark = pytest.mark.unit


def changed(repo: str, *paths: str) -> list[FileChange]:
    return [FileChange(Change.CHANGED, repo, p) for p in paths]


def rec(seq: int, repo: str, path: str | None, change: Change = Change.CHANGED) -> JournalRecord:
    if path is None:
        change = Change.RESCAN
    return JournalRecord(seq, repo, change, path, 0.0)


def test_append_read_and_last_seq(tmp_path: Path) -> None:
    with ChangeJournal(tmp_path / "j" / "journal.sqlite") as j:
        assert j.last_seq() == 0 and j.read(0) == []
        odd = os.fsdecode(b"caf\xe9.js.ast.json")  # not UTF-8: a surrogate escape
        seq = j.append(
            [
                FileChange(Change.RESCAN, "a"),
                FileChange(Change.CHANGED, "a", "src/x.json"),
                FileChange(Change.DELETED, "b", odd),
            ],
            at=123.5,
        )
        assert seq == 3 == j.last_seq()
        got = j.read(0)
        assert [(r.seq, r.repo, r.change, r.path, r.at) for r in got] == [
            (1, "a", Change.RESCAN, None, 123.5),
            (2, "a", Change.CHANGED, "src/x.json", 123.5),
            (3, "b", Change.DELETED, odd, 123.5),
        ]
        assert os.fsencode(got[2].path or "") == b"caf\xe9.js.ast.json"
        assert [r.seq for r in j.read(1, limit=1)] == [2]
        assert j.append([]) == 3  # nothing to write: no transaction


def test_journal_is_wal_and_every_commit_is_fsynced(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with ChangeJournal(path) as j:
        assert j._con.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        j.heartbeat()  # relaxes synchronous for itself only
        assert j._con.execute("PRAGMA synchronous").fetchone()[0] == 2
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_compaction_keeps_the_sequence_growing(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with ChangeJournal(path) as j:
        j.append(changed("a", *(f"f{i}.json" for i in range(10))))
        assert j.compact(4) == 4
        assert j.compacted_upto() == 4 and j.pending() == 6
        assert [r.seq for r in j.read(0)] == list(range(5, 11))
        assert j.compact(99) == 6  # capped at the last record
        assert j.compacted_upto() == 10 and j.pending() == 0 and j.last_seq() == 10
        assert j.compact(3) == 0 and j.compacted_upto() == 10  # never goes back
        journal_id = j.journal_id
    with ChangeJournal(path) as j:  # a number is never reused, even after a reopen
        assert j.journal_id == journal_id
        assert j.append(changed("a", "g.json")) == 11
    with ChangeJournal(tmp_path / "other.sqlite") as other:
        assert other.journal_id != journal_id


def test_compaction_gives_space_back(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with ChangeJournal(path) as j:
        for n in range(10):
            j.append(changed("a", *(f"dir{n}/{'x' * 80}{i}.json" for i in range(2000))))
        j._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        full = path.stat().st_size
        j.compact(j.last_seq())
        j._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert path.stat().st_size < full / 4


def test_a_file_that_is_not_a_journal_is_a_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "journal.sqlite"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="change journal"):
        ChangeJournal(bad)


def test_a_journal_of_the_first_schema_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with ChangeJournal(path) as j:
        j.append(changed("a", "x.json"))
    with sqlite3.connect(path) as con:  # as version 1 left it: no index by repository
        con.execute("DROP INDEX records_by_repo")
        con.execute("UPDATE meta SET value = 1 WHERE key = 'schema_version'")
    con.close()
    with ChangeJournal(path) as j:
        assert [r.path for r in j.read_repo("a", 0, 10, 10)] == ["x.json"]
    with sqlite3.connect(path) as con:
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        index = con.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                            "AND name = 'records_by_repo'").fetchone()  # fmt: skip
    con.close()
    assert (int(version[0]), index) == (2, ("records_by_repo",))


def test_heartbeat_and_watcher_status(tmp_path: Path) -> None:
    with ChangeJournal(tmp_path / "journal.sqlite") as j:
        assert j.watcher_status() is None
        j.watcher_started(pid=4242, host="h")
        status = j.watcher_status()
        assert status is not None and (status.pid, status.host) == (4242, "h")
        assert not status.is_stale(5) and status.is_stale(5, now=status.beat_at + 6)
        before = status.beat_at
        time.sleep(0.01)
        j.heartbeat()
        after = j.watcher_status()
        assert after is not None and after.beat_at > before and after.started_at == before
        j.watcher_stopped(pid=1)  # not the owner: nothing happens
        assert j.watcher_status() is not None
        j.watcher_stopped(pid=4242)
        assert j.watcher_status() is None


def test_the_journal_lives_in_the_store_unless_configured(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "snake_pipe.toml"
    config.parent.mkdir()
    config.write_text('store = "data/store"\n')
    assert load_settings(config, env={}).journal_path == tmp_path / "conf/data/store/journal.sqlite"
    config.write_text('store = "data/store"\n[watch]\njournal = "j/changes.sqlite"\n'
                      "settle_s = 0.1\n")  # fmt: skip
    settings = load_settings(config, env={})
    assert settings.journal_path == tmp_path / "conf/j/changes.sqlite"
    assert settings.watch.settle_s == 0.1 and settings.watch.max_run_paths == 1000
    config.write_text("[watch]\nsettle = 1\n")
    with pytest.raises(ConfigError, match=r"watch\.settle"):
        load_settings(config, env={})


def test_covering_paths_folds_what_a_folder_walk_covers() -> None:
    assert covering_paths(["a/b/c.json", "a/b", "a/bc.json", "a/b", "z.json", "a/b/d/e"]) == [
        "a/b",
        "a/bc.json",
        "z.json",
    ]


def test_group_changes_one_unit_of_work_per_repository() -> None:
    records = [
        rec(5, "a", "x.json"),
        rec(6, "b", "d/y.json"),
        rec(7, "a", "x.json", Change.DELETED),
        rec(8, "a", "sub/z.json"),
        rec(9, "a", "sub"),
        rec(10, "b", None),
        rec(11, "b", "d/w.json"),
        rec(12, "c", "q.json"),
    ]
    assert group_changes(records) == {
        "a": RepoChanges("a", ("sub", "x.json"), 5, 9, 4),
        "b": RepoChanges("b", None, 6, 11, 3),
        "c": RepoChanges("c", ("q.json",), 12, 12, 1),
    }
    assert group_changes(records)["b"].rescan


def test_group_changes_bounds_the_paths_of_a_run() -> None:
    many = [rec(i + 1, "a", f"f{i}.json") for i in range(11)]
    assert group_changes(many, max_paths=10)["a"] == RepoChanges("a", None, 1, 11, 11)
    assert group_changes(many[:10], max_paths=10)["a"].paths is not None
    dupes = [rec(i + 1, "a", "same.json") for i in range(50)]
    assert group_changes(dupes, max_paths=10)["a"].paths == ("same.json",)


def test_past_the_bound_paths_coarsen_to_their_top_level_folders() -> None:
    """What the watcher saw (a `git clean` of thousands of files, say) stays a run of paths:
    a whole-repository diff would be judged by the mass-delete guard as if it were blind."""
    seen = [rec(i + 1, "a", f"build/d{i % 7}/f{i}.json") for i in range(40)]
    seen += [rec(41, "a", "src/x.json"), rec(42, "a", "top.json")]
    assert group_changes(seen, max_paths=10)["a"].paths == ("build", "src", "top.json")
    wide = [rec(i + 1, "a", f"d{i}/f.json") for i in range(11)]  # 11 top-level folders
    assert group_changes(wide, max_paths=10)["a"].paths is None


WRITER = """
import sys
from snake_pipe_core import Change, ChangeJournal, FileChange
path, batches, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with ChangeJournal(path) as j:
    for b in range(batches):
        seq = j.append([FileChange(Change.CHANGED, "r", f"b{b}/f{i}") for i in range(size)])
        print(seq, flush=True)  # committed: it must survive anything from here on
"""


def _writer(path: Path, batches: int, size: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), str(path), str(batches), str(size)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )


@pytest.mark.integration
def test_a_reader_sees_whole_batches_while_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    ChangeJournal(path).close()
    batches, size = 150, 7
    seen: list[JournalRecord] = []
    cursor, reads = 0, 0
    with _writer(path, batches, size) as writer, ChangeJournal(path) as j:
        deadline = time.monotonic() + 60
        while len(seen) < batches * size and time.monotonic() < deadline:
            got = j.read(cursor, limit=10_000)
            if got:
                reads += 1
                # a commit is atomic: a read never ends in the middle of a batch
                assert got[-1].path is not None and got[-1].path.endswith(f"/f{size - 1}")
                seen += got
                cursor = got[-1].seq
                j.compact(cursor)  # a second writer (the consumer) on the same file
            else:
                time.sleep(0.001)
        assert writer.wait(30) == 0
    assert [r.seq for r in seen] == list(range(1, batches * size + 1))
    assert [r.path for r in seen] == [f"b{b}/f{i}" for b in range(batches) for i in range(size)]
    assert reads > 1, "the reader never overlapped the writer"


@pytest.mark.integration
def test_committed_records_survive_the_writer_being_killed(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    committed = 0
    with _writer(path, 100_000, 3) as writer:
        assert writer.stdout is not None
        for line in writer.stdout:
            committed = int(line)
            if committed >= 300:
                break
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    with ChangeJournal(path) as j:  # opens cleanly: SQLite recovers its WAL
        assert j.last_seq() >= committed
        records = j.read(0, limit=1_000_000)
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert len(records) % 3 == 0  # the batch in flight is all there or not at all
        assert j.append(changed("r", "after.json")) == len(records) + 1


@pytest.mark.unit
def test_one_consumer_at_a_time(tmp_path: Path) -> None:
    journal = ChangeJournal(tmp_path / "j.sqlite")
    assert journal.claim_consumer("sensor") is None
    assert journal.claim_consumer("sensor") is None  # renewing
    other = journal.claim_consumer("watch --ingest")
    assert other is not None and other.startswith("sensor (pid")
    # a lease nobody renews goes stale
    assert journal.claim_consumer("watch --ingest", stale_after_s=0.0) is None
    assert journal.claim_consumer("sensor") is not None
    journal.release_consumer("sensor")  # not the holder: nothing happens
    assert journal.claim_consumer("sensor") is not None
    journal.release_consumer("watch --ingest")
    assert journal.claim_consumer("sensor") is None


@pytest.mark.integration
def test_a_consumer_that_died_leaves_its_lease(tmp_path: Path) -> None:
    code = (
        "import sys; from snake_pipe_core.journal import ChangeJournal; "
        "assert ChangeJournal(sys.argv[1]).claim_consumer('watch --ingest') is None"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "j.sqlite")], check=True)
    # its process is gone: the lease is free at once, however fresh
    assert ChangeJournal(tmp_path / "j.sqlite").claim_consumer("sensor") is None


@pytest.mark.integration
def test_another_process_of_the_same_consumer_takes_the_lease_over(tmp_path: Path) -> None:
    """The Dagster daemon evaluates the sensor in a new code server every minute or so, and
    the one it replaced may linger, even as a zombie: the sensor must not lock itself out."""
    code = (
        "import sys; from snake_pipe_core.journal import ChangeJournal; "
        "assert ChangeJournal(sys.argv[1]).claim_consumer('dagster:sensor') is None; "
        "print('held', flush=True); sys.stdin.read()"
    )
    path = tmp_path / "j.sqlite"
    with subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as other:
        assert other.stdout is not None and other.stdout.readline() == b"held\n"
        with ChangeJournal(path) as j:
            assert j.claim_consumer("watch --ingest") is not None  # another consumer waits
            assert j.claim_consumer("dagster:sensor") is None  # the same one takes over
            lease = j.consumer_lease()
            assert lease is not None and lease[1] == os.getpid()
        other.stdin.close()  # type: ignore[union-attr]


@pytest.mark.unit
def test_a_zombie_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # exited, not reaped: a zombie until wait()
    assert not pid_alive(child.pid)
    assert child.wait() == 0
    assert pid_alive(os.getpid())
