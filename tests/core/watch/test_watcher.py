"""The watcher, on real inotify and real files: what it records, what it ignores, how it says
it was blind, and — through ``snake-pipe watch --ingest`` — that the store ends equal to a
fresh full ingest of the same trees after every scenario of issue 4."""

import errno
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    FileMovedEvent,
)
from watchdog.observers.inotify_c import InotifyConstants as IN

from snake_pipe_core import Settings, Store, ingest_repository, load_settings
from snake_pipe_core.config import DiscoverySettings, WatchSettings
from snake_pipe_core.errors import StoreError
from snake_pipe_core.ingest.discovery import Rules
from snake_pipe_core.journal import Change, ChangeJournal, FileChange
from snake_pipe_core.journal.local import run_ingest_loop
from snake_pipe_core.store.lock import repo_lock
from snake_pipe_core.watch.events import COOKIE_PREFIX, PendingChanges, RepoEventHandler
from snake_pipe_core.watch.inotify import QueueOverflowEvent, _Inotify
from snake_pipe_core.watch.service import serve, spawn_watcher
from snake_pipe_core.watch.watcher import Watcher
from tests.conftest import MakeRepo
from tests.fixtures import asts

C, D, R = Change.CHANGED, Change.DELETED, Change.RESCAN


# -- helpers -------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, every: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def ast(n: int = 2) -> bytes:
    return asts.dumps(asts.estree(n))


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class Recorder:
    """Iterates a real :class:`Watcher` in a thread and keeps every non-empty change set."""

    def __init__(self, repos: Any, **kwargs: Any) -> None:
        kwargs = {"settle_s": 0.05, "max_delay_s": 0.5, "self_check_s": 300.0, **kwargs}
        self.watcher = Watcher(repos, **kwargs)
        self.batches: list[set[FileChange]] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.watcher:
            for batch in self.watcher:
                with self.lock:
                    self.batches.append(batch)

    def __enter__(self) -> "Recorder":
        self.thread.start()
        assert self.wait(lambda seen: any(c.change is R for c in seen)), "no start-up rescan"
        self.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        self.watcher.stop()
        self.thread.join(15)
        assert not self.thread.is_alive()

    def seen(self) -> set[tuple[Change, str, str | None]]:
        with self.lock:
            return {(c.change, c.repo, c.path) for b in self.batches for c in b}

    def clear(self) -> None:
        with self.lock:
            self.batches.clear()

    def wait(self, predicate: Callable[[set[FileChange]], bool], timeout: float = 10) -> bool:
        def check() -> bool:
            with self.lock:
                return predicate({c for b in self.batches for c in b})

        return wait_for(check, timeout)

    def settle(self, quiet: float = 0.4) -> set[tuple[Change, str, str | None]]:
        """Wait until nothing new arrives for ``quiet`` seconds; what was seen."""
        last = -1
        while True:
            with self.lock:
                n = len(self.batches)
            if n == last:
                return self.seen()
            last = n
            time.sleep(quiet)


def snapshot(store: Store, repo: str) -> dict[str, Any]:
    """The store's views for a repository, without history (deleted rows) or timestamps."""
    q = store.query
    return {
        "files": q("SELECT path, state, reason, size_bytes, mtime_ns, content_hash, language, "
                   "format FROM ast_files WHERE repo = ? AND state <> 'deleted' ORDER BY path",
                   [repo]),
        "extracted": q("SELECT * EXCLUDE (last_seen) FROM extracted_files WHERE repo = ? "
                       "ORDER BY path", [repo]),
        "quarantined": q("SELECT path, reason, detail FROM quarantined_files WHERE repo = ? "
                         "ORDER BY path", [repo]),
    }  # fmt: skip


_refs = iter(range(1_000_000))


def fresh_ingest(tmp_path: Path, repos: dict[str, Path]) -> dict[str, Any]:
    """What a fresh full ingest of the trees as they are now puts in a new store."""
    ref = Store(tmp_path / f"reference-{next(_refs)}.duckdb")
    settings = load_settings(env={}, workers=1)
    for slug, root in repos.items():
        ingest_repository(root, store=ref, settings=settings, repo=slug)
    return {slug: snapshot(ref, slug) for slug in repos}


def assert_store_matches_disk(
    store: Store, tmp_path: Path, repos: dict[str, Path], timeout: float = 30
) -> None:
    expected = fresh_ingest(tmp_path, repos)
    got: dict[str, Any] = {}

    def equal() -> bool:
        nonlocal got
        try:
            got = {slug: snapshot(store, slug) for slug in repos}
        except StoreError:
            return False
        return got == expected

    if not wait_for(equal, timeout, every=0.2):
        for slug in repos:
            for view in ("files", "extracted", "quarantined"):
                assert got.get(slug, {}).get(view) == expected[slug][view], (slug, view)


def watch_settings(tmp_path: Path, repos: dict[str, Path], **watch: Any) -> Settings:
    tuning = {"settle_s": 0.05, "max_delay_s": 0.5, "heartbeat_s": 0.2, "self_check_s": 300.0}
    return load_settings(
        env={},
        store=tmp_path / "store" / "watched.duckdb",
        workers=1,
        repos=[{"name": slug, "path": root} for slug, root in repos.items()],
        watch=WatchSettings(**{**tuning, **watch}),
    )


@contextmanager
def watching(settings: Settings) -> Iterator[Store]:
    """``snake-pipe watch --ingest`` in a thread of this process."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            serve(settings, stop, ingest=True)
        except BaseException as e:  # reported by the test
            errors.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield Store(settings.store)
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive() and not errors, errors


# -- units: the pending set, the rules, the overflow ----------------------------------------


@pytest.mark.unit
def test_a_burst_is_yielded_once_it_settles_and_at_least_every_max_delay() -> None:
    pending = PendingChanges(max_paths=100)
    t0 = time.monotonic()
    pending.add("r", "a.json", C)
    assert pending.wait(0.1, 5.0, timeout=5) == {FileChange(C, "r", "a.json")}
    assert 0.1 <= time.monotonic() - t0 < 0.5
    assert pending.wait(0.1, 5.0, timeout=0.05) == set()  # nothing: times out empty

    stop = threading.Event()

    def never_ending() -> None:
        i = 0
        while not stop.is_set():
            pending.add("r", f"f{i}.json", C)
            i += 1
            time.sleep(0.01)

    writer = threading.Thread(target=never_ending)
    writer.start()
    try:
        t0 = time.monotonic()
        first = pending.wait(0.2, 0.5, timeout=5)
        assert first and 0.45 <= time.monotonic() - t0 < 1.5  # the cap, not the settle
        assert pending.wait(0.2, 0.5, timeout=5)
    finally:
        stop.set()
        writer.join()


@pytest.mark.unit
def test_past_the_cap_a_repository_becomes_one_rescan_and_folders_cover_their_files() -> None:
    pending = PendingChanges(max_paths=4)  # held paths, before folders fold their files
    for p in ("d/a.json", "d/b.json", "d", "x.json"):
        pending.add("small", p, C)
    for i in range(10):
        pending.add("big", f"f{i}.json", C)
    pending.add("big", "late.json", C)  # ignored: a rescan is already pending
    assert pending.wait(0.01, 1, timeout=1) == {
        FileChange(C, "small", "d"),
        FileChange(C, "small", "x.json"),
        FileChange(R, "big"),
    }
    assert pending.paths == {} and pending.rescans == set()
    for i in range(10):  # many paths in few top-level folders: coarsened, not a rescan
        pending.add("deep", f"out/d{i}/f.json", D)
    pending.add("deep", "src/a.json", C)
    assert pending.wait(0.01, 1, timeout=1) == {
        FileChange(C, "deep", "out"),
        FileChange(C, "deep", "src"),
    }


@pytest.mark.unit
def test_the_handler_applies_discovery_rules(tmp_path: Path) -> None:
    pending = PendingChanges(max_paths=100)
    root = str(tmp_path)
    h = RepoEventHandler("r", root, Rules(DiscoverySettings()), pending)

    def p(rel: str) -> str:
        return os.path.join(root, rel)

    for event in [
        FileClosedEvent(p("src/a.js.ast.json")),
        FileClosedEvent(p("src/a.js.ast.json.tmp")),  # editor temp file
        FileClosedEvent(p("src/.#a.js.ast.json")),
        FileClosedEvent(p("package.json")),  # non-AST JSON
        FileClosedEvent(p("README.md")),  # not included
        FileClosedEvent(p("node_modules/x/y.json")),  # pruned folder
        FileClosedEvent(p("src/.git/z.json")),
        FileMovedEvent(p("src/b.json.tmp"), p("src/b.json")),  # atomic save
        FileMovedEvent(p("src/c.json"), ""),  # moved out of the tree
        FileMovedEvent("", p("src/d.json")),  # moved in
        DirMovedEvent(p("old"), p("new")),
        FileMovedEvent(p("old/e.json"), p("new/e.json"), is_synthetic=True),
        FileDeletedEvent(p("f.json")),
        DirDeletedEvent(p("gone")),
        DirCreatedEvent(p("made")),
        DirCreatedEvent(p(".venv")),  # pruned
        DirCreatedEvent(p(COOKIE_PREFIX + "1-1")),  # the self-check, never a change
    ]:
        h.dispatch(event)
    assert pending.wait(0.01, 1, timeout=1) == {
        FileChange(C, "r", "src/a.js.ast.json"),
        # excluded files are recorded (the store lists them with their rule), editor temp
        # files only when they go away
        FileChange(C, "r", "package.json"),
        FileChange(C, "r", "README.md"),
        FileChange(D, "r", "src/b.json.tmp"),
        FileChange(C, "r", "src/b.json"),
        FileChange(D, "r", "src/c.json"),
        FileChange(C, "r", "src/d.json"),
        FileChange(D, "r", "old"),
        FileChange(C, "r", "new"),
        FileChange(D, "r", "f.json"),
        FileChange(D, "r", "gone"),
        FileChange(C, "r", "made"),
    }
    h.dispatch(DirDeletedEvent(root))  # the root itself went away
    assert pending.wait(0.01, 1, timeout=1) == {FileChange(R, "r")}
    h.dispatch(QueueOverflowEvent(root))  # events lost: the watcher rebuilds, then rescans
    assert pending.take_rebuilds() == {"r"}


@pytest.mark.unit
def test_a_queue_overflow_is_reported_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    (tmp_path / "node_modules" / "pkg").mkdir(parents=True)
    overflows: list[int] = []
    rules = Rules(DiscoverySettings())
    root = os.fsencode(tmp_path)

    def prune(path: bytes) -> bool:
        rel = os.fsdecode(path[len(root) + 1 :])
        return rules.prune(rel.rsplit("/", 1)[-1], rel)

    ino = _Inotify(
        root, recursive=True, event_mask=IN.IN_CLOSE_WRITE | IN.IN_CREATE, prune=prune,
        on_overflow=lambda: overflows.append(1),
    )  # fmt: skip
    try:
        assert sorted(ino._wd_for_path) == [root, root + b"/sub"]  # pruned folders unwatched
        wd = ino._wd_for_path[root]
        name = b"a.json\0\0"
        buffer = struct.pack("iIII", -1, IN.IN_Q_OVERFLOW, 0, 0) + struct.pack(
            "iIII", wd, IN.IN_CLOSE_WRITE, 0, len(name)
        ) + name  # fmt: skip
        events = ino._events_from_buffer(buffer)
        assert overflows == [1]
        assert [e.src_path for e in events] == [root + b"/a.json"]
    finally:
        ino.close()


@pytest.mark.unit
def test_the_engine_imports_without_watchdog() -> None:
    code = (
        "import sys, snake_pipe_core, snake_pipe_core.cli, snake_pipe_core.journal, "
        "snake_pipe_core.journal.local, snake_pipe_core.watch.service, snake_pipe_core.guard\n"
        "assert not [m for m in sys.modules if m.startswith('watchdog')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # inotify is Linux-only


# -- the journal consumer ----------------------------------------------------------------------


@pytest.mark.integration
def test_the_loop_waits_for_a_run_in_progress_and_skips_unconfigured_repositories(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    root = make_repo("r", {"a.js.ast.json": ast()})
    settings = watch_settings(tmp_path, {"r": root})
    store = Store(settings.store_location)
    ingest_repository(root, store=store, settings=settings, repo="r")
    write(root / "b.js.ast.json", ast(3))
    stop = threading.Event()
    with ChangeJournal(settings.journal_path) as journal:
        journal.append([FileChange(C, "r", "b.js.ast.json"), FileChange(C, "unknown", "x.json")])
        with repo_lock(store.path, "r"):  # another run of the repository is in progress
            loop = threading.Thread(target=run_ingest_loop, args=(settings, journal, stop),
                                    kwargs={"store": store})  # fmt: skip
            loop.start()
            time.sleep(0.5)
            assert journal.pending() == 2  # not applied, not dropped
        try:
            assert wait_for(lambda: journal.pending() == 0, timeout=15)
        finally:
            stop.set()
            loop.join(15)
    assert store.query("SELECT count(*) FROM extracted_files WHERE path = 'b.js.ast.json'")[0][0]
    assert store.query("SELECT count(*) FROM ast_files WHERE repo = 'unknown'") == [(0,)]


# -- the iterator on real inotify ------------------------------------------------------------


def _inotify_masks() -> dict[str, list[int]]:
    """fd -> the mask of each inotify watch this process holds (from /proc)."""
    masks: dict[str, list[int]] = {}
    for fd in os.listdir("/proc/self/fdinfo"):
        try:
            lines = Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines()
        except OSError:
            continue
        watches = [ln for ln in lines if ln.startswith("inotify wd:")]
        if watches:
            masks[fd] = [int(ln.split("mask:")[1].split()[0], 16) for ln in watches]
    return masks


@pytest.mark.integration
def test_the_kernel_is_asked_only_for_the_events_that_matter(make_repo: MakeRepo) -> None:
    root = make_repo("r")
    (root / ".git" / "objects" / "ab").mkdir(parents=True)
    (root / "node_modules" / "left-pad").mkdir(parents=True)
    before = _inotify_masks()
    with Recorder({"r": root}):
        ours = [m for fd, ms in _inotify_masks().items() if fd not in before for m in ms]
    folders = [d for d, _, _ in os.walk(root) if ".git" not in d and "node_modules" not in d]
    assert len(ours) == len(folders)  # one watch per folder, none in pruned ones
    wanted = IN.IN_CLOSE_WRITE | IN.IN_MOVED_FROM | IN.IN_MOVED_TO | IN.IN_DELETE | IN.IN_CREATE
    reads = IN.IN_OPEN | IN.IN_ACCESS | IN.IN_CLOSE_NOWRITE | IN.IN_MODIFY | IN.IN_ATTRIB
    for mask in ours:
        assert mask & wanted == wanted and not mask & reads, hex(mask)


@pytest.mark.integration
def test_what_the_watcher_records(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo("r")
    outside = tmp_path / "outside"
    outside.mkdir()
    with Recorder({"r": root}) as rec:
        # reads never reach the watcher
        for p in root.rglob("*.json"):
            p.read_bytes()
        # a file written slowly counts once, when it is closed
        with (root / "slow.js.ast.json").open("wb") as f:
            for chunk in (b'{"type": "Program", ', b'"body": [], ', b'"sourceType": "module"}'):
                f.write(chunk)
                f.flush()
                time.sleep(0.3)
            assert rec.seen() == set()
        assert rec.wait(lambda s: FileChange(C, "r", "slow.js.ast.json") in s)
        rec.clear()
        # an atomic save: the temp file's writes are filtered, its rename recorded, the
        # destination changed
        write(root / "src" / "app.js.ast.json.tmp", ast(5))
        os.replace(root / "src" / "app.js.ast.json.tmp", root / "src" / "app.js.ast.json")
        write(outside / "t.json", ast(6))  # a temp file outside the tree, renamed in
        os.replace(outside / "t.json", root / "src" / "types.ts.ast.json")
        write(root / "node_modules" / "x.json", b"{}")
        write(root / "package.json", b"{}")
        assert rec.settle() == {
            (D, "r", "src/app.js.ast.json.tmp"),
            (C, "r", "src/app.js.ast.json"),
            (C, "r", "src/types.ts.ast.json"),
            (C, "r", "package.json"),
        }
        rec.clear()
        # folders: created after start (with files made before its watch existed), moved
        # within, out of and into the tree, deleted
        (root / "new" / "deep").mkdir(parents=True)
        write(root / "new" / "deep" / "a.json", ast())
        assert rec.wait(lambda s: FileChange(C, "r", "new") in s)
        write(root / "new" / "deep" / "b.json", ast())
        os.rename(root / "py", root / "python")
        shutil.move(root / "go", outside / "go")
        (outside / "incoming" / "sub").mkdir(parents=True)
        os.rename(outside / "incoming", root / "incoming")
        shutil.rmtree(root / "rust")
        assert rec.settle() >= {
            (C, "r", "new/deep/b.json"),
            (D, "r", "py"),
            (C, "r", "python"),
            (D, "r", "go"),
            (C, "r", "incoming"),
            (D, "r", "rust"),
        }
        rec.clear()
        # the folders that arrived are watched: changes inside them are seen
        write(root / "incoming" / "sub" / "c.json", ast())
        write(root / "python" / "pkg" / "d.json", ast())
        os.unlink(root / "python" / "pkg" / "mod.py.ast.json")
        assert rec.settle() == {
            (C, "r", "incoming/sub/c.json"),
            (C, "r", "python/pkg/d.json"),
            (D, "r", "python/pkg/mod.py.ast.json"),
        }


@pytest.mark.integration
def test_the_self_check_rebuilds_a_dead_watch_and_rescans(make_repo: MakeRepo) -> None:
    root = make_repo("r")
    with Recorder({"r": root}, self_check_s=0.3, self_check_timeout_s=0.5) as rec:
        time.sleep(1.0)  # cookies come back: no rescan while all is well
        assert rec.seen() == set()
        assert not any(p.name.startswith(COOKIE_PREFIX) for p in root.iterdir())
        observer = rec.watcher._observer
        assert observer is not None
        observer._emitter_for_watch[rec.watcher._watches["r"]].stop()  # blind, silently
        assert rec.wait(lambda s: FileChange(R, "r") in s, timeout=5)
        rec.clear()
        write(root / "after.json", ast())
        assert rec.wait(lambda s: FileChange(C, "r", "after.json") in s)


@pytest.mark.integration
def test_out_of_inotify_watches_it_rescans_at_each_self_check_until_it_can_watch(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo("r")

    def no_watches(self: _Inotify, path: bytes, mask: int, *, recursive: bool) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(_Inotify, "_add_dir_watch", no_watches)  # no system-wide sysctl
    fds = len(os.listdir("/proc/self/fd"))
    rec = Recorder({"r": root}, self_check_s=0.2)
    rec.thread.start()
    try:
        assert rec.wait(lambda _: len(rec.batches) >= 3, timeout=10)  # a rescan each time
        assert all(b == {FileChange(R, "r")} for b in rec.batches)
        assert len(os.listdir("/proc/self/fd")) <= fds + 2  # failed attempts leak nothing
        monkeypatch.undo()
        rec.clear()
        time.sleep(0.5)  # the next self-check sets the watch up
        write(root / "now.json", ast())
        assert rec.wait(lambda s: FileChange(C, "r", "now.json") in s)
    finally:
        rec.__exit__()


@pytest.mark.integration
def test_repositories_that_appear_later_are_watched_and_rescanned(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    one = make_repo("one")
    two = tmp_path / "repos" / "two"  # not there yet
    repos = {"one": one, "two": two}
    with Recorder(lambda: dict(repos), self_check_s=0.2) as rec:
        two.mkdir()
        repos["three"] = make_repo("three")
        assert rec.wait(lambda s: {FileChange(R, "two"), FileChange(R, "three")} <= s)
        rec.clear()
        write(two / "x.json", ast())
        write(repos["three"] / "y.json", ast())
        assert rec.wait(
            lambda s: {FileChange(C, "two", "x.json"), FileChange(C, "three", "y.json")} <= s
        )


# -- the store follows the disk (watch --ingest, in this process) -----------------------------


@pytest.mark.integration
def test_file_and_folder_operations_end_with_the_store_equal_to_the_disk(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    one = make_repo("one")
    two = make_repo("two", {f"sub/f{i}.js.ast.json": ast(i % 4) for i in range(20)})
    repos = {"one": one, "two": two}
    outside = tmp_path / "outside"
    (outside / "incoming" / "deeper").mkdir(parents=True)
    write(outside / "incoming" / "deeper" / "in.js.ast.json", ast(3))
    settings = watch_settings(tmp_path, repos)
    with watching(settings) as store:
        assert_store_matches_disk(store, tmp_path, repos)  # the start-up rescan
        write(one / "a.js.ast.json", ast(1))  # new
        write(one / "src" / "app.js.ast.json", ast(9))  # rewritten
        write(one / "src" / "types.ts.ast.json.tmp", ast(8))  # atomic save
        os.replace(one / "src" / "types.ts.ast.json.tmp", one / "src" / "types.ts.ast.json")
        os.unlink(one / "native" / "main.c.ast.json")  # deleted
        os.rename(one / "py" / "pkg" / "mod.py.ast.json", one / "py" / "pkg" / "m2.py.ast.json")
        os.rename(one / "go", one / "golang")  # folder renamed
        shutil.rmtree(one / "rust")  # folder deleted
        write(one / "bad.js.ast.json", b'{"type": "Program", "body": [')  # quarantined
        (one / "later" / "a" / "b").mkdir(parents=True)  # folder made after start
        write(one / "later" / "a" / "b" / "x.js.ast.json", ast(2))
        write(one / ".#lock", b"")  # editor litter, gone again
        write(one / os.fsdecode(b"caf\xe9.js.ast.json"), ast(7))  # a name that is not UTF-8
        os.unlink(one / ".#lock")
        shutil.move(two / "sub", outside / "sub")  # moved out of the tree
        os.rename(outside / "incoming", two / "incoming")  # moved into it
        assert_store_matches_disk(store, tmp_path, repos)
        write(two / "incoming" / "deeper" / "later.js.ast.json", ast(4))  # inside a moved-in one
        write(one / "later" / "a" / "b" / "y.js.ast.json", ast(5))
        assert_store_matches_disk(store, tmp_path, repos)
    with ChangeJournal(settings.journal_path) as j:  # consumed, compacted, clean stop
        assert j.pending() == 0 and j.compacted_upto() == j.last_seq() > 0
        assert j.watcher_status() is None


@pytest.mark.integration
def test_cp_r_of_a_deep_tree(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo("r", {"keep.js.ast.json": ast()})
    tree = tmp_path / "tree"
    for i in range(300):
        depth = "/".join(f"d{j}" for j in range(i % 9))
        write(tree / depth / f"f{i}.js.ast.json", ast(i % 5))
    with watching(watch_settings(tmp_path, {"r": root})) as store:
        assert_store_matches_disk(store, tmp_path, {"r": root})
        subprocess.run(["cp", "-r", str(tree), str(root / "copied")], check=True)
        assert_store_matches_disk(store, tmp_path, {"r": root})


@pytest.mark.integration
def test_a_file_written_slowly_is_ingested_once_complete(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    root = make_repo("r", {"keep.js.ast.json": ast()})
    data = ast(40)
    chunks = [data[i : i + len(data) // 8 + 1] for i in range(0, len(data), len(data) // 8 + 1)]
    with watching(watch_settings(tmp_path, {"r": root})) as store:
        assert_store_matches_disk(store, tmp_path, {"r": root})
        runs_before = store.query("SELECT count(*) FROM runs")[0][0]
        with (root / "slow.js.ast.json").open("wb") as f:
            for chunk in chunks:  # over two seconds
                f.write(chunk)
                f.flush()
                time.sleep(2.0 / len(chunks))
            rows = store.query("SELECT count(*) FROM ast_files WHERE path = 'slow.js.ast.json'")
            assert rows == [(0,)]  # not touched while it is open
            assert store.query("SELECT count(*) FROM runs")[0][0] == runs_before  # nothing yet
        assert_store_matches_disk(store, tmp_path, {"r": root})
        runs = store.query("SELECT summary FROM runs ORDER BY started_at")[runs_before:]
        summaries = [orjson.loads(s) for (s,) in runs]
        assert [(s["new"], s["extracted"], s["quarantined"]) for s in summaries] == [(1, 1, 0)]


# -- the real process: SIGSTOP, SIGKILL, a second watcher -------------------------------------


def write_config(tmp_path: Path, repos: dict[str, Path]) -> Path:
    lines = [f'store = "{tmp_path / "store" / "watched.duckdb"}"', "workers = 1"]
    for slug, root in repos.items():
        lines += ["[[repos]]", f'name = "{slug}"', f'path = "{root}"']
    lines += ["[watch]", "settle_s = 0.05", "heartbeat_s = 0.5", "self_check_s = 2",
              "self_check_timeout_s = 3"]  # fmt: skip
    config = tmp_path / "snake_pipe.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


@contextmanager
def watch_process(config: Path, log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "snake_pipe_core.cli", "--config", str(config), "watch", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def burst(root: Path, n: int, *, tag: str, folders: int = 40, pause: float = 0.0) -> None:
    data = ast(1)
    for i in range(n):
        write(root / f"{tag}{i % folders}" / f"f{i}.js.ast.json", data)
        if pause:
            time.sleep(pause)


@pytest.mark.integration
@pytest.mark.slow
def test_twenty_thousand_files_while_the_watcher_is_stopped(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    root = make_repo("r")
    repos = {"r": root}
    config = write_config(tmp_path, repos)
    log = tmp_path / "watch.log"
    store = Store(tmp_path / "store" / "watched.duckdb")
    for i in range(40):
        (root / f"stopped{i}").mkdir()
    with watch_process(config, log, "--ingest") as proc:
        assert_store_matches_disk(store, tmp_path, repos)
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            # 2 events a file (create, close-write) in watched folders: the kernel queue
            # (fs.inotify.max_queued_events, 16384 by default) overflows
            burst(root, 20_000, tag="stopped")
            # made once the queue is full: the event that would get them a watch is lost
            burst(root, 50, tag="blind", folders=5)
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        assert_store_matches_disk(store, tmp_path, repos, timeout=240)
        # the folders made while it was blind are watched now
        write(root / "blind3" / "after.js.ast.json", ast(3))
        assert_store_matches_disk(store, tmp_path, repos)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert "queue overflow" in log.read_text()


@pytest.mark.integration
@pytest.mark.slow
def test_a_watcher_killed_during_a_burst_catches_up_when_restarted(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    root = make_repo("r")
    repos = {"r": root}
    config = write_config(tmp_path, repos)
    log = tmp_path / "watch.log"
    store = Store(tmp_path / "store" / "watched.duckdb")
    writer = threading.Thread(target=burst, args=(root, 3000), kwargs={"tag": "b", "pause": 0.001})
    with watch_process(config, log, "--ingest") as proc:
        assert_store_matches_disk(store, tmp_path, repos)
        writer.start()
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert writer.is_alive(), "the burst ended before the kill"
    writer.join()
    with watch_process(config, log, "--ingest") as proc:
        assert_store_matches_disk(store, tmp_path, repos, timeout=120)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


@pytest.mark.integration
def test_one_watcher_per_journal_and_a_clean_stop(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo("r")
    config = write_config(tmp_path, {"r": root})
    journal_path = load_settings(config, env={}).journal_path
    with watch_process(config, tmp_path / "first.log") as first:
        assert wait_for(lambda: journal_path.exists() and _status(journal_path) is not None)
        second = subprocess.run(
            [sys.executable, "-m", "snake_pipe_core.cli", "--config", str(config), "watch"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 4
        assert f"pid {first.pid}" in second.stderr and "already runs" in second.stderr
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
    assert _status(journal_path) is None  # a clean stop clears the heartbeat


@pytest.mark.integration
def test_sigusr1_writes_every_threads_stack_and_the_watcher_goes_on(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    root = make_repo("r")
    config = write_config(tmp_path, {"r": root})
    log = tmp_path / "watch.log"
    with watch_process(config, log, "--ingest") as proc:
        # once the first run (the start's rescan) is done: a change later is a change of its own
        assert wait_for(lambda: "succeeded" in log.read_text(errors="replace"), timeout=60)
        proc.send_signal(signal.SIGUSR1)
        assert wait_for(lambda: "_listen_to_mounts" in log.read_text(errors="replace"))
        text = log.read_text(errors="replace")
        assert text.count("most recent call first") >= 3  # the watcher's threads, not one
        assert "run_ingest_loop" in text  # the --ingest thread too
        write(root / "after" / "a.js.ast.json", ast(1))
        assert wait_for(lambda: "#2-2: 1 path(s) → 1 extracted" in log.read_text(errors="replace"))
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


@pytest.mark.integration
def test_spawn_watcher_starts_a_detached_watcher(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo("r")
    settings = load_settings(write_config(tmp_path, {"r": root}), env={})
    proc = spawn_watcher(settings)
    try:
        assert wait_for(lambda: _status(settings.journal_path) is not None)
        assert os.getsid(proc.pid) == proc.pid  # its own session: a reload does not kill it
        proc.send_signal(signal.SIGTERM)
        assert wait_for(lambda: proc.poll() is not None)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "watching 1 repositories" in settings.journal_path.with_suffix(".log").read_text()


@pytest.mark.unit
def test_watch_without_repositories_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from snake_pipe_core.cli import main

    assert main(["watch"]) == 2
    assert "no repository to watch" in capsys.readouterr().err


def _status(path: Path) -> object:
    with ChangeJournal(path) as j:
        return j.watcher_status()


@pytest.mark.integration
def test_watch_ingest_refuses_a_journal_another_consumer_applies(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    make_repo("one")
    cfg = tmp_path / "sp.toml"
    cfg.write_text('store = "s.duckdb"\nrepo_roots = ["repos"]\n')
    journal = load_settings(cfg, env={}).journal_path
    journal.parent.mkdir(parents=True)
    ChangeJournal(journal).claim_consumer("dagster:ast_change_sensor")
    out = subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", "--config", str(cfg), "watch", "--ingest"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 4
    assert "dagster:ast_change_sensor (pid" in out.stderr and "applies the journal" in out.stderr


@pytest.mark.integration
def test_watch_status_and_stop(make_repo: MakeRepo, tmp_path: Path) -> None:
    make_repo("one")
    cfg = tmp_path / "sp.toml"
    cfg.write_text('store = "s.duckdb"\nrepo_roots = ["repos"]\n')
    cli = [sys.executable, "-m", "snake_pipe_core.cli", "--config", str(cfg), "watch"]
    status = json.loads(subprocess.run([*cli, "--status", "--json"], capture_output=True,
                                       text=True, check=True).stdout)  # fmt: skip
    assert status["watcher"] is None
    watcher = subprocess.Popen(cli, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out = subprocess.run([*cli, "--status", "--json"], capture_output=True, text=True)
            if json.loads(out.stdout)["watcher"]:
                break
            time.sleep(0.2)
        info = json.loads(out.stdout)["watcher"]
        assert info["pid"] == watcher.pid and not info["stale"]
        stop = subprocess.run([*cli, "--stop"], capture_output=True, text=True, timeout=30)
        assert stop.returncode == 0 and f"stopping watcher {watcher.pid}" in stop.stdout
        assert watcher.wait(timeout=30) == 0  # a clean stop
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert "no watcher runs" in subprocess.run([*cli, "--status"], capture_output=True,
                                               text=True).stdout  # fmt: skip
