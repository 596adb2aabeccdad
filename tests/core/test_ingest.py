"""Ingest on real files and a real DuckDB file: states, reasons, incremental behaviour."""

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from snake_pipe_core import (
    MassDeletionRefused,
    RepositoryUnavailable,
    Settings,
    Store,
    ingest_repository,
    load_settings,
)
from tests.conftest import MakeRepo
from tests.fixtures import asts

pytestmark = pytest.mark.integration


def files_view(store: Store, repo: str = "repo") -> dict[str, tuple[Any, ...]]:
    rows = store.query(
        "SELECT path, state, reason, language, format FROM ast_files WHERE repo = ?", [repo]
    )
    return {r[0]: r[1:] for r in rows}


def ingest(root: Path, store: Store, settings: Settings, **kw: Any) -> Any:
    return ingest_repository(root, store=store, settings=settings, **kw)


def test_mixed_repository_every_format(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo()
    s = ingest(root, store, settings)
    assert (s.discovered, s.extracted, s.quarantined, s.excluded) == (8, 7, 0, 1)
    view = files_view(store)
    assert view["package.json"] == ("excluded", "non-ast-json:package.json", None, None)
    assert view["src/app.js.ast.json"] == ("extracted", None, "javascript", "estree")
    assert view["src/lib/util.js.ast.json"][3] == "babel"
    assert view["src/types.ts.ast.json"][2:] == ("typescript", "estree")
    assert view["native/main.c.ast.json"][2:] == ("c", "clang")
    assert view["py/pkg/mod.py.ast.json"][2:] == ("python", "python-ast")
    assert view["go/cmd/main.go.ast.json"][2:] == ("go", "tree-sitter")
    assert view["rust/src/lib.rs.ast.json"][2:] == ("rust", "tree-sitter")
    rows = store.query_dicts("SELECT * FROM extracted_files WHERE path = 'src/app.js.ast.json'")
    assert rows[0]["function_count"] == 2 and rows[0]["node_count"] > 10


BAD = {
    "empty.json": b"",
    "truncated.js.ast.json": b'{"type": "Program", "body": [{"type": "Expr',
    "array.json": b"[1, 2]",
    "unknown.json": b'{"foo": 1}',
    "latin1.js.ast.json": b'{"type": "Program", "body": [], "x": "caf\xe9"}',
    "schema.py.ast.json": b'{"language": "python", "parser": "cpython"}',
    "badkids.go.ast.json": json.dumps(
        {
            "language": "go",
            "parser": {"name": "tree-sitter"},
            "ast": {"type": "source_file", "children": [{"type": 3}]},
        }
    ).encode(),
    "deep.json": b"[" * 100_000 + b"]" * 100_000,
    "big.js.ast.json": json.dumps(asts.estree(2000)).encode(),
}
EXPECTED_REASONS = {
    "empty.json": "empty",
    "truncated.js.ast.json": "invalid_json",
    "array.json": "not_object",
    "unknown.json": "unknown_format",
    "latin1.js.ast.json": "encoding",
    "schema.py.ast.json": "schema",
    "badkids.go.ast.json": "schema",
    "deep.json": "too_deep",
    "big.js.ast.json": "too_large",
}


def test_every_content_reason_is_quarantined_with_detail(make_repo: MakeRepo, store: Store) -> None:
    root = make_repo(files=BAD)
    settings = load_settings(env={}, store=store.path, workers=1, limits={"max_file_mb": 0.5})
    s = ingest(root, store, settings)
    assert s.quarantined == len(BAD) and s.extracted == 0
    rows = store.query_dicts("SELECT path, reason, detail, attempts FROM quarantined_files")
    got = {r["path"]: r["reason"] for r in rows}
    assert got == EXPECTED_REASONS
    details = {r["path"]: r["detail"] for r in rows}
    assert "line 1 column" in details["truncated.js.ast.json"]
    assert "0xe9" in details["latin1.js.ast.json"]
    assert "parser" in details["schema.py.ast.json"]
    assert "MiB limit" in details["big.js.ast.json"]
    assert all(r["attempts"] == 1 for r in rows)


def test_filesystem_reasons(
    make_repo: MakeRepo, store: Store, settings: Settings, tmp_path: Path
) -> None:
    root = make_repo(files={"ok.js.ast.json": asts.dumps(asts.estree())})
    outside = tmp_path / "outside.js.ast.json"
    outside.write_bytes(asts.dumps(asts.estree()))
    (root / "loop_a.json").symlink_to("loop_b.json")
    (root / "loop_b.json").symlink_to("loop_a.json")
    (root / "dangling.json").symlink_to("nowhere.json")
    (root / "escape.json").symlink_to(outside)
    (root / "inside.js.ast.json").symlink_to("ok.js.ast.json")
    (root / "linkdir.json").symlink_to(root)
    os.mkfifo(root / "pipe.json")
    s = ingest(root, store, settings)
    view = files_view(store)
    assert view["loop_a.json"][:2] == ("quarantined", "symlink_loop")
    assert view["dangling.json"][:2] == ("quarantined", "dangling_symlink")
    assert view["escape.json"][:2] == ("quarantined", "outside_root")
    assert view["pipe.json"][:2] == ("quarantined", "not_regular_file")
    assert view["inside.js.ast.json"][0] == "extracted"  # a link inside the root is read
    assert view["linkdir.json"][:2] == ("excluded", "symlink-to-directory")  # never followed
    assert s.discovered == len(view)


def test_unreadable_file_is_quarantined(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    """Root reads everything, so the analysis runs in a child that dropped its privileges."""
    root = make_repo(files={"secret.js.ast.json": asts.dumps(asts.estree())})
    (root / "secret.js.ast.json").chmod(0)
    from snake_pipe_core.analysis import AnalysisSettings, Analyzer, WorkItem

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            if os.getuid() == 0:
                os.setuid(65534)
            v = Analyzer(AnalysisSettings()).analyze_file(
                str(root), WorkItem("secret.js.ast.json", 1)
            )
            os.write(w, f"{v.reason}|{v.detail}".encode())
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    reason, detail = os.read(r, 1000).decode().split("|", 1)
    assert reason == "unreadable" and "ermission" in detail


HOSTILE = ["with space.js.ast.json", "new\nline.js.ast.json", "quo\"te's.js.ast.json"]


def test_hostile_names(make_repo: MakeRepo, store: Store, settings: Settings) -> None:
    root = make_repo(files={name: asts.dumps(asts.estree()) for name in HOSTILE})
    raw = os.path.join(os.fsencode(root), b"caf\xe9.js.ast.json")
    with open(raw, "wb") as f:
        f.write(asts.dumps(asts.estree()))
    s = ingest(root, store, settings)
    assert s.extracted == 4
    view = files_view(store)
    assert set(view) == {*HOSTILE, "caf\\xe9.js.ast.json"}
    assert all(v[0] == "extracted" for v in view.values())
    again = ingest(root, store, settings)
    assert (again.unchanged, again.analysed, again.deleted) == (4, 0, 0)
    os.remove(raw)
    assert ingest(root, store, settings).deleted == 1
    assert files_view(store)["caf\\xe9.js.ast.json"][0] == "deleted"


def test_rerun_reads_nothing_and_changes_are_picked_up(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo()
    first = ingest(root, store, settings)
    again = ingest(root, store, settings)
    assert (again.unchanged, again.analysed, again.bytes_read) == (8, 0, 0)
    assert again.discovered == first.discovered  # the walk's own count of unchanged files

    (root / "src/app.js.ast.json").write_bytes(asts.dumps(asts.estree(5)))
    (root / "go/cmd/main.go.ast.json").unlink()
    (root / "src/new.js.ast.json").write_bytes(asts.dumps(asts.estree(1)))
    s = ingest(root, store, settings)
    assert (s.new, s.changed, s.deleted, s.extracted) == (1, 1, 1, 2)
    assert (s.discovered, s.unchanged) == (first.discovered, first.discovered - 2)
    view = files_view(store)
    assert view["go/cmd/main.go.ast.json"][0] == "deleted"
    fc = store.query(
        "SELECT function_count FROM extracted_files WHERE path = 'src/app.js.ast.json'"
    )
    assert fc == [(5,)]
    # a deleted file that comes back is extracted again
    (root / "go/cmd/main.go.ast.json").write_bytes(asts.dumps(asts.tree_sitter("go")))
    assert ingest(root, store, settings).new == 1  # new again to the live manifest
    assert files_view(store)["go/cmd/main.go.ast.json"][0] == "extracted"


def test_fixed_file_leaves_quarantine(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo(files={"a.js.ast.json": b'{"type": "Program", "body": ['})
    ingest(root, store, settings)
    assert store.query("SELECT reason FROM quarantined_files") == [("invalid_json",)]
    ingest(root, store, settings)  # unchanged: stays, not retried
    assert store.query("SELECT attempts FROM quarantined_files") == [(1,)]
    (root / "a.js.ast.json").write_bytes(asts.dumps(asts.estree()))
    ingest(root, store, settings)
    assert store.query("SELECT count(*) FROM quarantined_files") == [(0,)]
    assert store.query("SELECT state, attempts FROM manifest") == [("extracted", None)]
    assert files_view(store)["a.js.ast.json"][0] == "extracted"


def test_touched_file_with_same_content_is_not_parsed_again(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo()
    ingest(root, store, settings)
    os.utime(root / "src/app.js.ast.json", ns=(1, 1))
    s = ingest(root, store, settings)
    assert (s.changed, s.reused, s.extracted) == (1, 1, 1)


def test_identical_content_shares_one_metadata_row(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    doc = asts.dumps(asts.ts_estree())
    one = make_repo("one", {"x.d.ts.ast.json": doc, "x.d.cts.ast.json": doc})
    two = make_repo("two", {"copy/x.d.ts.ast.json": doc})
    ingest(one, store, settings, repo="one")
    s = ingest(two, store, settings, repo="two")
    assert s.reused == 1
    assert store.query("SELECT count(*) FROM ast_metadata") == [(1,)]
    assert store.query("SELECT count(*) FROM extracted_files") == [(3,)]


def test_missing_root_fails_and_changes_nothing(
    make_repo: MakeRepo, store: Store, settings: Settings, tmp_path: Path
) -> None:
    root = make_repo()
    ingest(root, store, settings)
    before = store.query("SELECT * FROM manifest ORDER BY path")
    runs = store.query("SELECT count(*) FROM runs")
    shutil.rmtree(root)
    with pytest.raises(RepositoryUnavailable, match="does not exist"):
        ingest(root, store, settings, repo="repo")
    assert store.query("SELECT * FROM manifest ORDER BY path") == before
    assert store.query("SELECT count(*) FROM runs") == runs


def test_empty_mount_point_refuses_mass_deletion(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    files = {f"src/f{i}.js.ast.json": asts.dumps(asts.estree(1)) for i in range(30)}
    root = make_repo(files=files)
    ingest(root, store, settings)
    shutil.rmtree(root)
    root.mkdir()  # what an unmounted mount point looks like
    with pytest.raises(MassDeletionRefused, match="--allow-mass-delete"):
        ingest(root, store, settings)
    assert store.query("SELECT count(*) FROM ast_files WHERE state = 'extracted'") == [(30,)]
    assert store.query("SELECT status FROM runs ORDER BY started_at DESC LIMIT 1") == [("failed",)]
    s = ingest(root, store, settings, allow_mass_delete=True)
    assert s.deleted == 30


def test_full_mode_rereads_everything(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo()
    ingest(root, store, settings)
    s = ingest(root, store, settings, mode="full")
    # nothing changed on disk, every AST file is read again; package.json stays excluded
    assert (s.unchanged, s.changed, s.analysed, s.reused, s.excluded) == (8, 0, 7, 0, 0)


def test_a_runs_totals_are_what_the_manifest_view_counts(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    """Each run's totals by state (counted from ``file_versions`` by an aggregate, not through
    the view) equal the manifest view's, through new, changed, quarantined, excluded, deleted,
    come-back and released files."""
    root = make_repo()
    in_view = "SELECT state, count(*) FROM manifest WHERE repo = 'repo' GROUP BY 1"

    def check(s: Any) -> None:
        assert s.totals == dict(store.query(in_view))

    check(ingest(root, store, settings))
    (root / "src/app.js.ast.json").write_bytes(b"{broken")
    (root / "src/new.js.ast.json").write_bytes(asts.dumps(asts.estree(2)))
    gone = (root / "py/pkg/mod.py.ast.json").read_bytes()
    (root / "py/pkg/mod.py.ast.json").unlink()
    s = ingest(root, store, settings)
    check(s)
    assert s.totals["deleted"] == 1 and s.totals["quarantined"] >= 1
    (root / "py/pkg/mod.py.ast.json").write_bytes(gone)  # back, with the same content
    check(ingest(root, store, settings, paths=["py"]))
    assert store.release("repo", ["src/app.js.ast.json"]) == 1
    check(ingest(root, store, settings, mode="full"))


def test_paths_mode_touches_only_the_given_paths(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo()
    ingest(root, store, settings)
    (root / "src/app.js.ast.json").write_bytes(asts.dumps(asts.estree(3)))
    (root / "native/main.c.ast.json").write_bytes(b"broken")  # not reported: not looked at
    shutil.rmtree(root / "py")
    s = ingest(root, store, settings, paths=["src/app.js.ast.json", "py"])
    assert (s.discovered, s.changed, s.deleted) == (1, 1, 1)
    view = files_view(store)
    assert view["py/pkg/mod.py.ast.json"][0] == "deleted"
    assert view["native/main.c.ast.json"][0] == "extracted"


def test_paths_nested_in_other_paths_are_walked_once(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo()
    ingest(root, store, settings)
    (root / "src/app.js.ast.json").write_bytes(asts.dumps(asts.estree(4)))
    s = ingest(root, store, settings, paths=["src", "src/app.js.ast.json", "./src/lib", "src-x"])
    assert (s.discovered, s.changed, s.unchanged) == (3, 1, 2)


def test_paths_with_names_that_are_not_utf8(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    root = make_repo(files={"ok.js.ast.json": asts.dumps(asts.estree())})
    raw = os.path.join(os.fsencode(root), b"caf\xe9.js.ast.json")
    with open(raw, "wb") as f:
        f.write(asts.dumps(asts.estree()))
    ingest(root, store, settings)
    name = os.fsdecode(b"caf\xe9.js.ast.json")
    with open(raw, "wb") as f:
        f.write(b"{")
    s = ingest(root, store, settings, paths=[name])
    assert (s.discovered, s.changed, s.quarantined) == (1, 1, 1)
    os.remove(raw)
    assert ingest(root, store, settings, paths=[name]).deleted == 1
    assert files_view(store)["caf\\xe9.js.ast.json"][0] == "deleted"
    assert files_view(store)["ok.js.ast.json"][0] == "extracted"


def test_worker_pool_gives_the_same_results_as_inline(make_repo: MakeRepo, tmp_path: Path) -> None:
    files = {f"d{i % 7}/f{i}.js.ast.json": asts.dumps(asts.estree(i % 5)) for i in range(150)}
    files.update({f"bad{i}.json": b"[" for i in range(5)})
    root = make_repo(files=files)
    results = []
    for workers in (1, 2):
        store = Store(tmp_path / f"w{workers}.duckdb")
        settings = load_settings(env={}, store=store.path, workers=workers)
        s = ingest(root, store, settings)
        assert (s.extracted, s.quarantined) == (150, 5)
        results.append(
            store.query("SELECT path, state, reason, content_hash, node_count FROM ast_files "
                        "LEFT JOIN extracted_files USING (repo, path, content_hash) ORDER BY path")
        )  # fmt: skip
    assert results[0] == results[1]


def test_views_have_the_documented_columns(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    ingest(make_repo(), store, settings)
    documented = {
        "ast_files": ["repo", "path", "state", "reason", "size_bytes", "mtime_ns",
                      "content_hash", "language", "format"],
        "extracted_files": ["repo", "path", "content_hash", "language", "format", "parser_name",
                            "parser_version", "node_count", "max_depth", "function_count",
                            "class_count", "import_count", "branch_count"],
        "quarantined_files": ["repo", "path", "reason", "detail", "first_seen", "attempts"],
    }  # fmt: skip
    for view, columns in documented.items():
        rows = store.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [view],
        )
        assert [r[0] for r in rows][: len(columns)] == columns


def test_a_span_beyond_the_stores_integers_is_no_span(
    make_repo: MakeRepo, store: Store, settings: Settings
) -> None:
    """A line number past two billion (a corrupt or hostile tree) once failed the whole batch
    at the store's INTEGER column; now that file has no span and the run goes on."""
    huge = {"type": "Program", "body": [],
            "loc": {"start": {"line": 5_000_000_000}, "end": {"line": -(2**40)}}}  # fmt: skip
    fine = {"type": "Program", "body": [], "loc": {"start": {"line": 1}, "end": {"line": 2}}}
    root = make_repo("repo", {"huge.js.ast.json": json.dumps(huge).encode(),
                              "fine.js.ast.json": json.dumps(fine).encode()})  # fmt: skip
    s = ingest(root, store, settings)
    assert (s.extracted, s.quarantined) == (2, 0)
    rows = store.query(
        "SELECT path, span_start_line, span_end_line FROM extracted_files ORDER BY path"
    )
    assert rows == [("fine.js.ast.json", 1, 2), ("huge.js.ast.json", None, None)]


@pytest.mark.parametrize("folders", [3, 70])  # prefixes as literals, and as a joined table
def test_runs_of_many_paths_see_the_manifest_under_each(
    make_repo: MakeRepo, store: Store, settings: Settings, folders: int
) -> None:
    files = {f"d{i}/{n}.{ext}.ast.json": asts.dumps(asts.estree(1 + i % 3))
             for i in range(80) for n, ext in (("a", "js"), ("b", "ts"))}  # fmt: skip
    files["d_x/%odd_.js.ast.json"] = asts.dumps(asts.estree(2))  # LIKE's wildcards: literal
    root = make_repo("repo", files)
    first = ingest(root, store, settings)
    assert first.languages == {"javascript": 81, "typescript": 80}
    touched = [f"d{i}" for i in range(folders)]
    for folder in touched:
        (root / folder / "a.js.ast.json").write_bytes(asts.dumps(asts.estree(9)))
    (root / "d1" / "b.ts.ast.json").unlink()
    (root / "d79" / "b.ts.ast.json").unlink()  # not among the paths: not looked at
    s = ingest(root, store, settings, paths=[*touched, "d_"])
    assert (s.discovered, s.changed, s.unchanged, s.deleted) == (
        2 * folders - 1,
        folders,
        folders - 1,
        1,
    )
    assert s.languages == {"javascript": folders}
    in_view = store.query(
        "SELECT language, count(*) FROM ast_files WHERE run_id = ? AND state = 'extracted' "
        "GROUP BY 1", [s.run_id]
    )  # fmt: skip
    assert dict(in_view) == s.languages
    view = files_view(store)
    assert view["d1/b.ts.ast.json"][0] == "deleted" and view["d79/b.ts.ast.json"][0] == "extracted"
    assert view["d_x/%odd_.js.ast.json"][0] == "extracted"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_runs_languages_are_what_ast_files_says_of_its_files(
    make_repo: MakeRepo, store: Store, workers: int
) -> None:
    """The run counts its files' languages as they are analysed (declared by the envelope,
    else the name's, else the format's) and asks the store only about the files whose content
    was analysed before; the counts equal the ``ast_files`` view's for the run, every time."""
    settings = load_settings(env={}, workers=workers)
    files = {
        **{f"js/f{i}.js.ast.json": asts.dumps(asts.estree(1 + i % 5)) for i in range(90)},
        **{f"ts/f{i}.ts.ast.json": asts.dumps(asts.ts_estree() | {"n": i}) for i in range(40)},
        **{f"py/m{i}.ast.json": asts.dumps(asts.python_envelope()) for i in range(5)},  # declared
        **{f"go/g{i}.ast.json": asts.dumps(asts.tree_sitter("go", 2 + i)) for i in range(5)},
        "c/x.h.c.ast.json": asts.dumps(asts.clang()),
        "bad/broken.js.ast.json": b"{",
    }
    root = make_repo("repo", files)

    def check(s: Any) -> None:
        in_view = store.query(
            "SELECT language, count(*) FROM ast_files WHERE run_id = ? AND state = 'extracted' "
            "GROUP BY 1", [s.run_id]
        )  # fmt: skip
        assert s.languages == dict(in_view)

    first = ingest(root, store, settings)
    assert first.quarantined == 1 and first.reused == 0
    check(first)
    # Contents analysed before, under new paths and names (their language is the store's)
    # and touched in place; and new contents beside them.
    (root / "copies").mkdir()
    for i in range(20):
        shutil.copy(root / f"js/f{i}.js.ast.json", root / f"copies/c{i}.ts.ast.json")
    shutil.copy(root / "py/m0.ast.json", root / "copies/m.rs.ast.json")
    os.utime(root / "ts/f3.ts.ast.json", ns=(1, 1))
    (root / "js/new.js.ast.json").write_bytes(asts.dumps(asts.estree(7) | {"new": 1}))
    second = ingest(root, store, settings)
    assert second.reused == 22 and second.extracted == 23
    check(second)
