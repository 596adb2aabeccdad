"""Issue 10 #1: a file replaced by a symlink to outside the root between discovery and the read
is never read. Deterministic swaps on the read path, then a real race during real ingests."""

import os
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from snake_pipe_core import Settings, Store, ingest_repository
from snake_pipe_core.analysis import AnalysisSettings, Analyzer, WorkItem
from snake_pipe_core.hashes import NEW_STORE_HASH, content_hasher
from snake_pipe_core.ingest.discovery import Rules, Walk
from snake_pipe_core.models import FileVerdict, Reason
from tests.conftest import MakeRepo
from tests.fixtures import asts

pytestmark = pytest.mark.integration

SECRET = asts.dumps(asts.clang())  # node types no repository file has (TranslationUnitDecl)
HASH = content_hasher(NEW_STORE_HASH)  # what a new store hashes with
SECRET_HASH = HASH(SECRET).hexdigest()


def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.js.ast.json"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_bytes(SECRET)
    return secret


def swap(path: Path, target: Path) -> None:
    """``ln -s target tmp && mv -T tmp path``: one atomic rename over the file."""
    tmp = path.with_name(path.name + ".swap")
    os.symlink(target, tmp)
    os.replace(tmp, path)


def swap_folder(path: Path, target: Path) -> None:
    os.rename(path, path.with_name(path.name + ".old"))
    os.symlink(target, path)


def discovered_then_read(root: Path, settings: Settings, changes: list[Callable[[], None]]
                         ) -> dict[str, FileVerdict]:  # fmt: skip
    """Walk, then change the tree, then read: the race's worst interleaving, made certain."""
    entries = list(Walk(str(root.resolve()), Rules(settings.discovery)).entries())
    for change in changes:
        change()
    analyzer = Analyzer(AnalysisSettings())
    return {
        e.path: analyzer.analyze_file(str(root.resolve()), WorkItem(e.path, e.size, e.dev, e.ino))
        for e in entries
        if e.problem is None and e.excluded_by is None
    }


def test_a_symlink_swapped_in_after_discovery_is_not_followed_out_of_the_root(
    make_repo: MakeRepo, settings: Settings, tmp_path: Path
) -> None:
    secret = outside(tmp_path)
    (tmp_path / "outside" / "d").mkdir()
    (tmp_path / "outside" / "d" / "c.js.ast.json").write_bytes(SECRET)
    files = {n: asts.dumps(asts.estree(i + 1)) for i, n in enumerate(
        ["a.js.ast.json", "b.js.ast.json", "c.js.ast.json", "d/c.js.ast.json", "e.js.ast.json"]
    )}  # fmt: skip
    root = make_repo(files=files)
    os.link(secret, tmp_path / "outside" / "hard")  # a hard link of the secret, same device
    verdicts = discovered_then_read(root, settings, [
        partial(swap, root / "a.js.ast.json", secret),          # the file: a link outside
        partial(swap_folder, root / "d", tmp_path / "outside" / "d"),  # a folder: a link
        partial(swap, root / "b.js.ast.json", root / "e.js.ast.json"),  # a link inside
        partial(os.replace, tmp_path / "outside" / "hard", root / "c.js.ast.json"),  # a hard link
    ])  # fmt: skip
    assert verdicts["a.js.ast.json"].reason is Reason.OUTSIDE_ROOT
    assert "outside the repository" in (verdicts["a.js.ast.json"].detail or "")
    assert verdicts["d/c.js.ast.json"].reason is Reason.CHANGED_DURING_READ
    assert verdicts["b.js.ast.json"].reason is Reason.CHANGED_DURING_READ
    assert verdicts["c.js.ast.json"].reason is Reason.CHANGED_DURING_READ
    for v in verdicts.values():
        assert v.content_hash != SECRET_HASH and (v.metadata is None or v.reason is None)
    assert verdicts["e.js.ast.json"].reason is None  # untouched files are read as ever


def test_a_symlink_inside_the_root_is_still_read(
    make_repo: MakeRepo, settings: Settings, tmp_path: Path
) -> None:
    root = make_repo(files={"real/a.js.ast.json": asts.dumps(asts.estree())})
    (root / "link.js.ast.json").symlink_to("real/a.js.ast.json")
    verdicts = discovered_then_read(root, settings, [])
    assert verdicts["link.js.ast.json"].reason is None
    assert verdicts["link.js.ast.json"].content_hash == verdicts["real/a.js.ast.json"].content_hash


def test_a_watched_path_through_a_linked_folder_is_not_followed(
    make_repo: MakeRepo, settings: Settings, tmp_path: Path
) -> None:
    """The watcher's paths go through the same walk: a path whose folder is a symlink out of
    the root is not discovered (a full walk never goes there either)."""
    outside(tmp_path)
    root = make_repo(files={"a.js.ast.json": asts.dumps(asts.estree())})
    (root / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    walk = Walk(str(root.resolve()), Rules(settings.discovery),
                subpaths=("linked/secret.js.ast.json", "a.js.ast.json"))  # fmt: skip
    assert [e.path for e in walk.entries()] == ["a.js.ast.json"]


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("workers", [1, 2])
def test_a_real_race_never_stores_the_outside_file(
    make_repo: MakeRepo, store: Store, settings: Settings, tmp_path: Path, workers: int
) -> None:
    """A thread keeps replacing files with symlinks to a file outside the root while real
    ingests run; whatever the interleaving, no row ever holds the outside file's content,
    and every file ends extracted with its own content or quarantined."""
    secret = outside(tmp_path)
    own = {f"d{i % 8}/f{i}.js.ast.json": asts.dumps(asts.estree(i % 7 + 1)) for i in range(400)}
    root = make_repo(files=own)
    own_hash = {p: HASH(b).hexdigest() for p, b in own.items()}
    raced = 0
    for round_no in range(6):
        for rel, data in own.items():  # every file regular again, with its own content
            path = root / rel
            if path.is_symlink():
                path.unlink()
            path.write_bytes(data)
        stop = threading.Event()

        def swapper(stop: threading.Event = stop, offset: int = round_no) -> None:
            names = sorted(own)
            i = offset
            while not stop.is_set():
                swap(root / names[(i * 37) % len(names)], secret)
                i += 1

        thread = threading.Thread(target=swapper, daemon=True)
        thread.start()
        try:
            ingest_repository(root, store=store, settings=settings, repo="repo", mode="full",
                              workers=workers, allow_mass_delete=True)  # fmt: skip
        finally:
            stop.set()
            thread.join()
        rows = store.query(
            "SELECT path, state, reason, detail, content_hash FROM manifest WHERE repo = 'repo'"
        )
        assert {r[0] for r in rows if not r[0].endswith(".swap")} == set(own)
        for path, state, reason, detail, content_hash in rows:
            assert content_hash != SECRET_HASH, (path, state)
            if path.endswith(".swap"):  # the swapper's own link, seen before its rename
                assert state != "extracted", path
            elif state == "extracted":
                assert content_hash == own_hash[path], path
            else:
                assert (state, reason) in {
                    ("quarantined", "outside_root"),
                    ("quarantined", "changed_during_read"),
                }, (path, state)
                raced += "after discovery" in (detail or "")
        stored = store.query(
            "SELECT count(*) FROM analyses WHERE content_hash = ? OR node_types LIKE ?",
            [SECRET_HASH, "%TranslationUnitDecl%"],
        )
        assert stored[0][0] == 0
    print(f"files caught between discovery and read over 6 rounds: {raced}")
