import hashlib
import pickle

import pytest
from blake3 import blake3

from snake_pipe_core import Store
from snake_pipe_core.hashes import KnownHashes
from tests.conftest import MakeRepo
from tests.fixtures import asts

pytestmark = pytest.mark.unit


def digests(n: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]


def test_membership_by_hex_or_raw_digest_and_pickling() -> None:
    known = KnownHashes.from_hex(digests(500))
    again = pickle.loads(pickle.dumps(known))
    assert len(again) == 500
    for h in digests(500):
        assert h in again and bytes.fromhex(h) in again
    for h in digests(600)[500:]:
        assert h not in again and bytes.fromhex(h) not in again
    assert "not hex" not in known and b"short" not in known and 42 not in known
    assert "x" not in KnownHashes()


def test_from_the_store_all_or_among(make_repo: MakeRepo, tmp_path: object) -> None:
    from snake_pipe_core import ingest_repository, load_settings

    files = {f"f{i}.js.ast.json": asts.dumps(asts.estree(i)) for i in range(5)}
    root = make_repo("r", files)
    store = Store(root.parent.parent / "s.duckdb")
    ingest_repository(root, store=store, settings=load_settings(env={}, workers=1))
    assert store.content_hash() == "blake3"  # a new store
    stored = [blake3(b).hexdigest() for b in files.values()]
    everything = store.known_hashes()
    assert len(everything) == 5 and all(h in everything for h in stored)
    some = store.known_hashes([stored[0], digests(1)[0]])
    assert len(some) == 1 and stored[0] in some
