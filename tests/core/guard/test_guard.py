"""The mass-delete guard: its rules, the mount a root is on, what it remembers, and the runs
it refuses or lets through (real repositories, a real store)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snake_pipe_core import (
    IngestSummary,
    MassDeletionRefused,
    RepositoryUnavailable,
    Settings,
    Store,
    ingest_repository,
)
from snake_pipe_core.config import LimitSettings
from snake_pipe_core.guard import GuardState, RootIdentity, judge_diff, root_identity
from snake_pipe_core.guard.mounts import read_mounts
from tests.conftest import MakeRepo
from tests.fixtures import asts

LIMITS = LimitSettings()  # threshold 0.5, at least 20 files


def ingest(root: Path, store: Store, settings: Settings, **kwargs: object) -> IngestSummary:
    return ingest_repository(root, store=store, settings=settings, **kwargs)  # type: ignore[arg-type]


def files(prefix: str, n: int) -> dict[str, bytes]:
    doc = asts.estree
    return {f"{prefix}/f{i}.js.ast.json": asts.dumps(doc(i % 3) | {"end": i}) for i in range(n)}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("live", "gone", "fresh", "refused"),
    [
        (100, 100, 100, False),  # every file replaced: a branch switch
        (100, 60, 60, False),  # a folder renamed
        (100, 100, 4100, False),  # issue 7's beta: 4,100 new beside them
        (100, 100, 0, True),  # vanished
        (100, 60, 5, True),  # most gone, nearly nothing new
        (100, 49, 0, False),  # not most
        (19, 19, 0, False),  # too small to judge: may be emptied
    ],
)
def test_the_diff_is_judged_as_a_whole(live: int, gone: int, fresh: int, refused: bool) -> None:
    verdict = judge_diff("/r", live_before=live, gone=gone, fresh=fresh, limits=LIMITS)
    assert (verdict is not None) == refused
    if verdict is not None:
        assert verdict.kind == "vanished" and f"{gone} of {live} files are gone" in verdict.detail


@pytest.mark.unit
def test_the_mount_of_a_root(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
        "40 22 0:39 / /data rw - tmpfs tmpfs rw\n"
        "41 40 0:40 /exports/ast /data/my\\040ast rw shared:1 - nfs4 srv:/exports rw\n"
        "42 40 0:41 / /data/my\\040ast rw - tmpfs other rw\n"  # mounted over the one above
    )
    mounts = read_mounts(str(table))
    assert root_identity("/data/my ast/repo", mounts) == RootIdentity(
        "/data/my ast", "tmpfs", "other", "/"
    )
    assert root_identity("/data/x", mounts).source == "tmpfs"
    assert root_identity("/datax", mounts).mount_point == "/"
    nfs = RootIdentity("/data/my ast", "nfs4", "srv:/exports", "/exports/ast")
    # Mounted again after a reboot: another mount id and device, the same place.
    assert nfs.same_place(RootIdentity("/data/my ast", "nfs4", "srv:/exports", "/exports/ast", 7))
    assert not nfs.same_place(root_identity("/data/my ast/repo", mounts))


@pytest.mark.integration
def test_a_branch_switch_and_a_renamed_folder_are_not_refused(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo(files=files("main", 40))
    ingest(root, store, settings)
    shutil.rmtree(root / "main")  # every file replaced, while nothing watched
    for rel, data in files("other", 40).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    s = ingest(root, store, settings)
    assert (s.deleted, s.new) == (40, 40)
    (root / "other").rename(root / "renamed")
    s = ingest(root, store, settings)
    assert (s.deleted, s.new) == (40, 40)
    # Back to the first branch, its files committed by a run that did not finish the diff (a
    # run of some paths stands in for one killed after its commits): the whole diff that
    # follows finds them unchanged beside 40 files gone, and still counts them as fresh.
    shutil.rmtree(root / "renamed")
    for rel, data in files("main", 40).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    ingest(root, store, settings, paths=["main"])
    s = ingest(root, store, settings)
    assert (s.deleted, s.new, s.changed) == (40, 0, 0)
    assert GuardState(store.path).refusals() == []


@pytest.mark.integration
def test_a_vanished_tree_is_refused_and_the_refusal_stands_until_confirmed(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo(files=files("src", 30))
    ingest(root, store, settings)
    for p in sorted((root / "src").iterdir())[:25]:
        p.unlink()
    (root / "new.js.ast.json").write_bytes(asts.dumps(asts.estree(1)))
    for _ in range(2):
        with pytest.raises(MassDeletionRefused, match=r"25 of 3[01] files are gone .* 1 new"):
            ingest(root, store, settings)
    assert store.query("SELECT count(*) FROM ast_files WHERE state = 'deleted'") == [(0,)]
    refusal = GuardState(store.path).refusal("repo")
    assert refusal is not None and (refusal.kind, refusal.refusals) == ("vanished", 2)
    # A run of some paths does not answer a refusal of the whole diff…
    ingest(root, store, settings, paths=["new.js.ast.json"])
    assert GuardState(store.path).refusal("repo") is not None
    # …a confirmed one does.
    assert ingest(root, store, settings, allow_mass_delete=True).deleted == 25
    assert GuardState(store.path).refusals() == []


@pytest.mark.integration
def test_an_empty_root_is_refused_even_for_a_run_of_some_paths(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo(files=files("src", 30))
    ingest(root, store, settings)
    shutil.rmtree(root)
    root.mkdir()  # what an unmounted mount point looks like
    with pytest.raises(MassDeletionRefused, match="is empty, while the store holds 30"):
        ingest(root, store, settings, paths=["src"])
    assert store.query("SELECT count(*) FROM ast_files WHERE state = 'deleted'") == [(0,)]
    assert GuardState(store.path).refusal("repo").kind == "empty"  # type: ignore[union-attr]


@pytest.mark.integration
def test_a_root_on_another_mount_than_recorded_is_refused(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo(files=files("src", 30))
    ingest(root, store, settings)
    state = GuardState(store.path)
    here = root_identity(str(root.resolve()))
    assert state.root("repo").identity == here  # type: ignore[union-attr]
    # What was recorded while its disk was mounted: another file system at the root.
    disk = RootIdentity(str(root.resolve()), "ext4", "/dev/sdb1", "/")
    state.succeeded("repo", disk, 30, whole=True)
    with pytest.raises(MassDeletionRefused, match=r"is on .* not on /dev/sdb1 .* unmounted"):
        ingest(root, store, settings, paths=["src/f1.js.ast.json"])
    with pytest.raises(MassDeletionRefused):
        ingest(root, store, settings)
    assert state.refusal("repo").kind == "mount"  # type: ignore[union-attr]
    assert ingest(root, store, settings, allow_mass_delete=True).deleted == 0
    assert state.root("repo").identity == here and state.refusals() == []  # type: ignore[union-attr]


@pytest.mark.integration
def test_an_unavailable_root_is_recorded_and_a_later_run_clears_it(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo(files=files("src", 3))
    ingest(root, store, settings)
    root.rename(root.with_name("away"))
    with pytest.raises(RepositoryUnavailable):
        ingest(root, store, settings, repo="repo", paths=["src"])
    assert GuardState(store.path).refusal("repo").kind == "unavailable"  # type: ignore[union-attr]
    root.with_name("away").rename(root)
    ingest(root, store, settings, repo="repo", paths=["src"])  # answers all but "vanished"
    assert GuardState(store.path).refusals() == []


@pytest.mark.integration
def test_status_shows_a_refusal_and_watch_confirms_it(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo("alpha", files("src", 30))
    store = str(tmp_path / "s")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "snake_pipe_core.cli", *args, "--store",
                               store], capture_output=True, text=True, timeout=120)  # fmt: skip

    assert cli("ingest", str(root)).returncode == 0
    shutil.rmtree(root / "src")
    refused = cli("ingest", str(root))
    assert refused.returncode == 1 and "--allow-mass-delete" in refused.stderr
    table = cli("status")
    assert "REFUSED alpha: refused (empty) 1 time(s)" in table.stdout
    watching = cli("watch", "--status").stdout
    assert "no watcher runs" in watching and "REFUSED alpha: refused (empty)" in watching
    [row] = json.loads(cli("status", "--json").stdout)
    assert (row["repo"], row["extracted"], row["refused"]) == ("alpha", 30, "empty")
    assert row["refusal"]["refusals"] == 1 and row["refusal"]["confirmed_at"] is None
    confirmed = cli("watch", "--confirm-deletions", "alpha")
    assert confirmed.returncode == 0 and "deletions confirmed" in confirmed.stdout
    assert "deletions confirmed, applied at the next try" in cli("status").stdout
    assert cli("watch", "--confirm-deletions", "beta").returncode == 1
