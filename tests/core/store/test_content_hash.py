"""Which hash a store's ``content_hash`` is: BLAKE3 in a new store, sha256 kept in a store that
already held sha256 hashes (upgraded from schema version 1, or migrated from 0.1), never
both in one store."""

import hashlib
from pathlib import Path

import duckdb
import pytest
from blake3 import blake3

from snake_pipe_core import Store, connect_readonly, ingest_repository, load_settings
from snake_pipe_core.store import in_transaction
from tests.conftest import MakeRepo
from tests.fixtures import asts

pytestmark = pytest.mark.integration

HASHES = {
    "blake3": lambda b: blake3(b).hexdigest(),
    "sha256": lambda b: hashlib.sha256(b).hexdigest(),
}


def stored(store: Store, repo: str) -> dict[str, str]:
    rows = store.query(
        "SELECT path, content_hash FROM manifest WHERE repo = ? AND state = 'extracted'", [repo]
    )
    return dict(rows)


def analyses(store: Store) -> int:
    return int(store.query("SELECT count(*) FROM analyses")[0][0])


def ingest(root: Path, store: Store, workers: int = 1) -> None:
    settings = load_settings(env={}, store=store.path, workers=workers)
    summary = ingest_repository(root, store=store, settings=settings)
    assert summary.status == "succeeded"


def as_version_1(store: Store) -> None:
    """Turn the store back into what the release before ``store_settings`` left: schema
    version 1, no record of its hash."""

    def downgrade(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("DROP TABLE store_settings")
        con.execute("DELETE FROM schema_migrations WHERE version > 1")

    with store.connect() as con:
        in_transaction(con, downgrade, what="downgrading")
    store.close()


def record(store: Store, name: str) -> None:
    def set_hash(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            "INSERT INTO store_settings VALUES ('content_hash', ?, now()::TIMESTAMP)", [name]
        )

    with store.connect() as con:
        in_transaction(con, set_hash, what="setting the hash")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_new_store_stores_the_blake3_of_each_files_bytes(
    make_repo: MakeRepo, tmp_path: Path, workers: int
) -> None:
    files = {f"d/f{i}.js.ast.json": asts.dumps(asts.estree(i % 5 + 1)) for i in range(80)}
    root = make_repo("r", files)
    store = Store(tmp_path / "store")
    ingest(root, store, workers)
    assert store.content_hash() == "blake3"
    assert stored(store, "r") == {p: HASHES["blake3"](b) for p, b in files.items()}
    # Identical contents share one analysis under the one hash.
    assert analyses(store) == len(set(files.values()))


def test_a_store_of_sha256_hashes_keeps_hashing_with_sha256_after_the_upgrade(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    """A store written by the release before: its files' hashes are sha256. After the
    upgrade it says so, and a copy of a known file under a new path is matched to its
    analysis by sha256 instead of being analysed again under another hash."""
    one, two = asts.dumps(asts.estree(3)), asts.dumps(asts.babel())
    root = make_repo("r", {"a.js.ast.json": one, "b.js.ast.json": two})
    store = Store(tmp_path / "store")
    store.open()
    record(store, "sha256")  # what the release before hashed with
    ingest(root, store)
    assert stored(store, "r") == {"a.js.ast.json": HASHES["sha256"](one),
                                  "b.js.ast.json": HASHES["sha256"](two)}  # fmt: skip
    as_version_1(store)

    store = Store(tmp_path / "store")
    store.open()  # the writer upgrades it
    assert store.content_hash() == "sha256"
    (root / "copy.js.ast.json").write_bytes(one)
    three = asts.dumps(asts.estree(7))
    (root / "new.js.ast.json").write_bytes(three)
    before = analyses(store)
    ingest(root, store)
    hashes = stored(store, "r")
    assert hashes["copy.js.ast.json"] == hashes["a.js.ast.json"] == HASHES["sha256"](one)
    assert hashes["new.js.ast.json"] == HASHES["sha256"](three)
    assert analyses(store) == before + 1  # the copy reused the analysis of a.js


def test_an_empty_store_of_the_release_before_takes_blake3(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    store.open()
    as_version_1(store)
    store = Store(tmp_path / "store")
    store.open()
    assert store.content_hash() == "blake3"


def test_plain_sql_says_which_hash(make_repo: MakeRepo, tmp_path: Path) -> None:
    """What the README tells an analyst to run, on the README's plain DuckDB connection."""
    root = make_repo("r", {"a.js.ast.json": asts.dumps(asts.estree(2))})
    store = Store(tmp_path / "store")
    ingest(root, store)
    store.close()
    con = connect_readonly(tmp_path / "store")
    assert con.execute(
        "SELECT value FROM store_settings WHERE name = 'content_hash'"
    ).fetchall() == [("blake3",)]
