"""The DuckLake store on a real catalog and real Parquet files: where it lives, what it writes,
time travel by run, a busy catalog, maintenance, and stores of snake-pipe 0.1."""

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from snake_pipe_core import (
    Store,
    StoreBusy,
    StoreError,
    StoreLocation,
    connect_readonly,
    ingest_repository,
    load_settings,
    maintain,
)
from snake_pipe_core.analysis import AnalysisSettings, Analyzer, WorkItem
from snake_pipe_core.hashes import KnownHashes
from snake_pipe_core.ingest.results import Results
from snake_pipe_core.store import QuarantineHistory, in_transaction, retry_stats
from snake_pipe_core.store.lake import extension_directory
from tests.conftest import MakeRepo
from tests.fixtures import asts, legacy

pytestmark = pytest.mark.integration


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


FILES_SQL = "SELECT path, state, reason, content_hash FROM ast_files WHERE repo = 'r'"


def files(store: Store) -> dict[str, tuple[object, ...]]:
    return {r[0]: r[1:] for r in store.query(FILES_SQL)}


@contextmanager
def hold_catalog(catalog: Path, *, seconds: float) -> Iterator[None]:
    """Another process takes the catalog's write lock and keeps it for ``seconds``.

    (Another process, not this one: SQLite's locks are POSIX record locks, which a process
    never conflicts with itself on.)"""
    code = (
        "import sqlite3, sys, time\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('BEGIN IMMEDIATE'); print('held', flush=True)\n"
        "time.sleep(float(sys.argv[2])); db.execute('ROLLBACK')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(catalog), str(seconds)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield
    finally:
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.unit
def test_the_store_setting_is_a_folder_or_a_catalog(tmp_path: Path) -> None:
    embedded = StoreLocation.parse(tmp_path / "s")
    assert embedded.embedded and embedded.folder == tmp_path / "s"
    assert embedded.uri == f"ducklake:sqlite:{tmp_path / 's' / 'catalog.sqlite'}"
    assert embedded.data_path == f"{tmp_path / 's' / 'data'}/"
    assert embedded.attach_sql() == f"ATTACH '{embedded.uri}' AS snake (READ_ONLY)"

    pg = StoreLocation.parse(
        "ducklake:postgres:dbname=snake host=db password=s3cret", "/shared/snake/"
    )
    assert not pg.embedded and pg.is_postgres and pg.data_path == "/shared/snake/"
    assert pg.describe() == "ducklake:postgres:dbname=snake host=db password=***"
    assert "s3cret" not in str(pg.local_state())
    url = StoreLocation.parse("ducklake:postgres:postgresql://snake:s3cret@db/snake")
    assert url.describe() == "ducklake:postgres:postgresql://snake:***@db/snake"


def test_the_store_is_a_lake_a_plain_duckdb_client_can_attach(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    store = Store(tmp_path / "s")
    ingest_repository(make_repo("r"), store=store, settings=load_settings(env={}, workers=1))
    folder = tmp_path / "s"
    assert {p.name for p in folder.iterdir()} >= {"catalog.sqlite", "locks"}
    db = sqlite3.connect(folder / "catalog.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()
    # The README's statement, in a plain DuckDB connection with the packaged extensions.
    con = duckdb.connect(config={"extension_directory": extension_directory()})
    con.execute(f"ATTACH 'ducklake:sqlite:{folder}/catalog.sqlite' AS snake (READ_ONLY)")
    con.execute("USE snake")
    assert con.execute("SELECT count(*) FROM extracted_files").fetchone() == (7,)
    with pytest.raises(duckdb.Error):
        con.execute("INSERT INTO file_versions SELECT * FROM file_versions")  # read-only
    con.close()


def test_a_no_op_run_writes_no_file_version(make_repo: MakeRepo, tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    root = make_repo("r")
    settings = load_settings(env={}, workers=1)
    ingest_repository(root, store=store, settings=settings)
    before = store.query("SELECT count(*) FROM file_versions")
    again = ingest_repository(root, store=store, settings=settings)
    assert again.unchanged == again.discovered and again.extracted == 0
    assert store.query("SELECT count(*) FROM file_versions") == before
    assert store.query("SELECT count(*) FROM analyses") == [(7,)]


def test_time_travel_by_run_through_every_door(make_repo: MakeRepo, tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    root = make_repo("r")
    settings = load_settings(env={}, workers=1)
    first = ingest_repository(root, store=store, settings=settings)
    then = files(store)
    (root / "src/app.js.ast.json").write_bytes(asts.dumps(asts.estree(9)))
    (root / "go/cmd/main.go.ast.json").unlink()
    (root / "src/new.js.ast.json").write_bytes(b"[")
    ingest_repository(root, store=store, settings=settings)
    now = files(store)
    assert now != then

    # connect_readonly(at_run=…)
    con = connect_readonly(tmp_path / "s", at_run=first.run_id)
    got = {r[0]: r[1:] for r in con.execute(FILES_SQL).fetchall()}
    assert got == then
    con.close()
    # snake-pipe sql --at RUN (a prefix of the run id is enough)
    out = cli("sql", "--store", str(tmp_path / "s"), "--at", first.run_id[:-2], "--json",
              "SELECT path, state FROM ast_files WHERE repo = 'r' ORDER BY path")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert {r["path"]: r["state"] for r in json.loads(out.stdout)} == {
        p: v[0] for p, v in then.items()
    }
    # the documented SQL form, in a plain connection
    con = connect_readonly(tmp_path / "s")
    con.execute(
        "SET VARIABLE snake_pipe_snapshot = (SELECT snapshot FROM runs WHERE run_id = ?)",
        [first.run_id],
    )
    assert con.execute("SELECT count(*) FROM ast_files").fetchone() == (len(then),)
    con.execute("RESET VARIABLE snake_pipe_snapshot")
    assert con.execute("SELECT count(*) FROM ast_files").fetchone() == (len(now),)
    con.close()
    # an unknown run is an error, not the present passed off as the past
    out = cli("sql", "--store", str(tmp_path / "s"), "--at", "nope", "SELECT 1")
    assert out.returncode == 3 and "no run 'nope'" in out.stderr

    # Maintenance merges and rewrites files: the past stays the past.
    maintain(store, keep_snapshots_days=0)
    con = connect_readonly(tmp_path / "s", at_run=first.run_id)
    got = {r[0]: r[1:] for r in con.execute(FILES_SQL).fetchall()}
    assert got == then
    con.close()
    assert files(store) == now


def test_a_busy_catalog_delays_a_commit_and_never_fails_it(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    store = Store(tmp_path / "s")
    root = make_repo("r")
    settings = load_settings(env={}, workers=1)
    ingest_repository(root, store=store, settings=settings, paths=["src"])
    retries = retry_stats.snapshot()[0]
    # Another process holds the catalog's write lock for a while, as a long commit does.
    with hold_catalog(tmp_path / "s" / "catalog.sqlite", seconds=1.0):
        started = time.monotonic()
        summary = ingest_repository(root, store=store, settings=settings)
    assert time.monotonic() - started >= 0.5
    assert summary.status == "succeeded" and summary.commit_retries > 0
    assert retry_stats.snapshot()[0] > retries
    assert store.query("SELECT count(*) FROM extracted_files") == [(7,)]


def test_a_batch_commit_run_again_on_a_busy_catalog_writes_each_row_once(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    """A batch's rows reach DuckDB as Arrow streams, each read once: a transaction retried on
    a busy catalog registers them afresh, and every row is written once."""
    root = make_repo("r", {"a.js.ast.json": asts.dumps(asts.estree(2)),
                           "b.ts.ast.json": asts.dumps(asts.estree(3)),
                           "bad.js.ast.json": b"[1,"})  # fmt: skip
    analyzer = Analyzer(AnalysisSettings(), KnownHashes())
    names = ("a.js.ast.json", "b.ts.ast.json", "bad.js.ast.json")
    batch = Results.of([analyzer.analyze_file(str(root), WorkItem(n, 0)) for n in names])
    assert (batch.extracted, batch.quarantined, len(batch.metas)) == (2, 1, 2)
    store = Store(tmp_path / "s").open()
    run_id, _, _ = store.begin_run("r", str(root), mode="incremental", trigger="test")
    since = datetime(2026, 1, 2)
    history = {"bad.js.ast.json": QuarantineHistory(attempts=4, since=since)}
    retries = retry_stats.snapshot()[0]
    with hold_catalog(tmp_path / "s" / "catalog.sqlite", seconds=1.0):
        store.commit_batch("r", run_id, batch, batch_no=1, planned=3, done=3,
                           quarantined_before=history)  # fmt: skip
    assert retry_stats.snapshot()[0] > retries  # the transaction did run again
    assert store.query("SELECT path, state, attempts, quarantined_since FROM file_versions "
                       "WHERE repo = 'r' ORDER BY path") == [
        ("a.js.ast.json", "extracted", None, None),
        ("b.ts.ast.json", "extracted", None, None),
        ("bad.js.ast.json", "quarantined", 5, since),
    ]  # fmt: skip
    assert store.query("SELECT count(*), count(DISTINCT content_hash) FROM analyses "
                       "WHERE content_hash <> ''") == [(2, 2)]  # fmt: skip
    assert store.query("SELECT batch, done FROM run_progress WHERE run_id = ?",
                       [run_id]) == [(1, 3)]  # fmt: skip


def test_a_catalog_busy_past_the_deadline_is_a_transient_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "s").open()
    with hold_catalog(tmp_path / "s" / "catalog.sqlite", seconds=3.0):
        with store.connect() as con, pytest.raises(StoreBusy) as e:
            in_transaction(
                con,
                lambda c: c.execute("INSERT INTO run_progress VALUES ('x', 'r', 1, 1, 1, now())"),
                what="a test commit",
                deadline_s=0.5,
            )
    assert e.value.transient and "stayed busy" in str(e.value)
    assert store.query("SELECT count(*) FROM run_progress") == [(0,)]


def test_readers_are_told_what_to_do_when_there_is_no_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run `snake-pipe ingest` first"):
        connect_readonly(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()  # a reader creates nothing


def test_store_info_and_maintain_on_the_command_line(make_repo: MakeRepo, tmp_path: Path) -> None:
    store = tmp_path / "s"
    for name in ("a", "b", "c"):
        assert cli("ingest", str(make_repo(name)), "--store", str(store)).returncode == 0
    info = json.loads(cli("store", "info", "--store", str(store), "--json").stdout)
    assert info["store"] == str(store) and info["snapshot"] > 0
    assert info["content_hash"] == "blake3"
    assert info["attach"].startswith("ATTACH 'ducklake:sqlite:")
    out = cli("store", "maintain", "--store", str(store), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["tables"]["file_versions"]["files_before"] == 3  # a file per run's batch
    assert report["tables"]["file_versions"]["files_after"] == 1
    csv = cli("sql", "--store", str(store), "--csv", "SELECT repo, count(*) n FROM ast_files "
              "GROUP BY 1 ORDER BY 1")  # fmt: skip
    assert csv.stdout.splitlines() == ["repo,n", "a,8", "b,8", "c,8"]
    bad = cli("sql", "--store", str(store), "SELECT nope FROM ast_files")
    assert bad.returncode == 2 and "nope" in bad.stderr and "Traceback" not in bad.stderr


def test_a_single_file_store_of_0_1_is_refused_then_migrated(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    old = tmp_path / "store.duckdb"
    expected = legacy.write_v01_store(old)
    # Every command says how to migrate, and changes nothing.
    for args in (["ingest", str(make_repo("r"))], ["status"]):
        out = cli(*args, "--store", str(old))
        assert out.returncode == 3
        assert "snake-pipe store migrate" in out.stderr and "Traceback" not in out.stderr
    assert old.is_file()

    out = cli("store", "migrate", "--store", str(old))
    assert out.returncode == 0, out.stderr
    assert f"kept as {old}.v1-backup" in out.stdout
    assert (tmp_path / "store.duckdb.v1-backup").is_file() and old.is_dir()
    legacy.assert_migrated(Store(old), expected)
    # and it is an ordinary store from now on
    assert cli("ingest", str(make_repo("r")), "--store", str(old)).returncode == 0


def test_the_old_default_store_beside_the_new_one_is_found(tmp_path: Path) -> None:
    expected = legacy.write_v01_store(tmp_path / ".snake_pipe" / "store.duckdb")
    out = cli("status")  # the default store is .snake_pipe/store now
    assert out.returncode == 3
    assert "store migrate --from" in out.stderr
    out = cli("store", "migrate", "--from", str(tmp_path / ".snake_pipe" / "store.duckdb"))
    assert out.returncode == 0, out.stderr
    legacy.assert_migrated(Store(tmp_path / ".snake_pipe" / "store"), expected)


def test_a_0_1_store_written_by_duckdb_2_is_migrated_through_an_export(tmp_path: Path) -> None:
    old = tmp_path / "old.duckdb"
    expected = legacy.write_v01_store(old)
    export = tmp_path / "old.duckdb-export"
    con = duckdb.connect(str(old), read_only=True)
    con.execute(f"EXPORT DATABASE '{export}' (FORMAT parquet)")
    con.close()
    legacy.pretend_written_by_duckdb_2(old)
    out = cli("store", "migrate", "--from", str(old), "--store", str(tmp_path / "new"))
    assert out.returncode == 3
    assert "EXPORT DATABASE" in out.stderr and f"--from {export}" in out.stderr
    out = cli("store", "migrate", "--from", str(export), "--store", str(tmp_path / "new"))
    assert out.returncode == 0, out.stderr
    legacy.assert_migrated(Store(tmp_path / "new"), expected)


def test_small_files_are_merged_as_they_pile_up(make_repo: MakeRepo, tmp_path: Path) -> None:
    """The watcher's way: one file per run. Past COMPACT_AT_FILES files in a table, the run
    that finishes merges them, and every answer stays the same."""
    from snake_pipe_core.store.maintenance import COMPACT_AT_FILES, table_files

    files = {f"m{i}/f{i}.js.ast.json": asts.dumps(asts.estree(1 + i % 4) | {"end": i})
             for i in range(COMPACT_AT_FILES + 6)}  # fmt: skip
    root = make_repo("w", files)
    store = Store(tmp_path / "s")
    settings = load_settings(env={}, workers=1)
    most = 0
    for rel in sorted(files):
        ingest_repository(root, store=store, settings=settings, paths=[rel])
        with store.connect(read_only=True) as con:
            most = max(most, max(table_files(con).values()))
    assert most <= COMPACT_AT_FILES  # never more than that many files in a table
    with store.connect(read_only=True) as con:
        assert table_files(con)["file_versions"] < COMPACT_AT_FILES // 2
    assert store.query("SELECT count(*) FROM extracted_files") == [(len(files),)]
    assert store.query("SELECT count(*) FROM runs WHERE status = 'succeeded'") == [(len(files),)]


def test_only_small_files_are_merged(make_repo: MakeRepo, tmp_path: Path) -> None:
    """A bulk ingest's batches are files of a good size: merging them cost time and memory
    at the end of every big ingest for no faster query. Only files below the size limit are
    merged, and they are counted against the threshold alone."""
    from snake_pipe_core.store.maintenance import compact, small_files, table_files

    files = {f"m{i}/f{i}.js.ast.json": asts.dumps(asts.estree(2) | {"end": i}) for i in range(12)}
    root = make_repo("w", files)
    store = Store(tmp_path / "s")
    settings = load_settings(env={}, workers=1)
    for rel in sorted(files):  # 12 one-file runs: below the threshold, nothing merged yet
        ingest_repository(root, store=store, settings=settings, paths=[rel])
    with store.connect(read_only=True) as con:
        before = table_files(con)
        sizes = con.execute(
            "SELECT max(data_file_size_bytes) FROM ducklake_list_files('snake', 'file_versions')"
        ).fetchall()[0][0]
        assert small_files(con, below=sizes + 1)["file_versions"] == before["file_versions"] == 12
        assert small_files(con, below=1)["file_versions"] == 0
    assert not compact(store, at_files=10, below=1)  # no file that small: none is merged
    with store.connect(read_only=True) as con:
        assert table_files(con) == before
    assert compact(store, at_files=10, below=sizes + 1)
    with store.connect(read_only=True) as con:
        assert table_files(con)["file_versions"] < 12
    assert store.query("SELECT count(*) FROM extracted_files") == [(len(files),)]
