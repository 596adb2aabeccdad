"""The change journal in PostgreSQL: the file journal's contract on a real server, and what
sharing it between hosts adds — a watcher lock and a consumer lease that hold cluster-wide,
and records that become visible in sequence order whoever appends them."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from snake_pipe_core import load_settings
from snake_pipe_core.errors import StoreError, WatcherAlreadyRunning
from snake_pipe_core.journal import Change, FileChange, JournalRecord, open_journal
from snake_pipe_core.journal.postgres import PostgresJournal, redact_dsn

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def changed(repo: str, *paths: str) -> list[FileChange]:
    return [FileChange(Change.CHANGED, repo, p) for p in paths]


def child(code: str, *args: str, host: str) -> subprocess.Popen[str]:
    """A process standing in for another host (its own SNAKE_PIPE_HOST)."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SNAKE_PIPE_HOST": host},
    )


def test_settings_choose_the_journal(tmp_path: Path, postgres_dsn: str) -> None:
    local = load_settings(env={}, store=tmp_path / "store")
    with open_journal(local) as j:
        assert not j.is_shared and j.where == str(tmp_path / "store" / "journal.sqlite")
    shared = load_settings(env={"SNAKE_PIPE_JOURNAL": f"postgres:{postgres_dsn}"}, store="s")
    assert shared.journal_dsn == postgres_dsn
    with open_journal(shared) as j:
        assert j.is_shared and isinstance(j, PostgresJournal) and "dbname=" in j.where
    url = "postgresql://snake:secret@db.internal:5433/snake"
    assert redact_dsn(url) == "postgresql://snake:***@db.internal:5433/snake"
    assert redact_dsn("dbname=x password=secret host=h") == "dbname=x password=*** host=h"


def test_an_unreachable_database_is_a_store_error_that_says_what_to_check() -> None:
    with pytest.raises(StoreError, match=r"cannot reach the change journal .*config check"):
        PostgresJournal("host=127.0.0.1 port=1 dbname=nope user=nobody", connect_timeout_s=2)


def test_append_read_compact_as_the_file_journal_does(postgres_dsn: str) -> None:
    with PostgresJournal(postgres_dsn) as j:
        assert j.last_seq() == 0 and j.read(0) == [] and j.append([]) == 0
        odd = os.fsdecode(b"caf\xe9.js.ast.json")  # not UTF-8: kept as its bytes
        seq = j.append(
            [
                FileChange(Change.RESCAN, "a"),
                FileChange(Change.CHANGED, "a", "src/x.json"),
                FileChange(Change.DELETED, "b", odd),
            ],
            at=123.5,
        )
        assert seq == 3 == j.last_seq()
        assert [(r.seq, r.repo, r.change, r.path, r.at) for r in j.read(0)] == [
            (1, "a", Change.RESCAN, None, 123.5),
            (2, "a", Change.CHANGED, "src/x.json", 123.5),
            (3, "b", Change.DELETED, odd, 123.5),
        ]
        assert os.fsencode(j.read(2)[0].path or "") == b"caf\xe9.js.ast.json"
        assert j.repos_after(0) == {"a": (1, 2, 2), "b": (3, 3, 1)}
        assert j.top_levels("a", 0, 3, 10) is None  # a rescan is among them
        j.append(changed("a", "src/y.json", "lib/z.json", "top.json"))
        assert sorted(j.top_levels("a", 2, 6, 10) or []) == ["lib", "src", "top.json"]
        assert [r.path for r in j.read_repo("a", 2, 5, 10)] == ["src/y.json", "lib/z.json"]
        assert j.first_after("b", 0) == 3 and j.first_after("b", 3) is None
        journal_id = j.journal_id
        assert j.compact(4) == 4 and j.compacted_upto() == 4 and j.pending() == 2
        assert j.compact(100) == 2 and j.compacted_upto() == 6  # capped at the last record
    with PostgresJournal(postgres_dsn) as j:  # a number is never reused, even after a reopen
        assert j.journal_id == journal_id and j.last_seq() == 6
        assert j.append(changed("a", "again.json")) == 7


def test_values_heartbeat_and_a_stop_that_only_its_watcher_clears(postgres_dsn: str) -> None:
    with PostgresJournal(postgres_dsn) as j:
        j.save_values({"cursor": "c1", "status": "{}"})
        j.save_value("status", None)
        assert (j.load_value("cursor"), j.load_value("status")) == ("c1", None)
        assert j.watcher_status() is None
        j.watcher_started(pid=4242, host="files-1")
        first = j.watcher_status()
        assert first is not None and (first.pid, first.host) == (4242, "files-1")
        j.heartbeat()
        beat = j.watcher_status()
        assert beat is not None and beat.beat_at >= first.beat_at
        j.watcher_stopped(pid=4242)  # same pid, but not this host: not its watcher
        assert j.watcher_status() is not None
        j.watcher_started()
        j.watcher_stopped()
        assert j.watcher_status() is None


LOCK_HOLDER = """
import sys, time
from snake_pipe_core.journal.postgres import PostgresJournal
j = PostgresJournal(sys.argv[1])
with j.watcher_lock():
    j.watcher_started()
    print("holding", flush=True)
    time.sleep(600)
"""


def test_one_watcher_per_journal_across_hosts_and_its_lock_dies_with_it(
    postgres_dsn: str,
) -> None:
    holder = child(LOCK_HOLDER, postgres_dsn, host="files-1")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with PostgresJournal(postgres_dsn) as j:
            with pytest.raises(WatcherAlreadyRunning, match="on files-1") as e:
                with j.watcher_lock():
                    pass
            assert e.value.pid == holder.pid
            holder.send_signal(signal.SIGKILL)  # however it dies, the server drops the lock
            holder.wait()
            deadline = time.monotonic() + 30
            while True:
                try:
                    with j.watcher_lock():
                        break
                except WatcherAlreadyRunning:
                    assert time.monotonic() < deadline, "the dead watcher's lock stayed"
                    time.sleep(0.1)
    finally:
        holder.kill()
        holder.communicate()


def test_one_consumer_across_hosts(postgres_dsn: str) -> None:
    claim = """
    import sys
    from snake_pipe_core.journal.postgres import PostgresJournal
    print(PostgresJournal(sys.argv[1]).claim_consumer("sensor"), flush=True)
    """
    other_host = child(claim, postgres_dsn, host="daemon-1")
    out, _ = other_host.communicate(timeout=60)
    assert out.strip() == "None"  # it took the lease, then its process ended
    with PostgresJournal(postgres_dsn) as j:
        # a pid on another host cannot be checked from here: the lease holds until stale
        held = j.claim_consumer("watch --ingest")
        assert held is not None and held.startswith("sensor (pid") and "daemon-1" in held
        lease = j.consumer_lease()
        assert lease is not None and lease[0] == "sensor" and lease[2] == "daemon-1"
        assert j.claim_consumer("watch --ingest", stale_after_s=0.0) is None
        assert j.claim_consumer("sensor") is not None
        j.release_consumer("watch --ingest")
        assert j.consumer_lease() is None


APPENDER = """
import sys
from snake_pipe_core.journal import Change, FileChange
from snake_pipe_core.journal.postgres import PostgresJournal
dsn, name, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
with PostgresJournal(dsn) as j:
    for b in range(batches):
        j.append([FileChange(Change.CHANGED, name, f"b{b}/f{i}") for i in range(5)])
print("done", flush=True)
"""


def test_records_appear_in_sequence_order_whoever_appends(postgres_dsn: str) -> None:
    """A reader that moves its cursor to the last record it saw must never skip one: with two
    appenders at once, no record may become visible after a higher one was read."""
    PostgresJournal(postgres_dsn).close()
    writers = [child(APPENDER, postgres_dsn, name, "120", host=name) for name in ("w1", "w2")]
    seen: list[JournalRecord] = []
    cursor = 0
    with PostgresJournal(postgres_dsn) as j:
        deadline = time.monotonic() + 120
        while len(seen) < 2 * 120 * 5 and time.monotonic() < deadline:
            got = j.read(cursor, limit=10_000)
            seen += got
            cursor = got[-1].seq if got else cursor
            if got:
                j.compact(cursor)  # the consumer compacts while both append
    for w in writers:
        out, _ = w.communicate(timeout=60)
        assert w.returncode == 0 and out.strip() == "done"
    assert [r.seq for r in seen] == list(range(1, 2 * 120 * 5 + 1))
    for name in ("w1", "w2"):  # each writer's batches whole and in its order
        mine = [r.path for r in seen if r.repo == name]
        assert mine == [f"b{b}/f{i}" for b in range(120) for i in range(5)]


def test_committed_records_survive_the_appender_being_killed(postgres_dsn: str) -> None:
    PostgresJournal(postgres_dsn).close()
    writer = child(APPENDER, postgres_dsn, "r", "100000", host="files-1")
    with PostgresJournal(postgres_dsn) as j:
        deadline = time.monotonic() + 60
        while j.last_seq() < 500:
            assert time.monotonic() < deadline and writer.poll() is None
            time.sleep(0.05)
        committed = j.last_seq()
        writer.send_signal(signal.SIGKILL)
        writer.communicate()
        records = j.read(0, limit=1_000_000)
        assert len(records) >= committed and len(records) % 5 == 0  # whole batches only
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert j.append(changed("r", "after.json")) == len(records) + 1


def test_a_lost_connection_is_an_error_then_the_next_call_reconnects(
    postgres_dsn: str,
) -> None:
    with PostgresJournal(postgres_dsn) as j:
        j.append(changed("a", "x.json"))
        with PostgresJournal(postgres_dsn) as admin, admin._tx() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'snake-pipe journal' AND pid <> pg_backend_pid()"
            )
        with pytest.raises(StoreError, match=r"the change journal in .* failed"):
            j.last_seq()
        assert j.append(changed("a", "y.json")) == 2


def test_watch_status_reads_the_shared_journal(tmp_path: Path, postgres_dsn: str) -> None:
    with PostgresJournal(postgres_dsn) as j:
        j.append(changed("a", "x.json"))
        j.watcher_started(pid=4242, host="files-1")
    env = {**os.environ, "SNAKE_PIPE_JOURNAL": f"postgres:{postgres_dsn}",
           "SNAKE_PIPE_STORE": str(tmp_path / "store")}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", "watch", "--status", "--json"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    info = json.loads(out.stdout)
    assert info["journal"] == postgres_dsn and info["pending_records"] == 1
    assert (info["watcher"]["pid"], info["watcher"]["host"]) == (4242, "files-1")
    stop = subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", "watch", "--stop"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert stop.returncode != 0 and "no watcher of this journal runs on this host" in stop.stderr
