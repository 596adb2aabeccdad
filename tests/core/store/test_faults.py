"""Issue 10 #2 and #3: a damaged store (catalog, data files, the guard's state) and a full disk
end `snake-pipe ingest` and `status` with exit 3 and a message saying what happened and what
to do, never a traceback; after space is freed, a re-run completes as a clean ingest would."""

import glob
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from snake_pipe_core import Store, StoreDamaged
from tests.conftest import MakeRepo
from tests.fixtures import asts, disks
from tests.fixtures.disks import can_mount, fill

pytestmark = pytest.mark.integration


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def corpus(n: int, start: int = 0) -> dict[str, bytes]:
    return {
        f"d{i % 10}/f{i}.js.ast.json": asts.dumps(asts.estree(i % 9 + 1))
        for i in range(start, start + n)
    }


def settle(store: Path) -> None:
    """Fold the catalog's write-ahead log into it, as a quiet store on disk would be."""
    db = sqlite3.connect(store / "catalog.sqlite")
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def halve(path: str) -> None:
    os.truncate(path, os.path.getsize(path) // 2)


def garble(path: str) -> None:
    Path(path).write_bytes(os.urandom(os.path.getsize(path)))


def each(damage: Callable[[str], None], paths: list[str]) -> None:
    for path in paths:
        damage(path)


def data_files(store: Path) -> list[str]:
    return sorted(glob.glob(str(store / "data" / "**" / "*.parquet"), recursive=True))


def biggest_manifest_file(store: Path) -> str:
    """The manifest's biggest data file: one the catalog surely still lists."""
    return max((f for f in data_files(store) if "file_versions" in f), key=os.path.getsize)


DAMAGE: dict[str, Callable[[Path], None]] = {
    "catalog truncated to half": lambda s: halve(str(s / "catalog.sqlite")),
    "catalog overwritten": lambda s: garble(str(s / "catalog.sqlite")),
    "data files truncated": lambda s: each(halve, data_files(s)),
    "data files overwritten": lambda s: each(garble, data_files(s)),
    "one manifest file truncated": lambda s: halve(biggest_manifest_file(s)),
    "a data file missing": lambda s: os.unlink(biggest_manifest_file(s)),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_store_exits_3_and_says_what_to_do(
    make_repo: MakeRepo, tmp_path: Path, damage: str
) -> None:
    root = make_repo(files=corpus(120))
    store = tmp_path / "store"
    first = cli("ingest", str(root), "--store", str(store), "--workers", "1")
    assert first.returncode == 0, first.stderr
    settle(store)
    DAMAGE[damage](store)
    for args in (("ingest", str(root)), ("ingest", str(root), "--json"), ("status",)):
        out = cli(*args, "--store", str(store))
        assert out.returncode == 3, (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr, out.stderr
        assert str(store) in out.stderr, out.stderr
        if args[0] == "ingest":  # status words its own reading failures (cli/status.py)
            assert "damaged" in out.stderr and "backup" in out.stderr, out.stderr
        if "--json" in args:  # a script reading stdout learns it too
            doc = json.loads(out.stdout)
            assert (doc["kind"], doc["exit_code"]) == ("store", 3) and "damaged" in doc["error"]


def test_the_store_api_raises_store_damaged(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo(files=corpus(10))
    store = tmp_path / "store"
    assert cli("ingest", str(root), "--store", str(store)).returncode == 0
    settle(store)
    halve(str(store / "catalog.sqlite"))
    with pytest.raises(StoreDamaged, match="damaged"):
        Store(store).open()


def test_a_damaged_guard_state_is_said_plainly(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo(files=corpus(10))
    store = tmp_path / "store"
    assert cli("ingest", str(root), "--store", str(store)).returncode == 0
    garble(str(store / "guard.sqlite"))
    out = cli("status", "--store", str(store))
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode in (0, 3), out.stderr
    assert "guard" in out.stderr, out.stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if not can_mount():
        pytest.skip("needs root and a tmpfs mount, which this host does not allow")
    with disks.small_disk(tmp_path / "disk") as disk:
        yield disk


def manifest(store: Path) -> list[tuple[object, ...]]:
    out = cli(
        "sql",
        "--store",
        str(store),
        "--json",
        "SELECT path, state, reason, content_hash, size_bytes FROM manifest ORDER BY path",
    )
    assert out.returncode == 0, out.stderr  # fmt: skip
    return [tuple(sorted(row.items())) for row in json.loads(out.stdout)]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_full_disk_exits_3_and_a_rerun_after_freeing_space_completes(
    make_repo: MakeRepo, tmp_path: Path, small_disk: Path
) -> None:
    root = make_repo(files=corpus(200))
    store = small_disk / "store"
    assert cli("ingest", str(root), "--store", str(store)).returncode == 0
    for rel, data in corpus(1500, start=200).items():
        (root / rel).write_bytes(data)
    filler = fill(small_disk, leave=8192)
    out = cli("ingest", str(root), "--store", str(store), "--workers", "2")
    assert out.returncode == 3, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr, out.stderr
    assert "no space left on device at " + str(store) in out.stderr, out.stderr
    assert "free space and re-run; nothing committed was lost" in out.stderr
    status = cli("status", "--store", str(store))  # what was committed is still readable
    assert status.returncode in (0, 3) and "Traceback" not in status.stderr, status.stderr
    filler.unlink()
    again = cli("ingest", str(root), "--store", str(store))
    assert again.returncode == 0, again.stderr
    clean = tmp_path / "clean"
    assert cli("ingest", str(root), "--store", str(clean)).returncode == 0
    assert manifest(store) == manifest(clean)


def test_a_bare_disk_io_error_on_a_full_disk_is_said_as_no_space(
    small_disk: Path, tmp_path: Path
) -> None:
    """SQLite says only "disk I/O error" when it cannot create a catalog's -wal and -shm
    files on a full disk (an open with no other process holding them); where the files
    are and its free space tell what it means."""
    import duckdb

    from snake_pipe_core.store.faults import as_store_error, is_full

    bare = duckdb.IOException('Failed to prepare query "SELECT 1": disk I/O error')
    filler = fill(small_disk, leave=8192)
    assert is_full(bare, small_disk)
    fault = as_store_error(bare, str(small_disk / "store"), folder=small_disk)
    assert fault is not None and str(fault).startswith(f"no space left on device at {small_disk}")
    filler.unlink()
    assert not is_full(bare, small_disk)  # space again: an I/O error, not a full disk
    assert not is_full(bare, tmp_path) and not is_full(bare)  # no folder: nothing to tell


def test_a_schema_version_that_cannot_be_read_is_a_store_error() -> None:
    """A reader whose catalog has no DuckLake tables to read yet (one an ingest is creating
    this very moment, say) is told so as a StoreError, not DuckDB's bare exception."""
    import duckdb

    from snake_pipe_core.errors import StoreError
    from snake_pipe_core.store.location import StoreLocation
    from snake_pipe_core.store.store import _check_schema

    con = duckdb.connect()  # no DuckLake attached: its metadata tables cannot be found
    try:
        with pytest.raises(StoreError, match=r"cannot read the schema version .* try again"):
            _check_schema(con, StoreLocation.parse("/nowhere/store"))
    finally:
        con.close()
